package hosting

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// An idle process gives its free memory back once after each burst of
// requests, not while a request is in progress. The test fires the timers
// itself: no duration decides the order.
func TestPolicies_ReleaseMemoryWhenIdle(t *testing.T) {
	p := newPolicies(&Settings{})
	p.releaseIdle = time.Nanosecond // idle as soon as no request is in progress
	armed := make(chan func(), 8)
	p.afterFunc = func(_ time.Duration, f func()) { armed <- f }
	var releases []int64 // requests in progress at each release
	p.release = func() { releases = append(releases, p.inFlight.Load()) }
	entered, leave := make(chan struct{}), make(chan struct{})
	h := p.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-leave
		}
	}))
	serve := func(path string) { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil)) }
	// timer takes the one timer armed, failing if none or more are.
	timer := func(after string) func() {
		t.Helper()
		select {
		case f := <-armed:
			select {
			case <-armed:
				t.Fatalf("%s: two timers armed, want one", after)
			default:
			}
			return f
		default:
			t.Fatalf("%s: no timer armed", after)
			return nil
		}
	}
	// fire runs the timer until it releases: a wall clock that has not
	// moved since the last request makes it look again.
	fire := func(f func(), after string) {
		t.Helper()
		n := len(releases)
		for range 1000 {
			f()
			if len(releases) > n {
				return
			}
			f = timer(after)
		}
		t.Fatalf("%s: no release", after)
	}

	for range 3 {
		serve("/")
	}
	fire(timer("a burst of three requests"), "a burst of three requests")

	done := make(chan struct{})
	go func() {
		serve("/hold")
		close(done)
	}()
	<-entered
	select {
	case <-armed:
		t.Fatal("a timer armed as a request began")
	default:
	}
	// A timer armed earlier fires while the request is in progress.
	p.releaseArmed.Store(true)
	n := len(releases)
	p.releaseWhenIdle()
	if len(releases) != n {
		t.Fatal("memory released while a request was in progress")
	}
	again := timer("a look during a request") // it looks again later
	close(leave)
	<-done
	fire(again, "the request's end")

	serve("/")
	fire(timer("a request after a release"), "a request after a release")
	for i, inFlight := range releases {
		if inFlight != 0 {
			t.Errorf("release %d: %d requests in progress", i+1, inFlight)
		}
	}
	if len(releases) != 3 {
		t.Errorf("%d releases for three bursts", len(releases))
	}
}
