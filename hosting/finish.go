package hosting

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
)

// How long in-flight requests may take to finish.
const (
	// stopGrace fits inside the 8 s mod_fcgid gives on Apache's graceful
	// restart (SIGTERM, again a second later, SIGKILL at 8 s). Its idle and
	// lifetime kills (SIGKILL 3 s after SIGTERM) only stop idle processes.
	stopGrace = 7500 * time.Millisecond
	// reloadGrace bounds a hand-over to new code; requests still running
	// then (long streams) are cut.
	reloadGrace = 30 * time.Second
)

// handoff is drain for a hand-over: each kept-alive connection, once
// idle, goes over the channel to (to a stand-in, or from one) if given, or
// is returned to be passed across exec, instead of being closed. stop reports a SIGTERM or SIGINT
// come meanwhile: then the process is to stop instead.
func (rt *Runtime) handoff(srv engine, grace time.Duration, sigs <-chan os.Signal, to *reload.Channel) (conns []*os.File, stop bool) {
	var mu sync.Mutex
	passed := 0
	pass := func(f *os.File) {
		sent := to != nil && to.Send(reload.MsgConn, f) == nil
		mu.Lock()
		defer mu.Unlock()
		if sent {
			f.Close()
			passed++
			return
		}
		conns = append(conns, f)
	}
	stop = rt.finishRequests(srv, grace, sigs, func(ctx context.Context) error { return srv.HandoffFunc(ctx, pass) })
	mu.Lock()
	defer mu.Unlock()
	if passed > 0 {
		rt.log.Info().Int("connections", passed).Msg("idle connections passed on to the process serving beside")
	}
	return conns, stop
}

// drain lets in-flight requests finish within grace; a second Ctrl-C
// ends them at once.
func (rt *Runtime) drain(srv engine, grace time.Duration, sigs <-chan os.Signal) {
	rt.finishRequests(srv, grace, sigs, srv.Shutdown)
}

// finishRequests runs finish (Shutdown or HandoffFunc) with grace as its
// deadline, closing srv when the deadline passes or cutShort says so. stop
// reports whether SIGTERM or SIGINT came meanwhile: from then on, the
// requests have stopGrace at most, as on a stop.
func (rt *Runtime) finishRequests(srv engine, grace time.Duration, sigs <-chan os.Signal,
	finish func(context.Context) error) (stop bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deadline := time.Now().Add(grace)
	cut := time.AfterFunc(grace, cancel)
	defer cut.Stop()
	done := make(chan error, 1)
	go func() { done <- finish(ctx) }()
	for {
		select {
		case err := <-done:
			// Only the grace passing leaves requests running: any other
			// error is closing a listener that stopListening closed.
			if err != nil && ctx.Err() != nil {
				rt.log.Warn().Dur("grace", grace).Msg("requests still running after the grace period were cut")
				srv.Close()
			}
			return stop
		case sig := <-sigs:
			stop = stop || stops(sig)
			if stop && time.Until(deadline) > stopGrace {
				deadline, grace = time.Now().Add(stopGrace), stopGrace
				cut.Reset(stopGrace)
			}
			if rt.cutShort(sig) {
				srv.Close()
				<-done
				return stop
			}
		}
	}
}

// stopPending takes the signals waiting in sigs and reports whether one
// stops the server.
func stopPending(sigs <-chan os.Signal) bool {
	stop := false
	for {
		select {
		case sig := <-sigs:
			stop = stop || stops(sig)
		default:
			return stop
		}
	}
}

func stops(sig os.Signal) bool { return sig == syscall.SIGTERM || sig == syscall.SIGINT }

// serveSignals are the signals that stop or reload a server.
var serveSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1}

// notifyServeSignals catches serveSignals.
func notifyServeSignals() chan os.Signal {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, serveSignals...)
	return sigs
}

// cutShort reports whether sig, come while requests are being finished,
// ends them at once: only SIGINT does (a second Ctrl-C). mod_fcgid sends
// SIGTERM twice on a graceful restart, and a reload asked for during a
// stop or a hand-over is one already under way.
func (rt *Runtime) cutShort(sig os.Signal) bool {
	if sig == syscall.SIGINT {
		rt.log.Warn().Msg("interrupted again: closing at once")
		return true
	}
	rt.log.Info().Str("signal", sig.String()).Msg("already finishing requests in progress")
	return false
}
