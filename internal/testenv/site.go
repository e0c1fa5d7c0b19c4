package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CheckHelloSite checks examples/hello served at base (the site's prefix
// is base's path: "" at the root, "/app" in a subdirectory) with GREETING=v1
// and DEBUG=true, a static file static/style.css holding "body{}" beside
// it: the greeting, query strings and the script prefix as the application
// sees them (/info shows the parameters, each of info must be there), the
// 404 page, the static file served by the web server, a streamed response,
// a posted form, a 100 KiB POST echoed back, HEAD, headers and cookies both ways, a UTF-8
// path, and links, cookies and a redirect that carry the prefix.
func CheckHelloSite(t *testing.T, base string, info ...string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	prefix := u.Path
	checkRoundTrips(t, base, prefix)
	for _, c := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"v1\n"}},
		{"/info?x=1&y=%C3%A9", 200, append([]string{"path: /info", "QUERY_STRING=x=1&y=%C3%A9", "link_to_echo: " + prefix + "/echo",
			fmt.Sprintf("prefix: %q", prefix)}, info...)},
		{"/no/such/page", 404, []string{"Not Found"}},
		{"/static/style.css", 200, []string{"body{}"}},
		{"/stream?n=3", 200, []string{"line 1\nline 2\nline 3\n"}},
	} {
		code, body, err := Get(base + c.path)
		if err != nil || code != c.status {
			t.Errorf("%s: %d %v, want %d", c.path, code, err, c.status)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", c.path, w, body)
			}
		}
	}
	form, err := http.PostForm(base+"/form", url.Values{"name": {"Zoë & co"}, "tags": {"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(form.Body)
	form.Body.Close()
	if want := "name=Zoë & co\ntags=a,b\n"; string(got) != want {
		t.Errorf("POST form: %q, want %q", got, want)
	}
	body := bytes.Repeat([]byte("0123456789"), 10<<10)
	resp, err := http.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("POST 100 KiB echoed %d bytes", len(got))
	}
}

// Load is 4 clients calling a request function again and again until
// Stop: at most 50,000 times each and for 5 minutes.
type Load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string // the first few, with when they began and ended, to find in the logs
	stop       chan struct{}
	halt       func()
	done       chan struct{} // closed when every client has returned
}

// StartLoad starts the clients; request returns an error for a request
// that did not get the expected answer.
func StartLoad(request func() error) *Load {
	l := &Load{stop: make(chan struct{}), done: make(chan struct{})}
	l.halt = sync.OnceFunc(func() { close(l.stop) })
	end := time.Now().Add(5 * time.Minute)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 50000 && time.Now().Before(end); i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				began := time.Now()
				if err := request(); err != nil {
					l.failed.Add(1)
					l.noteFailure(began, err)
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	go func() { wg.Wait(); close(l.done) }()
	return l
}

// maxFailures is how many failures Stop tells in full.
const maxFailures = 5

// noteFailure keeps a failure, with its times in UTC to the microsecond as
// the site's log and Apache's error log have them.
func (l *Load) noteFailure(began time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < maxFailures {
		const stamp = "15:04:05.000000"
		l.failures = append(l.failures, fmt.Sprintf("sent %s UTC, failed %s UTC: %v",
			began.UTC().Format(stamp), time.Now().UTC().Format(stamp), err))
	}
}

func (l *Load) answered() int64 { return l.ok.Load() + l.failed.Load() }

// Await waits until n more requests have come back (answered or failed,
// which Stop reports): the load is seen to go on across what the test just
// did, however slowly the machine runs it. The clients stop when t ends.
func (l *Load) Await(t *testing.T, n int64) {
	t.Helper()
	t.Cleanup(l.halt)
	target := l.answered() + n
	ended := func() bool {
		select {
		case <-l.done:
			return true
		default:
			return false
		}
	}
	if !eventually(func() bool { return l.answered() >= target || ended() }) || l.answered() < target {
		t.Fatalf("%d more requests did not come back (%d so far, %d failed; clients ended: %v)",
			n, l.answered(), l.failed.Load(), ended())
	}
}

// Stop ends the clients and fails t if any request failed; what names the
// load in the test log ("through nginx across 3 SIGHUP hand-overs").
func (l *Load) Stop(t *testing.T, what string) {
	t.Helper()
	l.halt()
	<-l.done
	t.Logf("%d requests %s, %d failed", l.ok.Load(), what, l.failed.Load())
	if n := l.failed.Load(); n != 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Errorf("%d of %d requests failed; the first %d:\n%s", n, n+l.ok.Load(), len(l.failures), strings.Join(l.failures, "\n"))
	}
}

