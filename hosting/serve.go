package hosting

import (
	"errors"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/spawner"
)

// serveLoop serves l until a signal, a change of the binary or settings
// file, or a process policy ends it: by exiting (stopListening first), or
// by re-executing the binary in place, which keeps the PID and the
// listening socket, so that connections queued meanwhile are served by the
// new code. stopListening returns the connections the web server made
// before the socket stopped taking them, still to be served. prepareExec
// readies the socket for the new process and returns what to add to its
// environment; standInSockets readies it for a stand-in, which serves
// meanwhile (standin.go).
func (rt *Runtime) serveLoop(l reload.PausingListener, stopListening func() []net.Conn, prepareExec func() ([]string, error),
	standInSockets standInSockets, idleTimeout time.Duration) int {
	if rt.handover.standIn != nil {
		return rt.serveStandIn(l)
	}
	defer rt.retiring.stop(rt.log) // none outlives this process
	sigs := rt.handover.sigs
	if sigs == nil {
		sigs = notifyServeSignals()
	}
	defer signal.Stop(sigs)

	var changes <-chan string
	var w *reload.Watcher
	if rt.settings.ReloadPoll > 0 {
		w = reload.NewWatcher(rt.watched, rt.settings.ReloadPoll, rt.log)
		defer w.Close()
		changes = w.Changed
	}
	var idle <-chan time.Time
	if idleTimeout > 0 {
		t := time.NewTicker(max(idleTimeout/4, 100*time.Millisecond))
		defer t.Stop()
		idle = t.C
	}

	srv, served := rt.startServer(l)
	rt.retiring.handBack() // serving: the stand-ins of the code before this one step back
	defer rt.endTrial()
	for {
		ev := rt.nextEvent(served, sigs, changes, idle)
		d := decide(ev, idleTimeout)
		if d.action == handOver && !d.adopt {
			d = rt.checkBinary(d, w)
		}
		if d.adopt {
			if err := rt.adopt(); err != nil {
				rt.log.Error().Err(err).Msg("cannot put the new binary in place; the old code keeps serving")
				d = decision{action: keepServing}
			} else {
				rt.log.Info().Str("reason", d.reason).Msg("the new binary is in place")
			}
		}
		switch d.action {
		case keepServing:
		case refuseChange:
			line := rt.log.Error().Err(d.err)
			if te := (*trialError)(nil); errors.As(d.err, &te) {
				line = line.Str("output", te.output)
			}
			line.Msg(d.reason)
			if d.reject {
				rt.reject()
			}
			if w != nil {
				w.Accept(ev.path, ev.state) // reported again only when it changes once more
			}
		case retryLater:
			if w != nil {
				w.Forget(ev.path)
			}
		case tryStaged:
			if !rt.startTrial(ev.path, true, d.reason) && w != nil {
				w.Forget(ev.path) // busy with another trial: look again later
			}
		case exitFailed:
			rt.log.Error().Err(d.err).Msg(d.reason)
			for _, c := range stopListening() {
				c.Close()
			}
			return 1
		case stopServing:
			rt.endTrial()
			rt.log.Info().Str("reason", d.reason).Msg("stopping: finishing requests in progress")
			rt.serveQueued(srv, stopListening())
			rt.retiring.terminate() // finishing theirs meanwhile
			rt.drain(srv, stopGrace, sigs)
			<-served
			rt.log.Info().Msg("stopped")
			return 0
		case handOver:
			rt.endTrial()
			grace := reloadGrace
			var beside *standIn
			if rt.alongside() {
				rt.log.Info().Str("reason", d.reason).Msg("handing over to the new code: starting it beside the old")
				var res standInResult
				switch beside, res = rt.startStandIn(standInSockets); res {
				case standInFailed:
					continue
				case standInServes:
					grace = retireGrace // new requests do not wait for these
				}
			} else {
				rt.log.Info().Str("reason", d.reason).Msg("handing over to the new code: finishing requests in progress")
			}
			rt.noteReload(d.reason)
			if stopped := rt.reexec(srv, served, stopListening, prepareExec, sigs, grace, beside); stopped {
				return 0
			}
			l.Resume()
			srv, served = rt.startServer(l)
			rt.retiring.handBack() // the old code serves on
		}
		if ev.kind == trialEnded {
			rt.endTrial() // only now: the staged file stays locked until renamed
		}
	}
}

