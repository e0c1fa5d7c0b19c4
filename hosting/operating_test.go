package hosting

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// syncBuffer is a log the watchdog and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// operated is the runtime's chain from requests inward, for settings s,
// with the site's 404.html and 503.html pages, and its log.
type operated struct {
	q    *requests
	h    http.Handler
	log  *syncBuffer
	stop chan struct{}
}

func newOperated(t *testing.T, s Settings, next http.Handler) *operated {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "503.html"), []byte("<h1>Our own 503</h1>"), 0o644)
	os.WriteFile(filepath.Join(dir, "404.html"), []byte("<h1>Our own 404</h1>"), 0o644)
	o := &operated{log: &syncBuffer{}, stop: make(chan struct{})}
	log := zerolog.New(o.log)
	pages := &errorPages{dir: dir, log: log}
	o.q = newRequests(&s, pages, newStatusPage(&s, "v-test", modeFastCGI, &reloadNotes{}), newBrokenLinks(&s, log), log)
	if o.q == nil {
		t.Fatal("no requests watch for these settings")
	}
	o.h = (&site{pages: pages}).middleware(o.q.middleware(pages.middleware(next)))
	go o.q.watch(o.stop)
	t.Cleanup(func() { close(o.stop) })
	return o
}

// serve runs req through the chain, returning the response and what the
// chain panicked with.
func (o *operated) serve(req *http.Request) (rec *httptest.ResponseRecorder, panicked any) {
	rec = httptest.NewRecorder()
	func() {
		defer func() { panicked = recover() }()
		o.h.ServeHTTP(rec, req)
	}()
	return rec, panicked
}

// deafHandler sleeps through its context's end, as a handler stuck in a
// call that takes no context does.
func deafHandler(w http.ResponseWriter, r *http.Request) {
	time.Sleep(3 * time.Second)
	if _, err := w.Write([]byte("too late")); err != http.ErrHandlerTimeout {
		panic("a write after the time limit was not refused: " + errString(err))
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestRequestTimeout: REQUEST_TIMEOUT answers 503 with the site's page at
// the limit (within a tick), whether the handler heeds its context or not,
// cuts off a response already begun, and leaves a quick handler alone.
// In a bubble, so the limit is met on the fake clock however busy the
// machine.
func TestRequestTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string
		abort   bool // the response is cut off
		took    time.Duration
	}{
		{name: "deaf to its context", handler: deafHandler, status: 503, body: "Our own 503", took: time.Second},
		{name: "heeds its context, writes nothing", handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, status: 503, body: "Our own 503", took: time.Second},
		{name: "began its response", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("part"))
			<-r.Context().Done()
		}, abort: true, took: time.Second},
		{name: "quick", handler: func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(900 * time.Millisecond)
			w.Header().Set("X-Kept", "yes")
			w.Write([]byte("in time"))
		}, status: 200, body: "in time", took: 900 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newOperated(t, Settings{RequestTimeout: time.Second}, tc.handler)
				start := time.Now()
				rec, panicked := o.serve(httptest.NewRequest("GET", "/x?secret=1", nil))
				took := time.Since(start)
				if took < tc.took || took > tc.took+o.q.tick() {
					t.Errorf("answered after %v, want %v (+ a tick, %v)", took, tc.took, o.q.tick())
				}
				if tc.abort {
					if panicked != http.ErrAbortHandler {
						t.Fatalf("panicked with %v, want http.ErrAbortHandler", panicked)
					}
					return
				}
				if panicked != nil {
					t.Fatalf("panicked: %v", panicked)
				}
				if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
					t.Errorf("%d %q, want %d with %q", rec.Code, rec.Body, tc.status, tc.body)
				}
				if tc.status == 200 && rec.Header().Get("X-Kept") != "yes" {
					t.Errorf("the handler's header was lost: %v", rec.Header())
				}
				synctest.Wait()
				if n := o.q.pastLimit.Load(); n > 0 {
					// The deaf handler runs on, counted and listed, until it returns.
					if l := o.q.inProgress(time.Now()); len(l) != 1 || !l[0].PastTimeLimit || l[0].Path != "/x" {
						t.Errorf("in progress: %+v, want /x past its time limit", l)
					}
					time.Sleep(3 * time.Second)
					synctest.Wait()
				}
				if n := o.q.pastLimit.Load(); n != 0 {
					t.Errorf("%d handlers counted past their limit after all returned", n)
				}
			})
		})
	}
}

