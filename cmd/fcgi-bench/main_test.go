package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/fcgi-hosting/fcgi/responder"
)

func TestBench(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &responder.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write(bytes.Repeat([]byte("x"), int(n)+10))
	})}
	go srv.Serve(l)
	defer srv.Close()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"one connection per request", []string{"-n", "200", "-c", "2"}, []string{"requests:   200 ", "errors:     0\n", "p99"}},
		{"kept and multiplexed", []string{"-n", "300", "-c", "2", "-keepconn", "-mpx", "3"}, []string{"requests:   300 ", "errors:     0\n", "3 in flight each"}},
		{"post bodies", []string{"-n", "50", "-method", "POST", "-body", "100000"}, []string{"requests:   50 ", "errors:     0\n"}},
		{"errors by kind", []string{"-n", "20", "-uri", "/missing"}, []string{"errors:     20  status 404: 20"}},
		{"paced", []string{"-n", "20", "-rate", "1000"}, []string{"requests:   20 "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), append([]string{"-connect", "unix:" + sock}, tc.args...), &out); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestBench_Spawn(t *testing.T) {
	bin, cleanup := testenv.MustBuild("../../examples/hello")
	defer cleanup()
	site := t.TempDir()
	b, _ := os.ReadFile(bin)
	os.WriteFile(filepath.Join(site, "mysite.fcgi"), b, 0o755)
	var out bytes.Buffer
	args := []string{"-spawn", filepath.Join(site, "mysite.fcgi"), "-n", "100", "-c", "2", "-pause", "1ms", "-warmup", "10", "-env", "GREETING=hi"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{"requests:   100 ", "errors:     0\n", "1ms pause after each"}
	if runtime.GOOS == "linux" {
		want = append(want, "app cpu: ")
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

func TestBench_Flags(t *testing.T) {
	for _, args := range [][]string{{}, {"-connect", "x", "-spawn", "y"}, {"-connect", "x", "-mpx", "2"}} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
