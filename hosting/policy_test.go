package hosting

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// An idle process gives its free memory back after each burst of requests,
// never while a request is in progress.
func TestPolicies_ReleaseMemoryWhenIdle(t *testing.T) {
	p := newPolicies(&Settings{})
	p.releaseIdle = 10 * time.Millisecond
	released := make(chan int64, 4)
	p.release = func() { released <- p.inFlight.Load() }
	entered, leave := make(chan struct{}), make(chan struct{})
	h := p.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-leave
		}
	}))
	serve := func(path string) { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil)) }
	wantRelease := func(after string) {
		t.Helper()
		select {
		case n := <-released:
			if n != 0 {
				t.Fatalf("%s: memory released with %d requests in progress", after, n)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no memory released 10 s after the requests ended", after)
		}
	}

	for range 3 {
		serve("/")
	}
	wantRelease("a burst")

	done := make(chan struct{})
	go func() {
		serve("/hold")
		close(done)
	}()
	<-entered
	// The armed timer looks while the request is in progress.
	p.releaseArmed.Store(true)
	p.releaseWhenIdle()
	select {
	case <-released:
		t.Fatal("memory released while a request was in progress")
	default:
	}
	close(leave)
	<-done
	wantRelease("a long request")

	serve("/")
	wantRelease("a request after a release")
	select {
	case <-released:
		t.Fatal("memory released twice for one burst")
	default:
	}
}
