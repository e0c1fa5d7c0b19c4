package main

import (
	"fmt"
	"strings"
	"time"
)

type report struct {
	opts    *options
	started time.Time
	elapsed time.Duration
	machine []string
	missing []string
	gobench []goBench
	direct  map[string][]loadFigure
	stack   []loadFigure
	apache  *apacheReport
	process processReport
}

// flatMiB is the most a process may hold at its peak while moving 1 GiB
// either way: buffers, not the payload.
const flatMiB = 32

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Benchmarks")
	p("")
	p("Written by `make bench` (`go run ./internal/benchreport`) on %s in %v; do not edit by hand.",
		r.started.UTC().Format("2006-01-02"), r.elapsed.Round(time.Second))
	p("Everything ran on one machine, on loopback, in the same run:")
	p("")
	for _, m := range r.machine {
		p("- %s", m)
	}
	for _, m := range r.missing {
		p("- **left out**: %s", m)
	}
	p("")
	p("Load runs: %d of %v each, medians shown; wrk with 2 threads and %d connections.",
		r.opts.runs, r.opts.duration, r.opts.conns)
	p("Raw Go benchmark output (for `benchstat`): `%s/go-bench.txt`.", "build/bench")
	p("")
	r.targets(p)
	r.inProcess(p)
	r.directTable(p)
	r.stackTable(p)
	r.apacheTable(p)
	r.processTables(p)
	return b.String()
}

type printer func(format string, args ...any)

func (r *report) targets(p printer) {
	p("## Targets")
	p("")
	p("| Target | Measured | |")
	p("|---|---|---|")
	row := func(target, measured string, ok bool) {
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		p("| %s | %s | %s |", target, measured, mark)
	}
	eng, ok1 := findBench(r.gobench, "Hello/engine")
	std, ok2 := findBench(r.gobench, "Hello/stdlib")
	nh, ok3 := findBench(r.gobench, "Hello/nethttp")
	if ok1 && ok2 && ok3 {
		row("In process, hello: at least 3x the throughput of net/http/fcgi",
			fmt.Sprintf("%.2fx (%.1f µs vs %.1f µs)", std.nsOp/eng.nsOp, eng.nsOp/1e3, std.nsOp/1e3), std.nsOp/eng.nsOp >= 3)
		row("In process, hello: within 1.25x of net/http serving HTTP/1.1",
			fmt.Sprintf("%.2fx (%.1f µs vs %.1f µs)", eng.nsOp/nh.nsOp, eng.nsOp/1e3, nh.nsOp/1e3), eng.nsOp/nh.nsOp <= 1.25)
		row("In process, hello: fewer allocations than net/http",
			fmt.Sprintf("%.0f vs %.0f", eng.alloc, nh.alloc), eng.alloc < nh.alloc)
	}
	for _, mode := range []string{"per-request", "keep-conn"} {
		d := r.direct[mode]
		if len(d) == 3 && d[0].rps > 0 && d[1].rps > 0 {
			row("Direct ("+mode+"): at least 2x net/http/fcgi",
				fmt.Sprintf("%.2fx", d[0].rps/d[1].rps), d[0].rps >= 2*d[1].rps)
			if d[2].rps > 0 {
				row("Direct ("+mode+"): at least the single-threaded C responder",
					fmt.Sprintf("%.2fx", d[0].rps/d[2].rps), d[0].rps >= d[2].rps)
			}
		}
	}
	if s := r.stack; len(s) == 6 && s[0].rps > 0 {
		if s[1].rps > 0 {
			row("Behind nginx: at least 1.5x net/http/fcgi", fmt.Sprintf("%.2fx", s[0].rps/s[1].rps), s[0].rps >= 1.5*s[1].rps)
		}
		if s[2].rps > 0 {
			row("Behind nginx: at least the C libfcgi responder", fmt.Sprintf("%.2fx", s[0].rps/s[2].rps), s[0].rps >= s[2].rps)
		}
		if s[4].rps > 0 {
			row("Behind nginx: at least 0.9x nginx proxying HTTP to net/http",
				fmt.Sprintf("%.2fx", s[0].rps/s[4].rps), s[0].rps >= 0.9*s[4].rps)
		}
	}
	r.apacheTargets(row)
	if pr := r.process.procs; len(pr) >= 2 && pr[0].spawn > 0 && pr[1].spawn > 0 {
		row("Spawn to first response within 1.25x of a bare net/http/fcgi hello",
			fmt.Sprintf("%.2fx (%s vs %s)", float64(pr[0].spawn)/float64(pr[1].spawn), ms(pr[0].spawn), ms(pr[1].spawn)),
			float64(pr[0].spawn) <= 1.25*float64(pr[1].spawn))
		row("RSS idle at most 7 MiB", fmt.Sprintf("%.1f MiB", pr[0].rssIdle), pr[0].rssIdle <= 7)
		row("RSS after 10,000 requests at most 10 MiB", fmt.Sprintf("%.1f MiB", pr[0].rss10), pr[0].rss10 <= 10)
	}
	if t := r.process.transfers; len(t) > 0 && t[0].note == "" {
		peak := max(t[0].streamMiB, t[0].bodyMiB)
		row(fmt.Sprintf("Memory flat over a 1 GiB response and a 1 GiB body (peak RSS under %d MiB)", flatMiB),
			fmt.Sprintf("%.1f MiB", peak), peak < flatMiB)
	}
	p("")
}

