package reload

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

func TestWatcher(t *testing.T) {
	tests := []struct {
		name   string
		poll   time.Duration
		change func(path string)
	}{
		{"touch", time.Hour, func(p string) { now := time.Now(); os.Chtimes(p, now, now) }},
		{"rewrite same size", time.Hour, func(p string) { os.WriteFile(p, []byte("v2"), 0o644) }},
		{"rename over", time.Hour, func(p string) { os.WriteFile(p+".tmp", []byte("v1"), 0o644); os.Rename(p+".tmp", p) }},
		{"delete", time.Hour, func(p string) { os.Remove(p) }},
		// Polling alone, as on NFS where inotify sees nothing.
		{"touch seen by polling", 100 * time.Millisecond, func(p string) { now := time.Now().Add(time.Second); os.Chtimes(p, now, now) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "mysite.fcgi")
			os.WriteFile(p, []byte("v1"), 0o644)
			old := time.Now().Add(-time.Hour)
			os.Chtimes(p, old, old)
			env := filepath.Join(dir, "mysite.env")
			inotify := tc.poll >= time.Hour
			w := watchFiles(map[string]FileState{p: StatFile(p), env: StatFile(env)}, tc.poll, zerolog.Nop(), inotify)
			defer w.Close()
			tc.change(p)
			waitChanged(t, w, p, "no change reported")
		})
	}
}

// A file changed between reading it and starting the watch (the env file
// edited while the process re-executes) is reported, not missed.
func TestWatcher_ChangeBeforeStart(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "mysite.env")
	os.WriteFile(env, []byte("GREETING=v1\n"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(env, old, old)
	read := StatFile(env)
	os.WriteFile(env, []byte("GREETING=v2\n"), 0o644)
	w := NewWatcher(map[string]FileState{env: read}, time.Hour, zerolog.Nop())
	defer w.Close()
	waitChanged(t, w, env, "a change made before the watch began was missed")
}

// A file still being written (an FTP upload) is reported only once it has
// stayed the same for settleTime. Polling only, in a bubble: its clock
// moves when the watcher waits, so "not yet" is exact, whatever the
// machine's speed.
func TestWatcher_Settles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "mysite.fcgi")
		os.WriteFile(p, []byte("v1"), 0o644)
		const poll = 100 * time.Millisecond
		w := watchFiles(map[string]FileState{p: StatFile(p)}, poll, zerolog.Nop(), false)
		defer w.Close()
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := range 5 { // 2.5 settle times of writing, never a settle time still
			f.WriteString("more")
			time.Sleep(settleTime / 2)
			synctest.Wait()
			select {
			case <-w.Changed:
				t.Fatalf("reported %v into the upload, while it is being written", time.Duration(i+1)*settleTime/2)
			default:
			}
		}
		time.Sleep(settleTime/2 - time.Nanosecond) // settleTime after the last write, less a tick of the clock
		synctest.Wait()
		select {
		case <-w.Changed:
			t.Fatal("reported before it stayed the same for settleTime")
		default:
		}
		time.Sleep(2*poll + time.Nanosecond) // a poll to see the last write, one to see it settled
		synctest.Wait()
		select {
		case got := <-w.Changed:
			if got != p {
				t.Fatalf("changed %s, want %s", got, p)
			}
		default:
			t.Fatalf("not reported %v after the last write", settleTime+2*poll)
		}
	})
}

// waitChanged waits for w to report want, failing with missed if it does not.
func waitChanged(t *testing.T, w *Watcher, want, missed string) {
	t.Helper()
	select {
	case got := <-w.Changed:
		if got != want {
			t.Fatalf("changed %s, want %s", got, want)
		}
	case <-time.After(30 * time.Second): // bounds a hang only
		t.Fatal(missed)
	}
}
