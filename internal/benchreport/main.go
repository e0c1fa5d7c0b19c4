// Command benchreport runs every benchmark of the project in one go on this
// machine and writes BENCHMARKS.md: the engine's Go benchmarks beside
// net/http/fcgi and net/http, the spawned runtime driven directly by
// fcgi-bench, whole stacks behind nginx driven by wrk, and process figures
// (spawn to first response, RSS, binary size, memory over 1 GiB transfers).
//
// `make bench` runs it. What a part needs and this machine lacks (wrk,
// nginx, php-fpm, libfcgi-dev) is named in the report, not silently left out.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

type options struct {
	out      string
	work     string
	runs     int
	count    int
	duration time.Duration
	conns    int
	only     string
}

func main() {
	var o options
	flag.StringVar(&o.out, "o", "BENCHMARKS.md", "write the report to `FILE`")
	flag.StringVar(&o.work, "work", "build/bench", "build and scratch `DIR`; raw outputs stay there")
	flag.IntVar(&o.runs, "runs", 5, "runs of each load test; the report shows medians")
	flag.IntVar(&o.count, "count", 5, "go test -count for the Go benchmarks")
	flag.DurationVar(&o.duration, "d", 5*time.Second, "length of each load run")
	flag.IntVar(&o.conns, "c", 32, "wrk connections")
	flag.StringVar(&o.only, "only", "", "run only this `SECTION` (apache) and print it instead of writing the report")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	if err := run(ctx, &o); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	var err error
	if o.work, err = filepath.Abs(o.work); err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	r := &report{opts: o, started: time.Now()}
	r.machine = machineFacts()
	step("building the applications")
	bins, err := buildAll(ctx, o.work, r)
	if err != nil {
		return err
	}
	switch o.only {
	case "":
	case "apache":
		step("Apache + mod_fcgid: one process, sparse requests; wrk, %d runs of %v each", o.runs, o.duration)
		r.apache = apacheRuns(ctx, o, bins, r)
		var b strings.Builder
		r.apacheTargets(func(target, measured string, ok bool) { fmt.Fprintf(&b, "| %s | %s | %v |\n", target, measured, ok) })
		r.apacheTable(func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) })
		for _, m := range r.missing {
			fmt.Fprintf(&b, "- left out: %s\n", m)
		}
		fmt.Print(b.String())
		return nil
	default:
		return fmt.Errorf("-only %q: the sections that run alone are: apache", o.only)
	}
	step("Go benchmarks (go test -bench, count %d)", o.count)
	if r.gobench, err = goBenchmarks(ctx, o); err != nil {
		return err
	}
	step("direct: fcgi-bench spawning each application")
	r.direct = directRuns(ctx, o, bins)
	step("behind nginx: wrk, %d runs of %v each", o.runs, o.duration)
	r.stack = stackRuns(ctx, o, bins, r)
	step("Apache + mod_fcgid: one process, sparse requests; wrk, %d runs of %v each", o.runs, o.duration)
	r.apache = apacheRuns(ctx, o, bins, r)
	step("process figures")
	r.process = processFigures(ctx, o, bins)
	r.elapsed = time.Since(r.started)
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	step("wrote %s in %v", o.out, r.elapsed.Round(time.Second))
	return nil
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "== "+format+"\n", args...)
}

// machineFacts describes where the figures come from.
func machineFacts() []string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	facts := []string{fmt.Sprintf("%s, %d cores (GOMAXPROCS %d)", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0))}
	kernel, _ := exec.Command("uname", "-sr").Output()
	facts = append(facts, strings.TrimSpace(string(kernel))+", "+runtime.Version())
	for _, v := range [][]string{{"nginx", "-v"}, {"wrk", "-v"}, {"php-fpm8.2", "-v"}, {"php-cgi8.2", "-v"}, {"apache2", "-v"}} {
		out, err := exec.Command(v[0], v[1:]...).CombinedOutput()
		if err != nil && len(out) == 0 {
			continue
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		facts = append(facts, strings.TrimPrefix(strings.TrimPrefix(line, "nginx version: "), "Server version: "))
	}
	return facts
}

// median of the figures; 0 when there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	v := slices.Clone(xs)
	slices.Sort(v)
	return v[len(v)/2]
}
