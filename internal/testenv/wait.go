package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"
)

// Patience bounds every wait for a state: only a hang reaches it, however
// loaded the machine. No wait decides an ordering by its length.
const Patience = 60 * time.Second

// eventually polls cond until it holds (true) or Patience runs out.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(Patience); ; time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Eventually polls cond until it holds or Patience runs out, and reports
// whether it held: for a wait that must not end the test, as in a cleanup.
func Eventually(cond func() bool) bool { return eventually(cond) }

// WaitFor polls cond and fails t, ending the test, if it never holds.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !eventually(cond) {
		t.Fatalf("timed out (%v) waiting for %s", Patience, what)
	}
}

// LogEntry is a line of a site's log (mysite.log): the hosting runtime
// writes one JSON object a line.
type LogEntry struct {
	PID     int    `json:"pid"`
	Message string `json:"message"`
	URI     string `json:"uri"`     // the request's, on lines about one
	Listen  string `json:"listen"`  // the address served, on "serving ..."
	Version string `json:"version"` // the build's, on "starting"
	Level   string `json:"level"`
	Error   string `json:"error"`
	Output  string `json:"output"` // a refused binary's own output
}

// ReadLog returns the lines of the site log at path; a missing file has
// none, a line still being written is left for the next read.
func ReadLog(path string) []LogEntry {
	b, _ := os.ReadFile(path)
	var entries []LogEntry
	for line := range bytes.Lines(b) {
		var e LogEntry
		if json.Unmarshal(line, &e) == nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// Logged reports whether a line of the site log at path satisfies match.
func Logged(path string, match func(LogEntry) bool) bool {
	for _, e := range ReadLog(path) {
		if match(e) {
			return true
		}
	}
	return false
}

// WaitReexecs waits until the site log at path shows n re-executions in
// place whose new code has started: a "re-executing in place" line, then a
// "starting" line of the same PID. Once started, the new code has read the
// binary and the settings file it watches, and catches the signals that
// reload or stop it.
func WaitReexecs(t *testing.T, path string, n int) {
	t.Helper()
	WaitFor(t, "the new code of re-execution "+strconv.Itoa(n)+" to start", func() bool {
		pending, started := map[int]bool{}, 0
		for _, e := range ReadLog(path) {
			switch {
			case e.Message == "re-executing in place":
				pending[e.PID] = true
			case e.Message == "starting" && pending[e.PID]:
				pending[e.PID] = false
				started++
			}
		}
		return started >= n
	})
}
