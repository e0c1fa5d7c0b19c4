package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkHello/engine-2   64818   18955 ns/op   4503 B/op   19 allocs/op
BenchmarkHello/engine-2   41300   25592 ns/op   4511 B/op   19 allocs/op
BenchmarkHello/engine-2   48589   23374 ns/op   4505 B/op   18 allocs/op
BenchmarkPost1M/stdlib-2   3481   448742 ns/op   2336.70 MB/s   73232 B/op   0 allocs/op
PASS
`
	got := parseGoBench(out)
	want := []goBench{
		{name: "Hello/engine", nsOp: 23374, bytesOp: 4505, alloc: 19},
		{name: "Post1M/stdlib", nsOp: 448742, bytesOp: 73232, alloc: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("benchmark %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseBenchOutput(t *testing.T) {
	rps, errs := parseBenchOutput("requests:   1000 in 1s\nthroughput: 21806 req/s, 0.3 MB/s\nerrors:     3  timeout: 3\n")
	if rps != 21806 || errs != 3 {
		t.Fatalf("got %v req/s and %d errors, want 21806 and 3", rps, errs)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999.6: "1,000", 21806: "21,806", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestReportMarksMissedTargets(t *testing.T) {
	r := &report{opts: &options{runs: 1, conns: 1}, gobench: []goBench{
		{name: "Hello/engine", nsOp: 30000, alloc: 19},
		{name: "Hello/stdlib", nsOp: 60000, alloc: 91},
		{name: "Hello/nethttp", nsOp: 15000, alloc: 20},
	}}
	md := r.markdown()
	for _, want := range []string{
		"| In process, hello: at least 3x the throughput of net/http/fcgi | 2.00x (30.0 µs vs 60.0 µs) | **missed** |",
		"| In process, hello: fewer allocations than net/http | 19 vs 20 | met |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestReportApacheTargets(t *testing.T) {
	r := &report{opts: &options{runs: 1, conns: 1}, apache: &apacheReport{conns: 16,
		sites: []apacheFigure{
			{site: "rewrite", rps: 5000, cpuUs: 90}, {site: "direct", rps: 5200, cpuUs: 85},
			{site: "stdlib", rps: 3000, cpuUs: 300}, {site: "php", rps: 6000, cpuUs: 100, webUs: 210},
			{site: "c", rps: 6200, cpuUs: 40}, {site: "static", rps: 8000},
			{site: "php rewrite", rps: 5500, cpuUs: 101, webUs: 240},
		},
		sparse: []sparseFigure{{app: "this project", cpuUs: 75}, {app: "C", cpuUs: 25}},
	}}
	md := r.markdown()
	for _, want := range []string{
		"| Apache + mod_fcgid, through the .htaccess rewrite: CPU per request at most php-cgi's | 0.90x (90 µs vs 100 µs) | met |",
		"| Apache + mod_fcgid, through the .htaccess rewrite: throughput at least php-cgi's | 0.83x | **missed** |",
		"| Apache + mod_fcgid: CPU per request within 2x of C libfcgi's | 2.25x (90 µs vs 40 µs) | **missed** |",
		"| One process, requests 0.5 ms apart: at most 60 µs CPU per request | 75 µs | **missed** |",
		"| php | 6,000 req/s | 100 µs | 210 µs | – |",
		"| php rewrite | 5,500 req/s | 101 µs | 240 µs | – |",
		"| C | 25 µs |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestStatCPU(t *testing.T) {
	path := t.TempDir() + "/stat"
	// A command name with spaces and a parenthesis, as /proc allows.
	os.WriteFile(path, []byte("4242 (my (odd) app) S 4200 4242 4242 0 -1 4194560 200 0 0 0 150 25 7 3 20 0 1 0 100 0 0\n"), 0o644)
	cpu, ppid, ok := statCPU(path, false)
	if !ok || cpu != 1750*time.Millisecond || ppid != 4200 {
		t.Fatalf("got %v, ppid %d, %v; want 1.75s, 4200, true", cpu, ppid, ok)
	}
	if cpu, _, _ := statCPU(path, true); cpu != 1850*time.Millisecond {
		t.Fatalf("with the reaped children: got %v, want 1.85s", cpu)
	}
}
