package apachefcgid_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

const statusToken = "test-token-0123456789abcdef"

// TestApacheFcgid_Operating runs the settings for a site without a shell
// through Apache + mod_fcgid, with one process of the site (as a small
// host may allow), so each request meets the figures of the ones before:
// the time limit answers a stuck handler 503 within about a second and
// the process serves on; the slow-request line names the handler; the
// status page needs its token, shows the stuck handler, parses as JSON
// and OpenMetrics, and shows no secret or query string; broken links on
// the site are mailed to MANAGERS through an SMTP server on loopback, and
// others are not.
func TestApacheFcgid_Operating(t *testing.T) {
	a := startApache(t, "FcgidMaxProcessesPerClass 1")
	smtp := testenv.StartSMTPSink(t, nil)
	os.WriteFile(filepath.Join(a.www, "mysite.env"), []byte("GREETING=v1\nSECRET_KEY=hunter2\n"+
		"STATUS_PATH=/status\nSTATUS_TOKEN="+statusToken+"\nSLOW_REQUEST=500ms\nREQUEST_TIMEOUT=1s\n"+
		"MANAGERS=Meg <meg@example.com>\nEMAIL_HOST="+smtp.Host+"\nEMAIL_PORT="+smtp.Port+"\n"), 0o644)
	os.WriteFile(filepath.Join(a.www, "503.html"), []byte("<h1>Our own 503</h1>\n"), 0o644)
	a.chown()
	log := filepath.Join(a.www, "mysite.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("mysite.log:\n%s", b)
		}
	})
	status := func(query string, header map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", a.base+"/status"+query, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bearer := map[string]string{"Authorization": "Bearer " + statusToken}

	for name, h := range map[string]map[string]string{"no token": nil, "a wrong token": {"Authorization": "Bearer " + statusToken + "x"}} {
		if code, body := status("", h); code != 404 || !strings.Contains(body, "The page you asked for is not here") {
			t.Errorf("%s: %d %q, want the site's ordinary 404", name, code, body)
		}
	}
	code, body := status("", bearer)
	var before struct{ PID int }
	if err := json.Unmarshal([]byte(body), &before); code != 200 || err != nil {
		t.Fatalf("with the token: %d %v %q", code, err, body)
	}

	// A handler deaf to its context, 3 s long, against REQUEST_TIMEOUT=1s.
	start := time.Now()
	code, body, _, err := a.get("/sleep?ms=3000&card=4111111111111111")
	took := time.Since(start)
	if err != nil || code != 503 || !strings.Contains(body, "Our own 503") {
		t.Fatalf("%d %q %v, want the site's 503", code, body, err)
	}
	if took < time.Second || took > 2500*time.Millisecond {
		t.Errorf("answered after %v, want about a second", took)
	}
	t.Logf("REQUEST_TIMEOUT=1s answered a 3 s handler 503 after %v", took.Round(time.Millisecond))

	// The same process, free again, shows the handler still running.
	code, body = status("", bearer)
	var st struct {
		PID        int
		InProgress []struct {
			Method, Path  string
			Seconds       float64
			PastTimeLimit bool `json:"past_time_limit"`
		} `json:"in_progress"`
		TimedOut       int64  `json:"timed_out"`
		SlowRequests   int64  `json:"slow_requests"`
		Responses5xx   int64  `json:"responses_5xx"`
		RequestsServed int64  `json:"requests_served"`
		OtherProcesses string `json:"other_processes"`
		MemoryLimit    int64  `json:"memory_limit_bytes"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("%d %v %q", code, err, body)
	}
	if st.PID != before.PID || len(st.InProgress) != 1 || st.InProgress[0].Path != "/sleep" || !st.InProgress[0].PastTimeLimit ||
		st.TimedOut != 1 || st.SlowRequests != 1 || st.Responses5xx != 1 || st.OtherProcesses == "" || st.MemoryLimit != 256<<20 {
		t.Errorf("status after the time limit (pid before %d):\n%s", before.PID, body)
	}
	t.Logf("status page:\n%s", body)
	for _, secret := range []string{"4111111111111111", "card=", "hunter2", statusToken, "Bearer"} {
		if strings.Contains(body, secret) {
			t.Errorf("the status page shows %q", secret)
		}
	}
	for name, q := range map[string]string{"?format=openmetrics": "?format=openmetrics", "Accept": ""} {
		h := map[string]string{"Authorization": bearer["Authorization"], "Accept": "application/openmetrics-text; version=1.0.0"}
		code, body := status(q, h)
		if code != 200 || !strings.HasSuffix(body, "\n# EOF\n") || !strings.Contains(body, "# TYPE fcgi_requests counter\n") ||
			!strings.Contains(body, "\nfcgi_timed_out_requests_total 1\n") || strings.Contains(body, "4111") {
			t.Errorf("OpenMetrics (%s): %d\n%s", name, code, body)
		}
	}

	// The log: the slow request with its handler's stack, then the time limit.
	testenv.WaitFor(t, "the slow-request and time-limit lines", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "slow request") && strings.Contains(string(b), "REQUEST_TIMEOUT (1s) passed")
	})
	for _, e := range readLogLines(log) {
		if strings.HasPrefix(e.Message, "slow request") {
			if e.Path != "/sleep" || !strings.Contains(e.Stack, "main.sleep\n") || !strings.Contains(e.Stack, "time.Sleep\n") ||
				!strings.Contains(e.Stack, "examples/hello/main.go:") {
				t.Errorf("slow-request line: path %q, stack:\n%s", e.Path, e.Stack)
			}
			t.Logf("slow-request line's stack:\n%s", e.Stack)
		}
	}
	// Serving on, in the same process: the handler was never killed.
	if code, body, _, err := a.get("/"); code != 200 || body != "v1\n" || err != nil {
		t.Errorf("after the time limit: %d %q %v", code, body, err)
	}
	testenv.WaitFor(t, "the stuck handler to return in the same process", func() bool {
		_, body := status("", bearer)
		var now struct{ PID int }
		json.Unmarshal([]byte(body), &now)
		return now.PID == before.PID && strings.Contains(body, `"in_progress": []`)
	})

	// Broken links: only the last request is a link on the site, by a
	// browser; the first mail must be about it, since any before would
	// have been mailed at once.
	visit := func(path, referer, agent string) {
		req, _ := http.NewRequest("GET", a.base+path, nil)
		if referer != "" {
			req.Header.Set("Referer", referer)
		}
		req.Header.Set("User-Agent", agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	const browser = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	visit("/typed-in", "", browser)
	visit("/from-elsewhere", "https://elsewhere.example/links", browser)
	visit("/crawled", a.base+"/about", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")
	visit("/gone", a.base+"/about", browser)
	var msg string
	select {
	case msg = <-smtp.Msgs:
	case <-time.After(testenv.Patience):
		t.Fatal("no broken-link mail")
	}
	for _, want := range []string{"To: \"Meg\" <meg@example.com>", "Subject: [mysite] Broken link on 127.0.0.1:", "Broken link: " + a.base + "/gone",
		"Referring page: " + a.base + "/about", "User agent: " + browser} {
		if !strings.Contains(msg, want) {
			t.Errorf("mail lacks %q:\n%s", want, msg)
		}
	}
	for _, not := range []string{"typed-in", "from-elsewhere", "crawled"} {
		if strings.Contains(msg, not) {
			t.Errorf("mail names %s:\n%s", not, msg)
		}
	}
}

// logLine is what the operating lines of mysite.log carry.
type logLine struct {
	Message string `json:"message"`
	Path    string `json:"path"`
	Stack   string `json:"stack"`
}

func readLogLines(path string) []logLine {
	b, _ := os.ReadFile(path)
	var lines []logLine
	for l := range strings.Lines(string(b)) {
		var e logLine
		if json.Unmarshal([]byte(l), &e) == nil {
			lines = append(lines, e)
		}
	}
	return lines
}
