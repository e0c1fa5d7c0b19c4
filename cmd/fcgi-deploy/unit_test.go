package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestElfTarget(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	goos, goarch, err := elfTarget(b[:64])
	if runtime.GOOS == "linux" && (err != nil || goos != "linux" || goarch != runtime.GOARCH) {
		t.Errorf("this test binary: %s/%s %v, want linux/%s", goos, goarch, err, runtime.GOARCH)
	}
	arm := append([]byte(nil), b[:64]...)
	arm[4], arm[5], arm[18], arm[19] = 2, 1, 183, 0
	if goos, goarch, err := elfTarget(arm); goos != "linux" || goarch != "arm64" || err != nil {
		t.Errorf("an arm64 header: %s/%s %v", goos, goarch, err)
	}
	for _, bad := range [][]byte{nil, []byte("#!/bin/sh\necho hello world, not a program"), b[:10]} {
		if _, _, err := elfTarget(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "deploy.env")
	os.WriteFile(env, []byte("DEPLOY_HOST=ftp.example.com\nDEPLOY_USER=me\nDEPLOY_PASSWORD=s3cret#1\nDEPLOY_DIR=public_html/\nDEPLOY_SITE_URL=https://example.com/\n"), 0o600)
	getenv := func(name string) string { return map[string]string{"DEPLOY_USER": "fromenv"}[name] }
	var stderr bytes.Buffer
	c, err := parseConfig([]string{"-config", env, "-port", "2121"}, getenv, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.protocol != "ftp" || c.address() != "ftp.example.com:2121" || c.user != "fromenv" || c.password != "s3cret#1" || c.remoteDir != "public_html" || c.site != "mysite" {
		t.Errorf("got %+v", *c)
	}
	os.WriteFile(env, []byte("DEPLOY_PASSWORD=\"s3cret\n"), 0o600)
	if _, err := parseConfig([]string{"-config", env}, getenv, &stderr); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a broken deploy.env: %v; want an error without the password", err)
	}
	os.WriteFile(env, []byte("DEPLOY_PROTOCOL=sftp\n"), 0o600)
	_, err = parseConfig([]string{"-config", env}, func(string) string { return "" }, &stderr)
	if err == nil || !strings.Contains(err.Error(), "DEPLOY_HOST") || !strings.Contains(err.Error(), "DEPLOY_SSH_KEY") {
		t.Errorf("missing settings: %v", err)
	}
}

func TestHostOnly(t *testing.T) {
	for rel, want := range map[string]bool{"mysite.env": true, "static/x.css": false, "404.html": false, "guestbook.db": true,
		"mysite.log.1": true, ".fcgi-deploy.log": true, "deploy.env": true, "a/b.swp": true, "robots.txt": false, "mysite.fcgi": true} {
		if got := hostOnly(rel, "mysite"); got != want {
			t.Errorf("hostOnly(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestManifest_LastWinsAndCutLinesSkipped(t *testing.T) {
	a := record{Path: "x", Size: 1, SHA256: "aa"}.line()
	b := record{Path: "x", Size: 2, SHA256: "bb"}.line()
	m := parseManifest(append(append(a, b...), b[:len(b)/2]...))
	if r := m["x"]; len(m) != 1 || r.Size != 2 || r.SHA256 != "bb" {
		t.Errorf("got %+v", m)
	}
	if !m.has("x", &localFile{size: 2, sha256: "bb"}) || m.has("x", &localFile{size: 2, sha256: "aa"}) {
		t.Error("has")
	}
}