// blockedHandler waits until its request is released.
type blockedHandler struct{ release chan struct{} }

func (b blockedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	<-b.release
	w.Write([]byte("done"))
}

// TestSlowRequest: one log line per request past SLOW_REQUEST, with the
// stack of its handler's goroutine, and the status page counts it.
func TestSlowRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		o := newOperated(t, Settings{SlowRequest: 5 * time.Second}, blockedHandler{release})
		done := make(chan struct{})
		go func() {
			o.serve(httptest.NewRequest("GET", "/report?token=abc", nil))
			close(done)
		}()
		time.Sleep(5*time.Second - time.Millisecond)
		synctest.Wait()
		if strings.Contains(o.log.String(), "slow request") {
			t.Fatalf("logged before SLOW_REQUEST:\n%s", o.log)
		}
		time.Sleep(2 * time.Second) // several ticks: still one line
		close(release)
		<-done
		var lines []map[string]any
		for l := range strings.Lines(o.log.String()) {
			var m map[string]any
			json.Unmarshal([]byte(l), &m)
			if strings.HasPrefix(m["message"].(string), "slow request") {
				lines = append(lines, m)
			}
		}
		if len(lines) != 1 {
			t.Fatalf("%d slow-request lines, want 1:\n%s", len(lines), o.log)
		}
		stack, _ := lines[0]["stack"].(string)
		if lines[0]["path"] != "/report" || !strings.Contains(stack, "hosting.blockedHandler.ServeHTTP") ||
			!strings.Contains(stack, "operating_test.go:") || strings.Contains(stack, "(*requests)") {
			t.Errorf("line %v, want the path without query and the handler's stack down to it", lines[0])
		}
		if o.q.slowCount.Load() != 1 {
			t.Errorf("slow requests counted: %d", o.q.slowCount.Load())
		}
	})
}

const testToken = "0123456789abcdef-token"

// TestStatusPage: the page answers only with the token (else the site
// answers as if it were not there); JSON by default, OpenMetrics when
// asked; requests in progress with their paths, never a query string or
// the token.
func TestStatusPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		mux := http.NewServeMux()
		mux.Handle("/busy", blockedHandler{release})
		mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) { Error(w, r, 502, nil) })
		mux.HandleFunc("/", NotFound)
		o := newOperated(t, Settings{StatusPath: "/status", StatusToken: testToken, MemoryLimit: 256 << 20}, mux)
		o.serve(httptest.NewRequest("GET", "/boom", nil))
		go o.serve(httptest.NewRequest("GET", "/busy?q=private", nil))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()

		for name, auth := range map[string]string{"none": "", "wrong": "Bearer 0123456789abcdef-tokeN", "basic": "Basic " + testToken,
			"prefix of it": "Bearer 0123456789abcdef"} {
			req := httptest.NewRequest("GET", "/status", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			if rec, _ := o.serve(req); rec.Code != 404 || !strings.Contains(rec.Body.String(), "Our own 404") {
				t.Errorf("token %s: %d %q, want the site's 404", name, rec.Code, rec.Body)
			}
		}

		req := httptest.NewRequest("GET", "/status", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec, _ := o.serve(req)
		var st status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 {
			t.Fatalf("%d %v:\n%s", rec.Code, err, rec.Body)
		}
		if len(st.InProgress) != 1 || st.InProgress[0].Path != "/busy" || st.InProgress[0].Seconds != 1.5 ||
			st.Responses5xx != 1 || st.RequestsServed != 5 || st.Version != "v-test" || st.Mode != "fastcgi" ||
			st.MemoryLimit != 256<<20 || st.MemoryInUse <= 0 || len(st.SlowestRecent) != 5 || !strings.HasPrefix(st.OtherProcesses, "not known") {
			t.Errorf("%+v", st)
		}
		for _, secret := range []string{"private", testToken, "q="} {
			if strings.Contains(rec.Body.String(), secret) {
				t.Errorf("the page shows %q:\n%s", secret, rec.Body)
			}
		}

		req = httptest.NewRequest("GET", "/status?format=openmetrics", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec, _ = o.serve(req)
		if err := checkOpenMetrics(rec.Body.String()); err != nil || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/openmetrics-text") {
			t.Errorf("%v (%s):\n%s", err, rec.Header().Get("Content-Type"), rec.Body)
		}
		for _, want := range []string{"fcgi_server_errors_total 1\n", `fcgi_request_age_seconds{method="GET",path="/busy",n="0"} 1.5`} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("no %q in:\n%s", want, rec.Body)
			}
		}
		close(release)
	})
}

