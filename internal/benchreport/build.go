package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the built applications; an empty path is one this machine
// cannot build, with the reason in report.missing.
type binaries struct {
	runtime string // examples/hello: hosting.Run, what a user uploads
	stdlib  string // net/http/fcgi
	engine  string // a bare responder.Server, no body limit
	nethttp string // net/http, plain HTTP
	c       string // libfcgi
	bench   string // cmd/fcgi-bench
	php     string // hello.php, for php-fpm
	dir     string
}

func buildAll(ctx context.Context, work string, r *report) (*binaries, error) {
	dir := filepath.Join(work, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &binaries{dir: dir}
	// Built as `make dist` builds what users upload.
	for _, g := range []struct {
		dst *string
		pkg string
		out string
	}{
		{&b.runtime, "./examples/hello", "hello.fcgi"},
		{&b.stdlib, "./internal/benchreport/apps/stdlib", "stdlib.fcgi"},
		{&b.engine, "./internal/benchreport/apps/engine", "engine.fcgi"},
		{&b.nethttp, "./internal/benchreport/apps/nethttp", "nethttp"},
		{&b.bench, "./cmd/fcgi-bench", "fcgi-bench"},
	} {
		out := filepath.Join(dir, g.out)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, g.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", g.pkg, err, msg)
		}
		*g.dst = out
	}
	out := filepath.Join(dir, "hello-c.fcgi")
	msg, err := exec.CommandContext(ctx, "gcc", "-O2", "-pthread", "-o", out,
		"internal/benchreport/apps/hello.c", "-lfcgi").CombinedOutput()
	if err != nil {
		r.missing = append(r.missing, "C libfcgi hello: "+firstLine(msg, err)+" (apt-get install libfcgi-dev)")
	} else {
		b.c = out
	}
	b.php, _ = filepath.Abs("internal/benchreport/apps/hello.php")
	return b, nil
}

func firstLine(msg []byte, err error) string {
	if s := strings.TrimSpace(string(msg)); s != "" {
		line, _, _ := strings.Cut(s, "\n")
		return line
	}
	return err.Error()
}
