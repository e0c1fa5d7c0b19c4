package logfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogFile_Rotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mysite.log")
	l, err := Open(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	line := strings.Repeat("x", 99) + "\n"
	for range 60 { // 6000 bytes: several rotations
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"mysite.log", "mysite.log.1", "mysite.log.2", "mysite.log.3"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Size() > 1100 {
			t.Errorf("%s is %d bytes, over the 1000-byte cap", name, fi.Size())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mysite.log.4")); err == nil {
		t.Error("more than 3 old logs kept")
	}
}

// Another process of the same site rotated the file: the writer notices
// and writes to the new file rather than the renamed one.
func TestLogFile_FollowsRotationByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mysite.log")
	l, err := Open(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("before\n"))
	os.Rename(path, path+".1")
	os.WriteFile(path, nil, 0o644)
	for range 700 { // past the 64 KiB between checks
		l.Write([]byte(strings.Repeat("y", 99) + "\n"))
	}
	l.Write([]byte("after\n"))
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "after") {
		t.Error("still writing to the renamed file")
	}
}

func TestLogFile_Unwritable(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir.log"), 0); err == nil {
		t.Fatal("opened a log in a missing directory")
	}
}

// A full disk loses log lines, never requests, and says so: once on
// stderr, and with the count in the log once it can be written again.
func TestLogFile_DiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site.log")
	l, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	good := l.f
	l.f = full
	for range 3 {
		if n, err := l.Write([]byte("{}\n")); n != 3 || err != nil {
			t.Fatalf("Write on a full disk: %d, %v; want the caller to go on", n, err)
		}
	}
	full.Close()
	l.f = good
	l.Write([]byte(`{"message":"back"}` + "\n"))
	b, _ := os.ReadFile(path)
	if want := `{"level":"warn","lost_lines":3,"message":"log lines lost while the log file could not be written"}` + "\n" +
		`{"message":"back"}` + "\n"; string(b) != want {
		t.Errorf("log after the disk had room again:\n%s\nwant:\n%s", b, want)
	}
}
