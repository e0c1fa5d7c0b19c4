package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// goBench is the median of one Go benchmark over the runs.
type goBench struct {
	name                 string // Hello/engine
	nsOp, bytesOp, alloc float64
}

// goBenchmarks runs the responder's benchmarks and keeps the raw output in
// the work directory, in the form benchstat reads.
func goBenchmarks(ctx context.Context, o *options) ([]goBench, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem",
		"-count", strconv.Itoa(o.count), "./responder/")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(o.work, "go-bench.txt"), out, 0o644); err != nil {
		return nil, err
	}
	return parseGoBench(string(out)), nil
}

// parseGoBench takes the medians per benchmark, in order of appearance.
func parseGoBench(out string) []goBench {
	type samples struct{ ns, b, a []float64 }
	var order []string
	all := map[string]*samples{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		s := all[name]
		if s == nil {
			s = &samples{}
			all[name] = s
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "B/op":
				s.b = append(s.b, v)
			case "allocs/op":
				s.a = append(s.a, v)
			}
		}
	}
	res := make([]goBench, 0, len(order))
	for _, name := range order {
		s := all[name]
		res = append(res, goBench{name: name, nsOp: median(s.ns), bytesOp: median(s.b), alloc: median(s.a)})
	}
	return res
}

func findBench(bs []goBench, name string) (goBench, bool) {
	for _, b := range bs {
		if b.name == name {
			return b, true
		}
	}
	return goBench{}, false
}
