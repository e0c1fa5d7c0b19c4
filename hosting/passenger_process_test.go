package hosting_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// The site started as Passenger starts a generic app: IN_PASSENGER and
// PORT in its environment, no arguments (or the ones of an older
// -listen start command), stdin no terminal.
func TestPassenger(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      string // the settings file
		baseURI  string // PASSENGER_BASE_URI
		args     []string
		path     string // requested: what the browser asked Passenger for
		contains []string
	}{
		{name: "root", path: "/info", contains: []string{"mode: passenger", `prefix: ""`, "path: /info", "link_to_echo: /echo"}},
		{name: "sub-URI", baseURI: "/app", path: "/app/info?q=1", contains: []string{`prefix: "/app"`, "path: /info",
			"link_to_echo: /app/echo", "request_uri: /app/info?q=1"}},
		{name: "FORCE_SCRIPT_NAME wins over the base URI", env: "FORCE_SCRIPT_NAME=/site\n", baseURI: "/app", path: "/site/info",
			contains: []string{`prefix: "/site"`, "path: /info"}},
		{name: "arguments of an older start command", args: []string{"-listen", "127.0.0.1:1", "-protocol", "fcgi"}, path: "/info",
			contains: []string{"mode: passenger"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, "DEBUG=true\n"+tc.env)
			port := testenv.FreePort(t)
			env := []string{"IN_PASSENGER=1", "PORT=" + strconv.Itoa(port), "PASSENGER_APP_ENV=production"}
			if tc.baseURI != "" {
				env = append(env, "PASSENGER_BASE_URI="+tc.baseURI)
			}
			cmd := startWithEnv(t, s, env, tc.args...)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			waitFor(t, "the site on $PORT", func() bool { code, _, _ := testenv.Get(base + tc.path); return code == 200 })
			code, body, err := testenv.Get(base + tc.path)
			if err != nil || code != 200 {
				t.Fatalf("GET %s: %d %v", tc.path, code, err)
			}
			for _, want := range tc.contains {
				if !strings.Contains(body, want) {
					t.Errorf("%s lacks %q:\n%s", tc.path, want, body)
				}
			}
			// Passenger stops a process with SIGTERM once its requests are done.
			cmd.Process.Signal(syscall.SIGTERM)
			if err := s.waitExit("SIGTERM"); err != nil {
				t.Errorf("exit after SIGTERM: %v, want 0", err)
			}
		})
	}
}

// A new binary or settings file re-executes the process in place: the
// same PID on the same port, which is all Passenger knows of it.
func TestPassenger_ReexecInPlace(t *testing.T) {
	s := newSite(t, "DEBUG=true\nGREETING=before\n")
	port := testenv.FreePort(t)
	startWithEnv(t, s, []string{"IN_PASSENGER=1", "PORT=" + strconv.Itoa(port), "PASSENGER_BASE_URI=/app"})
	base := fmt.Sprintf("http://127.0.0.1:%d/app", port)
	waitFor(t, "the site on $PORT", func() bool { code, _, _ := testenv.Get(base + "/"); return code == 200 })
	pid := testenv.SitePID(base)
	s.writeEnv("DEBUG=true\nGREETING=after\n")
	// A stand-in answers first, then the process re-executed in place.
	testenv.WaitReexecs(t, filepath.Join(s.dir, "mysite.log"), 1)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.log())
		}
	})
	waitFor(t, "the stand-in to step back", func() bool { return len(testenv.Children(s.cmd.Process.Pid)) == 0 })
	if _, body, _ := testenv.Get(base + "/"); body != "after\n" {
		t.Errorf("after the change: %q, want the new settings", body)
	}
	if now := testenv.SitePID(base); now != pid {
		t.Errorf("served by %q after the change, by %q before: not in place", now, pid)
	}
	if _, body, _ := testenv.Get(base + "/info"); !strings.Contains(body, `prefix: "/app"`) {
		t.Errorf("the base URI was lost across the re-execution:\n%s", body)
	}
}
