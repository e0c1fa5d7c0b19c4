package hosting

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// reloadsVar carries the hand-overs of this process across re-execution
// in place: the new code keeps the PID, and the status page counts them.
const reloadsVar = "FCGI_HOSTING_RELOADS"

// reloadsKept is how many reasons the status page lists.
const reloadsKept = 5

// reloadNotes are the hand-overs of this process and the latest reasons.
type reloadNotes struct {
	mu     sync.Mutex
	count  int
	recent []reloadNote // oldest first
}

type reloadNote struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// noteReload records a hand-over about to happen, and passes the record
// to the new code through the environment it will be executed with.
func (rt *Runtime) noteReload(reason string) {
	n := &rt.ops.reloads
	n.mu.Lock()
	defer n.mu.Unlock()
	n.count++
	n.recent = append(n.recent, reloadNote{At: time.Now().UTC().Truncate(time.Second), Reason: headerSafe(reason)})
	n.recent = n.recent[max(0, len(n.recent)-reloadsKept):]
	var b strings.Builder
	b.WriteString(strconv.Itoa(n.count))
	for _, r := range n.recent {
		b.WriteString("\n" + strconv.FormatInt(r.At.Unix(), 10) + " " + r.Reason)
	}
	rt.environ = append(slices.DeleteFunc(rt.environ, func(kv string) bool { return strings.HasPrefix(kv, reloadsVar+"=") }),
		reloadsVar+"="+b.String())
}

// takeReloads reads what the code before this one passed on.
func (rt *Runtime) takeReloads() {
	v, ok := takeEnv(&rt.environ, reloadsVar)
	if !ok {
		return
	}
	lines := strings.Split(v, "\n")
	n := &rt.ops.reloads
	n.count, _ = strconv.Atoi(lines[0])
	for _, l := range lines[1:] {
		at, reason, _ := strings.Cut(l, " ")
		sec, err := strconv.ParseInt(at, 10, 64)
		if err == nil {
			n.recent = append(n.recent, reloadNote{At: time.Unix(sec, 0).UTC(), Reason: reason})
		}
	}
}

func (n *reloadNotes) list() (int, []reloadNote) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.count, append([]reloadNote{}, n.recent...)
}
