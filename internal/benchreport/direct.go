package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// loadFigure is the median throughput of one application under one load.
type loadFigure struct {
	app    string
	rps    float64 // median over the runs
	errors int     // over all runs
	note   string  // why there is no figure
}

var (
	throughputRE = regexp.MustCompile(`throughput: (\d+) req/s`)
	errorsRE     = regexp.MustCompile(`errors: +(\d+)`)
)

// directRuns drives each application spawned as mod_fcgid would, with
// fcgi-bench and no web server in between: a connection per request (as
// mod_fcgid) and kept connections.
func directRuns(ctx context.Context, o *options, b *binaries) map[string][]loadFigure {
	apps := []struct{ name, bin, missing string }{
		{"this project (hosting.Run, examples/hello)", b.runtime, ""},
		{"net/http/fcgi", b.stdlib, ""},
		{"C libfcgi, one thread", b.c, "libfcgi-dev not installed"},
	}
	res := map[string][]loadFigure{}
	for _, mode := range []struct{ name, flag string }{{"per-request", ""}, {"keep-conn", "-keepconn"}} {
		for _, app := range apps {
			f := loadFigure{app: app.name}
			if app.bin == "" {
				f.note = app.missing
				res[mode.name] = append(res[mode.name], f)
				continue
			}
			var runs []float64
			for range o.runs {
				args := []string{"-spawn", app.bin, "-c", "4", "-n", "1000000", "-d", o.duration.String()}
				if mode.flag != "" {
					args = append(args, mode.flag)
				}
				out, err := exec.CommandContext(ctx, b.bench, args...).CombinedOutput()
				if err != nil {
					f.note = "fcgi-bench: " + firstLine(out, err)
					break
				}
				rps, errs := parseBenchOutput(string(out))
				runs = append(runs, rps)
				f.errors += errs
			}
			f.rps = median(runs)
			res[mode.name] = append(res[mode.name], f)
			step("  %s %s: %.0f req/s %s", mode.name, app.name, f.rps, f.note)
		}
	}
	return res
}

func parseBenchOutput(out string) (rps float64, errs int) {
	if m := throughputRE.FindStringSubmatch(out); m != nil {
		rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := errorsRE.FindStringSubmatch(out); m != nil {
		errs, _ = strconv.Atoi(m[1])
	}
	return rps, errs
}

func (f loadFigure) cell() string {
	if f.note != "" && f.rps == 0 {
		return "n/a (" + f.note + ")"
	}
	s := fmt.Sprintf("%s req/s", thousands(f.rps))
	if f.errors > 0 {
		s += fmt.Sprintf(", %d errors", f.errors)
	}
	return s
}

// thousands formats 17234.5 as 17,235.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