func (r *report) inProcess(p printer) {
	p("## In process: Go benchmarks")
	p("")
	p("`go test -bench . -benchmem ./responder/`: each server on a unix socket, one kept-alive connection")
	p("driven by a client that reuses its buffers, so the server is what is measured. Time and")
	p("allocations per request (Multiplexed8: per eight requests in flight on one connection;")
	p("HelloParallel: one connection per core).")
	p("")
	p("| Benchmark | this engine | net/http/fcgi | net/http (HTTP/1.1) | engine speed-up over net/http/fcgi |")
	p("|---|---|---|---|---|")
	var names []string
	for _, g := range r.gobench {
		name, _, _ := strings.Cut(g.name, "/")
		if len(names) == 0 || names[len(names)-1] != name {
			names = append(names, name)
		}
	}
	cell := func(g goBench, ok bool) string {
		if !ok {
			return "–"
		}
		return fmt.Sprintf("%.1f µs, %.0f allocs, %s B", g.nsOp/1e3, g.alloc, thousands(g.bytesOp))
	}
	for _, name := range names {
		eng, ok1 := findBench(r.gobench, name+"/engine")
		std, ok2 := findBench(r.gobench, name+"/stdlib")
		nh, ok3 := findBench(r.gobench, name+"/nethttp")
		ratio := "–"
		if ok1 && ok2 {
			ratio = fmt.Sprintf("%.2fx", std.nsOp/eng.nsOp)
		}
		p("| %s | %s | %s | %s | %s |", name, cell(eng, ok1), cell(std, ok2), cell(nh, ok3), ratio)
	}
	p("")
}

func (r *report) directTable(p printer) {
	p("## Direct: `fcgi-bench -spawn`, no web server")
	p("")
	p("Each binary spawned as mod_fcgid spawns it (a listening socket on fd 0) and driven by")
	p("`cmd/fcgi-bench` with 4 connections: a new connection per request, as mod_fcgid talks, and")
	p("kept connections (FCGI_KEEP_CONN), as nginx and mod_proxy_fcgi can.")
	p("")
	p("| Application | connection per request | kept connections |")
	p("|---|---|---|")
	per, keep := r.direct["per-request"], r.direct["keep-conn"]
	for i := range per {
		p("| %s | %s | %s |", per[i].app, per[i].cell(), keep[i].cell())
	}
	p("")
}

func (r *report) stackTable(p printer) {
	p("## Behind nginx: wrk → nginx → application")
	p("")
	if len(r.stack) == 0 {
		p("Not measured: see **left out** above.")
		p("")
		return
	}
	p("nginx with two workers and upstream keepalive; FastCGI applications on a unix socket.")
	p("")
	p("| Application | throughput | vs net/http/fcgi | vs nginx → net/http |")
	p("|---|---|---|---|")
	std, upper := r.stack[1].rps, r.stack[4].rps
	ratio := func(a, b float64) string {
		if a == 0 || b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	for _, f := range r.stack {
		p("| %s | %s | %s | %s |", f.app, f.cell(), ratio(f.rps, std), ratio(f.rps, upper))
	}
	p("")
}

func (r *report) processTables(p printer) {
	p("## The process")
	p("")
	p("Spawned as mod_fcgid spawns it; spawn to first response is the median of %d spawns (start", spawnRuns)
	p("to the end of the first complete response); RSS after the first response, after 10,000")
	p("more, each on its own connection, and once the process has rested %v after them (this", restAfter)
	p("project gives an idle process's free heap back after 30 s). Binaries built as `make dist`")
	p("builds (static, trimmed).")
	p("")
	p("| Application | spawn to first response | RSS idle | RSS after 10,000 requests | %v later | binary |", restAfter)
	p("|---|---|---|---|---|---|")
	for _, f := range r.process.procs {
		if f.note != "" {
			p("| %s | n/a (%s) | | | | |", f.app, f.note)
			continue
		}
		p("| %s | %s | %.1f MiB | %.1f MiB | %.1f MiB | %s |", f.app, ms(f.spawn), f.rssIdle, f.rss10, f.rssRested, fileSize(f.size))
	}
	p("")
	p("Where the runtime's extra cost goes. At rest, a static Go binary's RSS is mostly its own pages:")
	p("start-up faults in nearly all of its code and read-only data (the kernel maps up to 64 KiB")
	p("around each fault), so RSS follows binary size. Those pages are the page cache's, one copy for")
	p("all of a site's processes, which a memory cgroup (what a host's limit is) charges once. The")
	p("runtime carries the local emulation (net/http's server, which links crypto/tls for HTTP/2),")
	p("the log (zerolog), the file watcher (fsnotify) and error mail. Requests then add the Go")
	p("collector's minimum 4 MiB heap goal, to every Go program alike, which the runtime keeps")
	p("until something gives it back. Of the start-up difference, about 1.5 ms is the packages'")
	p("initialisation (godotenv compiles its regular expressions at start), and the rest is loading")
	p("the larger binary and the work before the first accept (settings file, log file and its")
	p("start line, signals).")
	p("")
	p("Moving 1 GiB each way on one request (the handler writes 64 KiB at a time; the body is read")
	p("as it arrives). Peak RSS of the process (VmHWM) after each transfer:")
	p("")
	p("| Application | 1 GiB response | 1 GiB request body |")
	p("|---|---|---|")
	for _, f := range r.process.transfers {
		if f.note != "" {
			p("| %s | n/a (%s) | |", f.app, f.note)
			continue
		}
		p("| %s | %.1f MiB peak, %.0f MB/s | %.1f MiB peak, %.0f MB/s |", f.app, f.streamMiB, f.streamMBs, f.bodyMiB, f.bodyMBs)
	}
	p("")
}

func fileSize(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
