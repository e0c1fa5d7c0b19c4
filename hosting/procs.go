package hosting

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// setProcs sets GOMAXPROCS for how the process serves. Apache (mod_fcgid,
// mod_fastcgi) gives a process one request at a time and starts more
// processes for more load, so a second P would only be woken to look for
// work: each request would wake an idle thread, spinning and sleeping
// again, which costs more CPU than the request (a host's CPU limit counts
// it). Those processes get one. GOMAXPROCS in the environment wins, as
// for any Go program, and so does GOMAXPROCS in the settings file, for a
// handler that computes in parallel.
func (rt *Runtime) setProcs(oneAtATime bool) {
	if inEnviron(rt.environ, "GOMAXPROCS") {
		return // the Go runtime applied it at start
	}
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		// From the settings file, read after the Go runtime started.
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			rt.log.Warn().Str("GOMAXPROCS", v).Msg("GOMAXPROCS in the settings file is not a positive number; ignored")
			return
		}
		runtime.GOMAXPROCS(n)
		return
	}
	if oneAtATime {
		runtime.GOMAXPROCS(1)
	}
}

// inEnviron reports whether environ, os.Environ's form, sets name.
func inEnviron(environ []string, name string) bool {
	for _, kv := range environ {
		if k, _, ok := strings.Cut(kv, "="); ok && k == name {
			return true
		}
	}
	return false
}

// setGCPercent applies GOGC from the settings file, which the Go runtime
// read its environment too early to see. Under Apache each of a site's
// processes holds its own heap, and the collector lets one grow to 4 MiB
// at least (at GOGC=100) however little it keeps: a lower GOGC trades a
// little CPU for memory that a host's limit counts.
func (rt *Runtime) setGCPercent() {
	v := os.Getenv("GOGC")
	if v == "" || inEnviron(rt.environ, "GOGC") {
		return
	}
	pct, err := strconv.Atoi(v)
	switch {
	case v == "off":
		pct = -1
	case err != nil || pct < 0:
		rt.log.Warn().Str("GOGC", v).Msg(`GOGC in the settings file is neither a percentage nor "off"; ignored`)
		return
	}
	debug.SetGCPercent(pct)
}