// TestBrokenLinks: a 404 reached from a page of the same site is mailed to
// MANAGERS, at once; others within the minute go in one mail at its end;
// a 404 without a same-site referer, or from a crawler, is not mailed.
func TestBrokenLinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var mails []string
		sendMail = func(q *mailQueue, msg []byte) error {
			mu.Lock()
			defer mu.Unlock()
			mails = append(mails, string(msg))
			return nil
		}
		t.Cleanup(func() { sendMail = (*mailQueue).send })
		o := newOperated(t, Settings{Managers: []string{"meg@example.com"}, EmailHost: "mail.example.com", EmailSubjectPrefix: "[mysite] "},
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/here" {
					w.Write([]byte("here"))
					return
				}
				NotFound(w, r)
			}))
		visit := func(path, referer, agent string) {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = "example.com"
			if referer != "" {
				req.Header.Set("Referer", referer)
			}
			req.Header.Set("User-Agent", agent)
			o.serve(req)
		}
		const browser = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
		count := func() int { synctest.Wait(); mu.Lock(); defer mu.Unlock(); return len(mails) }

		visit("/gone", "", browser)                                                           // typed in
		visit("/gone", "https://elsewhere.example/page", browser)                             // another site's link
		visit("/gone", "http://example.com/about", "Mozilla/5.0 (compatible; Googlebot/2.1)") // a crawler
		visit("/here", "http://example.com/about", browser)                                   // found
		if n := count(); n != 0 {
			t.Fatalf("%d mails, want none:\n%s", n, mails)
		}
		visit("/gone?x=1", "http://example.com/about", browser)
		if n := count(); n != 1 {
			t.Fatalf("%d mails for a broken link on the site, want 1", n)
		}
		for _, want := range []string{"To: meg@example.com", "Subject: [mysite] Broken link on example.com: http://example.com/gone?x=1",
			"Broken link: http://example.com/gone?x=1", "Referring page: http://example.com/about", "User agent: " + browser} {
			if !strings.Contains(mails[0], want) {
				t.Errorf("mail lacks %q:\n%s", want, mails[0])
			}
		}
		time.Sleep(10 * time.Second)
		visit("/old", "http://example.com/a", browser)
		visit("/old", "http://example.com/a", browser) // the same link twice: once
		visit("/older", "http://example.com/b", browser)
		if n := count(); n != 1 {
			t.Fatalf("%d mails within the minute, want the first only", n)
		}
		time.Sleep(50*time.Second - time.Millisecond)
		if n := count(); n != 1 {
			t.Fatalf("the batch went before the minute was over")
		}
		time.Sleep(time.Millisecond)
		if n := count(); n != 2 {
			t.Fatalf("%d mails, want the batch at the minute", n)
		}
		if !strings.Contains(mails[1], "Subject: [mysite] 2 broken links on example.com") || strings.Count(mails[1], "Broken link: ") != 2 {
			t.Errorf("batch mail:\n%s", mails[1])
		}
		close(o.q.links.q.queue)
	})
}