// serveQueued has srv serve the connections the web server made before the
// socket stopped taking them: each has a request on its way.
func (rt *Runtime) serveQueued(srv engine, queued []net.Conn) {
	if len(queued) > 0 {
		rt.log.Info().Int("connections", len(queued)).Msg("serving the connections queued as the socket closed")
	}
	for _, c := range queued {
		srv.ServeConn(rt.ext.speakingConn(c))
	}
}

// checkBinary lets a hand-over go ahead only to a binary that passed a
// trial: an untried one is tried first, the old code serving meanwhile,
// and a refused one is not handed over to.
func (rt *Runtime) checkBinary(d decision, w *reload.Watcher) decision {
	switch rt.binaryVerdict() {
	case good:
		return d
	case refused:
		rt.log.Error().Str("reason", d.reason).Msg("not handing over: " + filepath.Base(rt.exe) + " failed its trial; the old code keeps serving")
		return decision{action: keepServing}
	}
	if t := rt.upgrade.trial; t != nil && t.staged {
		// The binary in place goes first; the staged upload is looked at
		// again once the hand-over is done (by the new code) or refused.
		rt.endTrial()
		if w != nil {
			w.Forget(rt.stagedPath())
		}
	}
	rt.startTrial(rt.exe, false, d.reason) // unless one is running: it ends in a hand-over or a refusal
	return decision{action: keepServing}
}

// startServer serves l with a new engine, first the connections a previous
// run passed on; served gets what Serve returns.
func (rt *Runtime) startServer(l net.Listener) (srv engine, served <-chan error) {
	srv = rt.newServer()
	done := make(chan error, 1)
	rt.adoptConns(srv)
	go func() { done <- srv.Serve(rt.ext.speaking(l)) }()
	return srv, done
}

// nextEvent waits for the next event and gathers the facts decide needs.
func (rt *Runtime) nextEvent(served <-chan error, sigs <-chan os.Signal, changes <-chan string, idle <-chan time.Time) event {
	select {
	case err := <-served:
		return event{kind: serveEnded, err: err}
	case sig := <-sigs:
		return event{kind: gotSignal, sig: sig}
	case path := <-changes:
		return rt.changeEvent(path)
	case why := <-rt.policies.recycle:
		return event{kind: policyAsked, why: why}
	case <-idle:
		return event{kind: idleCheck, idleFor: rt.policies.idleFor()}
	case err := <-rt.trialDone():
		return rt.trialEvent(err)
	}
}

// changeEvent is the change of path, with what stands in its way.
func (rt *Runtime) changeEvent(path string) event {
	ev := event{kind: fileChanged, path: path, state: reload.StatFile(path), binary: path == rt.exe, staged: path == rt.stagedPath()}
	switch {
	case ev.staged:
		ev.gone = !ev.state.Exists()
		if !ev.gone {
			ev.err = reload.CheckProgram(path)
		}
	case (path == rt.envPath() || path == rt.devEnvPath()) && rt.settingsErr == nil:
		ev.err = rt.checkNewSettings()
	case ev.binary:
		ev.err = reload.CheckExecutable(rt.exe)
		ev.newFile = ev.err == nil && rt.spawner == spawner.Apache && reload.StatFile(rt.exe).Inode() != rt.handover.spawnIno
	}
	return ev
}

