package hosting

import (
	"net/http"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// policies count requests for MAX_REQUESTS, watch memory for MEMORY_LIMIT
// and activity for IDLE_TIMEOUT. Reaching a limit asks the run loop to hand
// over to a fresh process; the request itself is never disturbed. A
// process left idle gives its free memory back (releaseIdle).
type policies struct {
	maxRequests int64
	memoryLimit int64

	inFlight atomic.Int64
	served   atomic.Int64
	lastDone atomic.Int64 // unix nanoseconds of the last request's end
	recycle  chan string  // the reason, once

	releaseIdle  time.Duration
	release      func()                      // debug.FreeOSMemory
	afterFunc    func(time.Duration, func()) // time.AfterFunc; tests fire the timers themselves
	releaseArmed atomic.Bool                 // a timer will release what the requests since the last release left
}

// releaseIdle is how long a process waits without a request before it
// gives the system back the memory its last burst of requests grew the
// heap to. The Go runtime keeps a heap of 4 MiB at least, free or not,
// for good: mod_fcgid keeps idle processes for minutes (FcgidIdleTimeout),
// and a host's memory limit counts each one. A burst after the release
// faults the memory back in, which costs about a millisecond: rare once
// idle this long.
const releaseIdle = 30 * time.Second

func newPolicies(s *Settings) *policies {
	p := &policies{maxRequests: int64(s.MaxRequests), memoryLimit: s.MemoryLimit, recycle: make(chan string, 1),
		releaseIdle: releaseIdle, release: debug.FreeOSMemory,
		afterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
	p.lastDone.Store(time.Now().UnixNano())
	return p
}

// memoryCheckEvery is how many requests pass between memory readings.
const memoryCheckEvery = 64

func (p *policies) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.inFlight.Add(1)
		defer func() {
			p.lastDone.Store(time.Now().UnixNano())
			if p.inFlight.Add(-1) == 0 && !p.releaseArmed.Load() && p.releaseArmed.CompareAndSwap(false, true) {
				p.afterFunc(p.releaseIdle, p.releaseWhenIdle)
			}
			n := p.served.Add(1)
			switch {
			case p.maxRequests > 0 && n == p.maxRequests:
				p.ask("MAX_REQUESTS reached")
			case p.memoryLimit > 0 && n%memoryCheckEvery == 0 && memoryInUse() > p.memoryLimit:
				p.ask("MEMORY_LIMIT exceeded")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (p *policies) ask(reason string) {
	select {
	case p.recycle <- reason:
	default:
	}
}

// releaseWhenIdle gives memory back once no request has been in progress
// for releaseIdle, looking again later while requests keep coming. A
// request that begins just after the look waits for the release.
func (p *policies) releaseWhenIdle() {
	if idle := p.idleFor(); idle < p.releaseIdle {
		p.afterFunc(p.releaseIdle-idle, p.releaseWhenIdle)
		return
	}
	p.releaseArmed.Store(false) // a request ending from now on arms the next release
	p.release()
}

// idleFor reports how long no request has been in progress.
func (p *policies) idleFor() time.Duration {
	if p.inFlight.Load() > 0 {
		return 0
	}
	return time.Since(time.Unix(0, p.lastDone.Load()))
}

var memoryMetrics = []metrics.Sample{
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
}

// memoryInUse is the memory the Go runtime holds from the system and has
// not given back.
func memoryInUse() int64 {
	s := make([]metrics.Sample, len(memoryMetrics))
	copy(s, memoryMetrics)
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
