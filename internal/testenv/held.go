package testenv

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// answer is how a request in progress ended.
type answer struct {
	code int
	body string
	err  error
}

// Children are the PIDs of the processes whose parent is pid.
func Children(pid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// Slow is a GET /slow?ms=N to the hello site over HTTP, in progress: a
// long request through a web server that buffers request bodies, which
// ends by itself after N ms.
type Slow struct {
	uri   string
	ms    int
	done  chan answer
	ended *answer
}

// StartSlow sends the request to base and returns once the site, whose
// log is logPath, has it in its handler.
func StartSlow(t *testing.T, base, logPath string, ms int) *Slow {
	t.Helper()
	s := &Slow{uri: fmt.Sprintf("/slow?ms=%d&across=1", ms), ms: ms, done: make(chan answer, 1)}
	go func() {
		resp, err := (&http.Client{Timeout: Patience + time.Duration(ms)*time.Millisecond}).Get(base + s.uri)
		if err != nil {
			s.done <- answer{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.done <- answer{resp.StatusCode, string(b), err}
	}()
	WaitFor(t, "the slow request to reach the application", func() bool { return loggedSlow(logPath, s.uri) })
	return s
}

// Ended reports whether the request was answered, or failed.
func (s *Slow) Ended() bool {
	if s.ended != nil {
		return true
	}
	select {
	case r := <-s.done:
		s.ended = &r
		return true
	default:
		return false
	}
}

// CheckAnswered waits for the answer and fails t unless it is 200 with the
// handler's whole answer.
func (s *Slow) CheckAnswered(t *testing.T) {
	t.Helper()
	if s.ended == nil {
		select {
		case r := <-s.done:
			s.ended = &r
		case <-time.After(Patience + time.Duration(s.ms)*time.Millisecond):
			t.Fatalf("%s: no answer", s.uri)
		}
	}
	if r, want := s.ended, fmt.Sprintf("slept %d ms\n", s.ms); r.err != nil || r.code != 200 || r.body != want {
		t.Errorf("the request in flight: %d %q %v; want 200 %q", r.code, r.body, r.err, want)
	}
}
