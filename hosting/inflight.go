package hosting

import (
	"context"
	"net/http"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// operations are the status page, slow requests, time limit and
// broken-link mail: made with the first handler, for the life of the
// process image.
type operations struct {
	made     bool
	requests *requests // nil when no setting asks for them
	reloads  reloadNotes
}

// requests keeps the requests in progress, for what the operator of a site
// without a shell needs: the status page (STATUS_PATH), the slow-request
// log (SLOW_REQUEST), the time limit (REQUEST_TIMEOUT) and broken-link mail
// (MANAGERS). It is left out of the handler chain when none is set, so a
// site that uses none pays nothing.
type requests struct {
	slow, timeout time.Duration
	status        *statusPage  // nil without STATUS_PATH
	links         *brokenLinks // nil without MANAGERS and EMAIL_HOST
	pages         *errorPages
	log           zerolog.Logger

	mu      sync.Mutex
	head    *inflight // the oldest request in progress; each links to the next
	tail    *inflight
	free    *inflight // records done with, reused so a request allocates none
	records int       // records made, which name their goroutines
	slowest slowest

	served, failed, slowCount, timedOut atomic.Int64
	pastLimit                           atomic.Int64 // handlers still running after their time limit
}

// newRequests returns nil when no setting asks for it.
func newRequests(s *Settings, pages *errorPages, status *statusPage, links *brokenLinks, log zerolog.Logger) *requests {
	if s.SlowRequest <= 0 && s.RequestTimeout <= 0 && status == nil && links == nil {
		return nil
	}
	return &requests{slow: s.SlowRequest, timeout: s.RequestTimeout, status: status, links: links, pages: pages, log: log}
}

// inflight is a request in progress, and the writer its handler gets.
type inflight struct {
	http.ResponseWriter // the engine's

	// Set by begin and read under requests.mu.
	prev, next     *inflight
	method, prefix string
	path           string // below the prefix; never the query string
	start          time.Time
	slowLogged     bool
	cancel         context.CancelCauseFunc // with REQUEST_TIMEOUT
	cancelled      bool
	refs           int      // the serving goroutine, and the handler's own with REQUEST_TIMEOUT
	done           chan any // REQUEST_TIMEOUT: the handler's goroutine returned, with what it panicked
	label          string
	labels         context.Context // carries the pprof label that finds the handler's goroutines

	mu       sync.Mutex // the writer, once a time limit may cut the handler off
	header   http.Header
	status   int
	wrote    bool
	timedOut bool // its writes are refused: the time limit answered for it
	returned bool // its handler has returned (REQUEST_TIMEOUT)
}

// labelKey is the pprof label put on a handler's goroutine (and those it
// starts), by which its stack is found among all goroutines': Go gives a
// goroutine no other name a program can read cheaply.
const labelKey = "fcgi_request"

func (q *requests) middleware(next http.Handler) http.Handler { return q.track(next, true) }

// authorizing is middleware for the Authorizer: its answers are counted,
// logged when slow and held to the time limit, but its path is never the
// status page (whose 200 would authorize) and its 404 no broken link.
func (q *requests) authorizing(next http.Handler) http.Handler { return q.track(next, false) }

func (q *requests) track(next http.Handler, site bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if site && q.status != nil && r.URL.Path == q.status.path && q.status.authorized(r) {
			q.status.serve(w, r, q)
			return
		}
		f := q.begin(w, r)
		defer q.end(f, r, site)
		if q.timeout > 0 {
			q.serveLimited(f, r, next)
			return
		}
		pprof.SetGoroutineLabels(f.labels)
		defer pprof.SetGoroutineLabels(r.Context())
		next.ServeHTTP(f, r)
	})
}

func (q *requests) begin(w http.ResponseWriter, r *http.Request) *inflight {
	now := time.Now()
	q.mu.Lock()
	f := q.free
	if f != nil {
		q.free = f.next
	} else {
		q.records++
		f = &inflight{label: strconv.Itoa(q.records)}
		f.labels = pprof.WithLabels(context.Background(), pprof.Labels(labelKey, f.label))
		if q.timeout > 0 {
			f.header, f.done = make(http.Header), make(chan any, 1)
		}
	}
	f.ResponseWriter, f.method, f.prefix, f.path, f.start = w, r.Method, Prefix(r), r.URL.Path, now
	f.refs = 1
	f.prev, f.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = f
	} else {
		q.head = f
	}
	q.tail = f
	q.mu.Unlock()
	return f
}

