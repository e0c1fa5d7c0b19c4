package hosting

import (
	"bytes"
	"cmp"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// handlerStack is the stack of each goroutine labelled with label (the
// handler's, and any it started), as "function\n\tfile:line" lines from
// the handler down to the runtime's middleware: what PHP-FPM's slowlog
// shows. Empty when none runs any more.
func handlerStack(label string) string {
	var all bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&all, 1)
	want := []byte(`# labels: {"` + labelKey + `":"` + label + `"}`)
	var out strings.Builder
	// Goroutines with the same stack and labels come as one group:
	// "N @ addresses", "# labels: {...}", then "#\taddr\tfunc+off\tfile:line".
	for group := range strings.SplitSeq(all.String(), "\n\n") {
		head, frames, ok := strings.Cut(group, "\n")
		if !ok || !strings.HasPrefix(frames, string(want)+"\n") {
			continue
		}
		n, _, _ := strings.Cut(head, " @")
		out.WriteString("goroutine (" + n + " alike) labels " + string(want[len("# labels: "):]) + ":\n")
		for line := range strings.SplitSeq(frames, "\n") {
			fields := strings.Split(strings.TrimPrefix(line, "#"), "\t")
			if len(fields) < 4 {
				continue
			}
			fn, _, _ := strings.Cut(fields[2], "+0x")
			if strings.HasPrefix(fn, thisPackage+".") && strings.Contains(fn, "(*requests).") {
				break // the runtime's own frames below the handler
			}
			out.WriteString(fn + "\n\t" + strings.TrimSpace(fields[len(fields)-1]) + "\n")
		}
	}
	return out.String()
}

// thisPackage is the import path of hosting, as stacks name its functions.
const thisPackage = "github.com/fcgi-hosting/fcgi/hosting"

// slowest keeps the slowest requests of the last ten to twenty minutes:
// those of the current window and the one before it.
type slowest struct {
	since     time.Time
	cur, prev []finished
}

// finished is a request done with, as the status page shows it.
type finished struct {
	method, prefix, path string
	took                 time.Duration
	status               int
	at                   time.Time
}

const (
	slowestKept   = 10
	slowestWindow = 10 * time.Minute
)

// add keeps r if it is among the slowest of the window; it allocates
// nothing once the windows have filled.
func (s *slowest) add(r finished) {
	if s.cur == nil {
		s.cur, s.prev, s.since = make([]finished, 0, slowestKept), make([]finished, 0, slowestKept), r.at
	}
	if r.at.Sub(s.since) >= slowestWindow {
		s.prev, s.cur, s.since = s.cur, s.prev[:0], r.at
	}
	if len(s.cur) < slowestKept {
		s.cur = append(s.cur, r)
		return
	}
	i := 0
	for j := range s.cur {
		if s.cur[j].took < s.cur[i].took {
			i = j
		}
	}
	if r.took > s.cur[i].took {
		s.cur[i] = r
	}
}

// list is the slowest requests that ended in the last two windows before
// now, slowest first.
func (s *slowest) list(now time.Time) []finished {
	all := slices.DeleteFunc(append(slices.Clone(s.cur), s.prev...), func(f finished) bool { return now.Sub(f.at) >= 2*slowestWindow })
	slices.SortFunc(all, func(a, b finished) int { return cmp.Compare(b.took, a.took) })
	return all[:min(len(all), slowestKept)]
}
