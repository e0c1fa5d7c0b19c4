package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
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

// Load is 4 clients calling a request function again and again (at most
// 50,000 times each) until Stop.
type Load struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

// StartLoad starts the clients; request returns an error for a request
// that did not get the expected answer.
func StartLoad(request func() error) *Load {
	l := &Load{stop: make(chan struct{})}
	for range 4 {
		l.wg.Go(func() {
			for i := 0; i < 50000; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if err := request(); err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	return l
}

// Stop ends the clients and fails t if any request failed; what names the
// load in the test log ("through nginx across 3 SIGHUP hand-overs").
func (l *Load) Stop(t *testing.T, what string) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("%d requests %s, %d failed", l.ok.Load(), what, l.failed.Load())
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, n+l.ok.Load(), l.firstErr.Load())
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

// WaitFor polls cond for up to 15 s and fails t if it never holds.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Errorf("timed out waiting for %s", what)
}

func checkRoundTrips(t *testing.T, base, prefix string) {
	t.Helper()
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
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

// CheckStreaming requests /stream?n=2&pause=1500 from base: the first
// line must arrive a second or more before the response ends, not held
// back by the web server until the handler is done.
func CheckStreaming(t *testing.T, base string) {
	t.Helper()
	if ahead := StreamLead(t, base); ahead < time.Second {
		t.Errorf("the first line came %v before the end; want it streamed, 1.5 s ahead", ahead)
	}
}

// StreamLead requests /stream?n=2&pause=1500 from base, which writes and
// flushes a line, waits 1.5 s and writes another, and returns how long
// before the end of the response the first line arrived.
func StreamLead(t *testing.T, base string) time.Duration {
	t.Helper()
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
	firstAt := time.Now()
	if rest, err := io.ReadAll(br); string(rest) != "line 2\n" || err != nil {
		t.Fatalf("after the first line: %q %v", rest, err)
	}
	return time.Since(firstAt)
}

// CheckClientAbort requests a response that streams a line every 100 ms
// for 5 s and goes away after 300 ms: the site's log (logPath) must then
// say, within 3 s, that the handler's context was cancelled. With silent,
// it does the same with a handler that writes nothing until it is done
// (/slow), which only web servers that watch the client while they wait
// pass on; the others are left to finish it.
func CheckClientAbort(t *testing.T, base, logPath string, silent bool) {
	t.Helper()
	paths := []string{"/stream?n=50&pause=100&abort=1"}
	if silent {
		paths = append(paths, "/slow?ms=5000&abort=1")
	}
	for _, path := range paths {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body) // until the client's deadline
			resp.Body.Close()
		}
		cancel()
		wentAway := func() bool {
			b, _ := os.ReadFile(logPath)
			for line := range strings.Lines(string(b)) {
				if strings.Contains(line, "the client went away") && strings.Contains(line, path) {
					return true
				}
			}
			return false
		}
		for deadline := time.Now().Add(3 * time.Second); !wentAway(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%s: the handler's context was not cancelled within 3 s of the client going away", path)
				break
			}
		}
	}
}

// CheckSlowRequestAcross requests the hello site's /slow?ms=N from base and
// calls restart (the web server's graceful restart) 300 ms into it: the
// request must still be answered 200, and the site be up after.
func CheckSlowRequestAcross(t *testing.T, base string, ms int, restart func() error) {
	t.Helper()
	type answer struct {
		code int
		body string
		err  error
	}
	slow := make(chan answer, 1)
	go func() {
		code, body, err := Get(fmt.Sprintf("%s/slow?ms=%d", base, ms))
		slow <- answer{code, body, err}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := restart(); err != nil {
		t.Fatal(err)
	}
	if r, want := <-slow, fmt.Sprintf("slept %d ms\n", ms); r.err != nil || r.code != 200 || r.body != want {
		t.Errorf("the request in flight: %d %q %v; want 200 %q", r.code, r.body, r.err, want)
	}
	WaitUp(t, base+"/")
}