// end counts f, answered; its handler may run on past a time limit, and
// stays in progress until that returns too (release).
func (q *requests) end(f *inflight, r *http.Request, site bool) {
	now := time.Now()
	f.mu.Lock()
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	if f.timedOut {
		status = http.StatusServiceUnavailable
	}
	f.mu.Unlock()
	q.served.Add(1)
	if status >= 500 {
		q.failed.Add(1)
	}
	q.mu.Lock()
	q.slowest.add(finished{method: f.method, prefix: f.prefix, path: f.path, took: now.Sub(f.start), status: status, at: now})
	q.releaseLocked(f)
	q.mu.Unlock()
	if status == http.StatusNotFound && site && q.links != nil {
		q.links.check(r)
	}
}

func (q *requests) release(f *inflight) {
	q.mu.Lock()
	q.releaseLocked(f)
	q.mu.Unlock()
}

// releaseLocked drops a reference to f; the last takes it out of the
// requests in progress, so a handler running on past its time limit is
// still listed, and reuses it.
func (q *requests) releaseLocked(f *inflight) {
	if f.refs--; f.refs > 0 {
		return
	}
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		q.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		q.tail = f.prev
	}
	f.ResponseWriter, f.cancel = nil, nil
	f.slowLogged, f.cancelled = false, false
	f.status, f.wrote, f.timedOut, f.returned = 0, false, false, false
	clear(f.header)
	f.prev, f.next = nil, q.free
	q.free = f
}

// inProgress lists the requests in progress, oldest first.
func (q *requests) inProgress(now time.Time) []running {
	q.mu.Lock()
	defer q.mu.Unlock()
	list := []running{} // [] rather than null in JSON
	for f := q.head; f != nil; f = f.next {
		f.mu.Lock()
		late := f.timedOut
		f.mu.Unlock()
		list = append(list, running{Method: f.method, Path: f.prefix + f.path, Seconds: seconds(now.Sub(f.start)), PastTimeLimit: late})
	}
	return list
}

// watch looks at the requests in progress every tick, until stop is
// closed: one goroutine for all, rather than a timer per request.
func (q *requests) watch(stop <-chan struct{}) {
	if q.slow <= 0 && q.timeout <= 0 {
		return
	}
	t := time.NewTicker(q.tick())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			q.check(now)
		}
	}
}

// tick is a tenth of the shortest limit, so a limit is met within a tenth
// of it, and at most a second late.
func (q *requests) tick() time.Duration {
	d := time.Duration(0)
	for _, l := range []time.Duration{q.slow, q.timeout} {
		if l > 0 && (d == 0 || l < d) {
			d = l
		}
	}
	return min(max(d/10, 10*time.Millisecond), time.Second)
}

// check cancels the requests past REQUEST_TIMEOUT and logs those past
// SLOW_REQUEST, once each.
func (q *requests) check(now time.Time) {
	type slowOne struct {
		method, path, label string
		age                 time.Duration
	}
	var slow []slowOne
	q.mu.Lock()
	for f := q.head; f != nil; f = f.next {
		age := now.Sub(f.start)
		if q.timeout > 0 && age >= q.timeout && !f.cancelled && f.cancel != nil {
			f.cancelled = true
			f.cancel(errTimeLimit)
		}
		if q.slow > 0 && age >= q.slow && !f.slowLogged {
			f.slowLogged = true
			slow = append(slow, slowOne{f.method, f.prefix + f.path, f.label, age})
		}
	}
	q.mu.Unlock()
	for _, s := range slow {
		q.slowCount.Add(1)
		q.log.Warn().Str("method", s.method).Str("path", s.path).Dur("running_ms", s.age).
			Str("stack", handlerStack(s.label)).Msg("slow request: still running after SLOW_REQUEST (" + q.slow.String() + ")")
	}
}

// The writer: with REQUEST_TIMEOUT, the handler's writes are refused once
// the time limit has answered for it, and its header is its own until it
// writes, since the time limit's page may be written meanwhile.

func (f *inflight) Header() http.Header {
	if f.header != nil {
		return f.header
	}
	return f.ResponseWriter.Header()
}

// started notes that the response begins; f.mu is held.
func (f *inflight) started(code int) {
	if f.wrote {
		return
	}
	f.wrote = true
	f.status = code
	if f.header != nil {
		h := f.ResponseWriter.Header()
		for k, v := range f.header {
			h[k] = v
		}
	}
}

func (f *inflight) WriteHeader(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timedOut {
		return
	}
	if code >= 200 {
		f.started(code)
	}
	f.ResponseWriter.WriteHeader(code)
}

func (f *inflight) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timedOut {
		return 0, http.ErrHandlerTimeout
	}
	f.started(http.StatusOK)
	return f.ResponseWriter.Write(b)
}

func (f *inflight) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timedOut {
		return
	}
	f.started(http.StatusOK)
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the engine's writer.
func (f *inflight) Unwrap() http.ResponseWriter { return f.ResponseWriter }
