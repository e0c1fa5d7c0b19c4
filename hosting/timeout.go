package hosting

import (
	"context"
	"errors"
	"net/http"
	"runtime/pprof"
	"time"
)

// errTimeLimit is the cause of a request context cancelled by
// REQUEST_TIMEOUT.
var errTimeLimit = errors.New("REQUEST_TIMEOUT passed")

// serveLimited runs the handler in a goroutine of its own, so that the
// time limit can answer for it: Go cannot stop a goroutine, and a handler
// deaf to its context would otherwise hold the response, and under
// mod_fcgid the whole process, until it returned. At the limit the
// context is cancelled; if nothing was written, the visitor gets 503 with
// the site's page at once, else the response is cut off (the web server
// sees it fail, rather than a short response that looks whole). The
// handler runs on until it returns, its writes refused; the process is
// never killed.
func (q *requests) serveLimited(f *inflight, r *http.Request, next http.Handler) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	r = r.WithContext(ctx)
	q.mu.Lock()
	f.cancel = cancel
	f.refs++
	q.mu.Unlock()
	done := f.done
	select {
	case <-done: // left by the last request of this record that ran out of time
	default:
	}
	go func() {
		pprof.SetGoroutineLabels(f.labels)
		defer func() {
			v := recover()
			f.mu.Lock()
			f.returned = true
			late := f.timedOut // then counted in pastLimit
			f.mu.Unlock()
			if late {
				q.pastLimit.Add(-1)
				q.log.Info().Str("method", f.method).Str("path", f.prefix+f.path).Dur("after_ms", time.Since(f.start)).
					Msg("a handler cut off by REQUEST_TIMEOUT has returned")
			}
			done <- v
			q.release(f) // after the send: the next request of f finds it there
		}()
		next.ServeHTTP(f, r)
	}()

	select {
	case v := <-done:
		rethrow(v)
		return
	case <-ctx.Done():
	}
	if !errors.Is(context.Cause(ctx), errTimeLimit) {
		// The client went away: the handler is told, as without a limit.
		rethrow(<-done)
		return
	}
	f.mu.Lock()
	wrote, returned := f.wrote, f.returned
	if !returned {
		f.timedOut = true
		q.pastLimit.Add(1)
	}
	f.mu.Unlock()
	q.timedOut.Add(1)
	if wrote {
		q.log.Error().Str("method", f.method).Str("path", f.prefix+f.path).Str("stack", handlerStack(f.label)).
			Msg("REQUEST_TIMEOUT (" + q.timeout.String() + ") passed: response cut off; the handler's context is cancelled")
		panic(http.ErrAbortHandler)
	}
	line := q.log.Error().Str("method", f.method).Str("path", f.prefix+f.path)
	if !returned {
		line = line.Str("stack", handlerStack(f.label))
	}
	line.Msg("REQUEST_TIMEOUT (" + q.timeout.String() + ") passed before the handler answered: answered 503")
	// A handler that returned on its context's end without a word is
	// answered too: a blank 200 would hide that it ran out of time.
	q.pages.serve(f.ResponseWriter, r, http.StatusServiceUnavailable,
		"REQUEST_TIMEOUT ("+q.timeout.String()+") passed before the handler answered", nil)
	f.mu.Lock()
	f.status = http.StatusServiceUnavailable
	f.mu.Unlock()
}

// rethrow passes on a panic of the handler's goroutine: errorPages has
// answered every other, so this is http.ErrAbortHandler, which the engine
// takes as a failed response.
func rethrow(v any) {
	if v != nil {
		panic(v)
	}
}