// GetWant is a request for StartLoad: url must answer 200 with a body
// accepted by ok.
func GetWant(url string, ok func(body string) bool) func() error {
	return func() error {
		code, body, err := Get(url)
		if err != nil || code != 200 || !ok(body) {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	}
}

func checkRoundTrips(t *testing.T, base, prefix string) {
	t.Helper()
	noFollow := &http.Client{Timeout: Patience, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	do := func(method, path string, set func(*http.Request)) (*http.Response, string) {
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if set != nil {
			set(req)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, body := do("HEAD", "/", nil); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /: %d with %d bytes of body, want 200 and none", resp.StatusCode, len(body))
	}
	resp, body := do("GET", "/headers/caf%C3%A9", func(r *http.Request) {
		r.Header.Set("X-Test", "ünïcode ok")
		r.AddCookie(&http.Cookie{Name: "session", Value: "abc123"})
	})
	for _, want := range []string{"path: /headers/café\n", "x-test: ünïcode ok\n", "cookie: session=abc123\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("/headers lacks %q:\n%s", want, body)
		}
	}
	if got := resp.Header.Get("X-Echo"); got != "ünïcode ok" {
		t.Errorf("X-Echo %q, want the X-Test sent", got)
	}
	if got, want := resp.Header.Get("Set-Cookie"), "seen=1; Path="+prefix+"/"; !strings.HasPrefix(got, want) {
		t.Errorf("Set-Cookie %q, want %s", got, want)
	}
	if resp, _ := do("GET", "/go", nil); resp.StatusCode != 303 || resp.Header.Get("Location") != prefix+"/info" {
		t.Errorf("/go: %d to %q, want 303 to %s/info", resp.StatusCode, resp.Header.Get("Location"), prefix)
	}
}

// FirstLineWait requests /stream?n=2&pause=1500 from base, which writes
// and flushes a line, waits 1.5 s and writes another, and returns how long
// after the request was sent the first line arrived. A web server that
// holds the response until the handler is done makes it 1.5 s or more,
// whatever the machine's speed: the handler's pause comes first.
func FirstLineWait(t *testing.T, base string) time.Duration {
	t.Helper()
	sent := time.Now()
	resp, err := client.Get(base + "/stream?n=2&pause=1500")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "line 1\n" {
		t.Fatalf("first line %q %v", first, err)
	}
	wait := time.Since(sent)
	if rest, err := io.ReadAll(br); string(rest) != "line 2\n" || err != nil {
		t.Fatalf("after the first line: %q %v", rest, err)
	}
	return wait
}

// CheckClientAbort has a client go away while the handler still runs: the
// site's log (logPath) must then say that the handler's context was
// cancelled. The client leaves as soon as the first line of a long stream
// (a line every 100 ms for 30 s) arrives, which also shows that the web
// server streams: had it held the response back, the handler would have
// finished first. With silent, it does the same with a handler that writes
// nothing until it is done (/slow), leaving once the site logs the request,
// which only web servers that watch the client while they wait pass on; the
// others are left to finish it.
func CheckClientAbort(t *testing.T, base, logPath string, silent bool) {
	t.Helper()
	checkAbort(t, base, logPath, "/stream?n=300&pause=100&abort=1", func(resp *http.Response) error {
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err == nil && line != "line 1\n" {
			err = fmt.Errorf("first line %q", line)
		}
		return err
	})
	if silent {
		checkAbort(t, base, logPath, "/slow?ms=30000&abort=1", nil)
	}
}

// checkAbort requests uri and leaves once it is in flight: when read
// returns, or (read nil) when the site logs the slow request.
func checkAbort(t *testing.T, base, logPath, uri string, read func(*http.Response) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+uri, nil)
	if read != nil {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = read(resp)
			defer resp.Body.Close()
		}
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
	} else {
		go func() {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		WaitFor(t, uri+" to reach the application", func() bool { return loggedSlow(logPath, uri) })
	}
	cancel()
	if !eventually(func() bool {
		return Logged(logPath, func(e LogEntry) bool {
			return e.Message == "the client went away before the response was complete" && strings.HasSuffix(e.URI, uri)
		})
	}) {
		t.Errorf("%s: the handler's context was not cancelled after the client went away", uri)
	}
}

// loggedSlow reports whether the hello site logged that its /slow handler
// took the request uri.
func loggedSlow(logPath, uri string) bool {
	return Logged(logPath, func(e LogEntry) bool {
		return strings.HasPrefix(e.Message, "slow request ") && strings.Contains(e.Message, uri+":")
	})
}

// CheckSlowRequestAcross requests the hello site's /slow?ms=N from base and
// calls restart (the web server's graceful restart) once the site (its log
// at logPath) has the request: it must still be answered 200, and the site
// be up after.
func CheckSlowRequestAcross(t *testing.T, base, logPath string, ms int, restart func() error) {
	t.Helper()
	slow := StartSlow(t, base, logPath, ms)
	if err := restart(); err != nil {
		t.Fatal(err)
	}
	slow.CheckAnswered(t)
	WaitUp(t, base+"/")
}
