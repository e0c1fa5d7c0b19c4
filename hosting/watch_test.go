package hosting

import (
	"os"
	"path/filepath"
	"testing"
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
			w := watchFiles(map[string]fileState{p: statFile(p), env: statFile(env)}, tc.poll, zerolog.Nop(), inotify)
			defer w.Close()
			tc.change(p)
			select {
			case got := <-w.Changed:
				if got != p {
					t.Fatalf("changed %s, want %s", got, p)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no change reported")
			}
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
	read := statFile(env)
	os.WriteFile(env, []byte("GREETING=v2\n"), 0o644)
	w := newWatcher(map[string]fileState{env: read}, time.Hour, zerolog.Nop())
	defer w.Close()
	select {
	case got := <-w.Changed:
		if got != env {
			t.Fatalf("changed %s, want %s", got, env)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a change made before the watch began was missed")
	}
}
