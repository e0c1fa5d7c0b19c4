package reload

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testBinary is a real program for this machine: the test binary itself.
func testBinary(t testing.TB) []byte {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckExecutable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF checks are for Linux hosts")
	}
	good := testBinary(t)
	otherArch := bytes.Clone(good)
	binary.LittleEndian.PutUint16(otherArch[18:], 183) // arm64
	if runtime.GOARCH == "arm64" {
		binary.LittleEndian.PutUint16(otherArch[18:], 62)
	}
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    string // in the error; "" for none
	}{
		{"complete program", good, 0o755, ""},
		{"not executable", good, 0o644, "is not executable (chmod 755 it)"},
		{"half uploaded", good[:len(good)/2], 0o755, "is cut short"},
		{"last byte missing", good[:len(good)-1], 0o755, "is cut short"},
		{"headers only", good[:64], 0o755, "is cut short"},
		{"a few bytes", good[:20], 0o755, "is not a complete Linux program"},
		{"empty", nil, 0o755, "is not a complete Linux program"},
		{"a script", []byte("#!/bin/sh\necho hi\n"), 0o755, "is not a complete Linux program"},
		// FTP in ASCII mode from Windows turns CR LF into LF.
		{"ASCII-mode upload", bytes.ReplaceAll(good, []byte("\r\n"), []byte("\n")), 0o755, "upload unfinished"},
		{"other machine", otherArch, 0o755, "is built for "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "mysite.fcgi")
			if err := os.WriteFile(p, tc.content, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := CheckExecutable(p)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckExecutable: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckExecutable = %v, want an error with %q", err, tc.want)
			case err != nil && !strings.HasPrefix(err.Error(), p+" "):
				t.Fatalf("error %q does not name the file first", err)
			}
		})
	}
}

// Every cut of a real program is refused: what the watcher relies on while
// an upload is still arriving.
func TestCheckELF_EveryCutRefused(t *testing.T) {
	good := testBinary(t)
	step := max(1, len(good)/4000)
	for n := 0; n < len(good); n += step {
		if err := checkELF(bytes.NewReader(good[:n]), int64(n), runtime.GOARCH); err == nil {
			t.Fatalf("the first %d of %d bytes passed as a complete program", n, len(good))
		}
	}
}

func FuzzCheckELF(f *testing.F) {
	good := testBinary(f)
	f.Add(good[:4096])
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Refusing is fine; crashing or reading past the input is not.
		checkELF(bytes.NewReader(b), int64(len(b)), runtime.GOARCH)
	})
}