// reexec finishes the requests in progress and re-executes the binary in
// place, passing on the connections kept alive: to the stand-in serving
// beside, if any, as each becomes idle, otherwise across the exec. It
// returns stopped when a SIGTERM or SIGINT came meanwhile and the process
// stopped listening instead; otherwise the hand-over failed, and the old
// code is to serve on.
func (rt *Runtime) reexec(srv engine, served <-chan error, stopListening func() []net.Conn, prepareExec func() ([]string, error),
	sigs chan os.Signal, grace time.Duration, beside *standIn) (stopped bool) {
	var to *reload.Channel
	if beside != nil {
		to = beside.ch
	}
	rt.handingOver(to)
	conns, stop := rt.handoff(srv, grace, sigs, to)
	<-served
	rt.keepConns(conns) // served again if the hand-over fails
	stopInstead := func(why string) bool {
		for _, c := range rt.keepConns(nil) {
			c.Close()
		}
		// Connections queued while the requests in progress finished were
		// waiting for the new code: served by a server of their own.
		if queued := stopListening(); len(queued) > 0 {
			last := rt.newServer()
			rt.serveQueued(last, queued)
			rt.drain(last, stopGrace, sigs)
		}
		rt.log.Info().Str("reason", why).Msg("stopped instead of handing over")
		return true
	}
	// A SIGTERM or SIGINT that came during the hand-over, or comes until
	// the exec, would be lost to the new code.
	const askedToStop = "asked to stop meanwhile"
	if stop || stopPending(sigs) {
		return stopInstead(askedToStop)
	}
	if err := reload.CheckExecutable(rt.exe); err != nil {
		rt.log.Error().Err(err).Msg("cannot hand over; the old code keeps serving")
		return false
	}
	if rt.spawner == spawner.Apache && reload.StatFile(rt.exe).Inode() != rt.handover.spawnIno {
		// A new file took the binary's place during the hand-over.
		// mod_fcgid starts it as a process class of its own; executed
		// here, it would run in the old class, idle until killed.
		return stopInstead(filepath.Base(rt.exe) + " replaced by a new file, which Apache starts")
	}
	extra, err := prepareExec()
	if err == nil {
		// From here a stop signal ends the process at once, as it would the
		// new code before that catches signals: caught now, it would be lost
		// with this image. Every request is finished; the connections passed
		// on are idle. The kernel's default action, not signal.Reset's: see
		// reload.KernelDefault.
		var restoreSignals func()
		if restoreSignals, err = reload.KernelDefault(syscall.SIGTERM, syscall.SIGINT); err != nil {
			rt.log.Error().Err(err).Msg("cannot hand over; the old code keeps serving")
			return false
		}
		// A SIGHUP, which a stand-in's answers may prompt before the new
		// code catches signals, must not end it: ignored, as the new code
		// inherits, it asks for nothing the new code does not run.
		signal.Ignore(syscall.SIGHUP)
		// Once Stop returns, a signal the runtime took before is in sigs.
		signal.Stop(sigs)
		// The stand-ins pass nothing more to this image: what they send
		// now waits in the socket for the new code.
		standIns, unlock := rt.retiring.lockForExec()
		if stopPending(sigs) {
			unlock()
			return stopInstead(askedToStop)
		}
		conns := rt.keepConns(nil)
		extra, err = reload.PassConns(extra, conns)
		if err == nil {
			rt.log.Info().Int("connections", len(conns)).Msg("re-executing in place")
			env := append(slices.Clip(rt.environ), reload.SpawnInodeVar+"="+strconv.FormatUint(rt.handover.spawnIno, 10))
			if standIns != "" {
				env = append(env, reload.RetiringVar+"="+standIns)
			}
			err = syscall.Exec(rt.exe, os.Args, append(env, extra...))
		}
		unlock()
		restoreSignals()
		signal.Notify(sigs, serveSignals...)
	}
	rt.log.Error().Err(err).Msg("re-exec failed; the old code keeps serving")
	return false
}
