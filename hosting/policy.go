package hosting

import (
	"net/http"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// policies count requests for MAX_REQUESTS, watch memory for MEMORY_LIMIT
// and activity for IDLE_TIMEOUT. Reaching a limit asks the run loop to hand
// over to a fresh process; the request itself is never disturbed.
type policies struct {
	maxRequests int64
	memoryLimit int64

	inFlight atomic.Int64
	served   atomic.Int64
	lastDone atomic.Int64 // unix nanoseconds of the last request's end
	recycle  chan string  // the reason, once
}

func newPolicies(s *Settings) *policies {
	p := &policies{maxRequests: int64(s.MaxRequests), memoryLimit: s.MemoryLimit, recycle: make(chan string, 1)}
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
			p.inFlight.Add(-1)
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
