package sitecheck

import (
	"archive/zip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// The Makefile's own recipes, run on a copy of what they read with a go
// that only writes its -o file (building is not what is checked, and
// would take minutes): `make site` lays out mysite.dev.env beside
// mysite.env for the local emulation, and `make dist`'s folders and zips,
// what users upload, never hold it, and say DEBUG=false.
func TestMakeDistLeavesDevSettingsBehind(t *testing.T) {
	makeBin := testenv.Require(t, "make", "make")
	testenv.Require(t, "zip", "zip")
	dir := t.TempDir()
	for _, src := range []string{"Makefile", "deploy/apache-fcgid/htaccess", "examples/guestbook/UPLOAD.txt", "examples/guestbook/site"} {
		copyTree(t, filepath.Join("../..", src), filepath.Join(dir, src))
	}
	if _, err := os.Stat(filepath.Join(dir, "examples/guestbook/site/mysite.dev.env")); err != nil {
		t.Fatalf("examples/guestbook/site has no development settings to leave behind: %v", err)
	}
	fakeGo := filepath.Join(dir, "fakego")
	os.WriteFile(fakeGo, []byte("#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -o ] && : > \"$2\"; shift; done\n"), 0o755)
	cmd := exec.Command(makeBin, "site", "dist", "GO="+fakeGo)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make site dist: %v\n%s", err, out)
	}

	if b, err := os.ReadFile(filepath.Join(dir, "build/site/mysite.dev.env")); err != nil || !strings.Contains(string(b), "\nDEBUG=true\n") {
		t.Errorf("make site: build/site/mysite.dev.env %v, want it with DEBUG=true:\n%s", err, b)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		folder := filepath.Join(dir, "dist", "guestbook-linux-"+arch)
		var uploaded []string
		filepath.WalkDir(folder, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				uploaded = append(uploaded, p)
			}
			return nil
		})
		z, err := zip.OpenReader(folder + ".zip")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range z.File {
			uploaded = append(uploaded, f.Name)
		}
		z.Close()
		for _, p := range uploaded {
			if strings.HasSuffix(p, ".dev.env") {
				t.Errorf("make dist ships %s", p)
			}
		}
		if b, err := os.ReadFile(filepath.Join(folder, "mysite.env")); err != nil || !strings.Contains(string(b), "\nDEBUG=false\n") {
			t.Errorf("make dist: %s/mysite.env %v, want it with DEBUG=false:\n%s", folder, err, b)
		}
	}
}

// copyTree copies the file or directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		to := filepath.Join(dst, strings.TrimPrefix(p, src))
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err == nil {
			os.MkdirAll(filepath.Dir(to), 0o755)
			err = os.WriteFile(to, b, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
