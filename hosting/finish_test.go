package hosting

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// drain says requests were cut, and cuts them, only when the grace
// passes. Shutdown also fails when a listener was closed already, as
// stopListening closes it first, racing the Serve loop: those requests
// finished. On a fake clock, the grace passing is exact.
func TestDrain_CutOnlyAfterTheGrace(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shutdown func(context.Context) error
		cut      bool
	}{
		{"finished", func(context.Context) error { return nil }, false},
		{"finished, the listener closed before", func(context.Context) error {
			return errors.New("close unix @: use of closed network connection")
		}, false},
		{"still running after the grace", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log strings.Builder
				rt := &Runtime{log: zerolog.New(&log)}
				srv := &fakeEngine{shutdown: tc.shutdown}
				start := time.Now()
				rt.drain(srv, stopGrace, make(chan os.Signal))
				if cut := strings.Contains(log.String(), "after the grace period were cut"); cut != tc.cut || srv.closed != tc.cut {
					t.Errorf("logged a cut: %v, closed: %v; want %v (log %q)", cut, srv.closed, tc.cut, log.String())
				}
				if took := time.Since(start); tc.cut && took != stopGrace {
					t.Errorf("cut after %v, want %v", took, stopGrace)
				}
			})
		})
	}
}

// fakeEngine is an engine whose Shutdown is the test's.
type fakeEngine struct {
	engine
	shutdown func(context.Context) error
	closed   bool
}

func (e *fakeEngine) Shutdown(ctx context.Context) error { return e.shutdown(ctx) }
func (e *fakeEngine) Close() error                       { e.closed = true; return nil }
