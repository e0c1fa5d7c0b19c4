package hosting

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/spawner"
)

// A process that serves alone (lighttpd's max-procs 1, spawn-fcgi, H2O,
// -listen, systemd) hands over without making new requests wait for its
// long ones: it starts the new code as a stand-in, a child serving the
// same sockets, and only then stops accepting and finishes its requests,
// passing each connection to the stand-in once idle (or accepted and not
// yet read from): a web server may send on one at any moment. Then it
// re-executes itself in place, keeping the PID the web server or systemd
// tracks, and hands back over the same channel: the stand-in stops
// accepting, passes its idle connections back, finishes its own requests
// and exits, reaped by the re-executed code (retiring). The sockets always
// have a process accepting, or the kernel holds the connections until one
// does; no connection is closed under a web server. Under Apache, which starts a process per
// request and keys them by inode, a hand-over is the plain re-exec.

// retireGrace bounds how long the old code, with a stand-in serving, or a
// stand-in handed back, may take to finish its requests: new requests do
// not wait for them.
const retireGrace = 2 * time.Minute

// standInFD is the stand-in's end of its channel (reload.Channel); the
// sockets passed to it follow, from standInFD+1.
const standInFD = 3

// standInSockets readies the listening sockets for a stand-in: whether
// it gets them on fd 0 (spawned so), close-on-exec duplicates to pass from
// standInFD+1 on, which the caller closes once the stand-in started, and
// what its environment says of them. Raw descriptors: (*os.File).Fd would
// make the sockets blocking, for this process too.
type standInSockets func() (onStdin bool, fds []int, env []string, err error)

// alongside reports whether a hand-over starts a stand-in first.
func (rt *Runtime) alongside() bool { return rt.spawner != spawner.Apache }

// standInResult is how starting a stand-in went.
type standInResult int

const (
	standInServes standInResult = iota
	standInFailed               // it did not serve: the old code serves on, as when a new binary fails its trial
	noStandIn                   // none could be started (no process left under the host's limit...): hand over without
)

// startStandIn starts the code at rt.exe beside this process on its
// sockets, and waits until it serves.
func (rt *Runtime) startStandIn(sockets standInSockets) (*standIn, standInResult) {
	cannot := func(err error) (*standIn, standInResult) {
		rt.log.Warn().Err(err).Msg("cannot start the new code beside the old: finishing requests in progress, new ones wait")
		return nil, noStandIn
	}
	fail := func(err error) (*standIn, standInResult) {
		rt.log.Error().Err(err).Msg("the new code did not start; the old code keeps serving")
		return nil, standInFailed
	}
	onStdin, fds, env, err := sockets()
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	if err != nil {
		return cannot(err)
	}
	stdin := 0
	if !onStdin {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return cannot(err)
		}
		defer null.Close()
		stdin = int(null.Fd())
	}
	ch, theirs, err := reload.NewChannel()
	if err != nil {
		return cannot(err)
	}
	env = append(slices.Clip(rt.environ), append(env,
		reload.SpawnInodeVar+"="+strconv.FormatUint(rt.handover.spawnIno, 10),
		reload.StandInVar+"="+strconv.Itoa(standInFD)+":"+strconv.Itoa(os.Getpid()))...)
	files := []uintptr{uintptr(stdin), 1, 2, uintptr(reload.FD(theirs))}
	for _, fd := range fds {
		files = append(files, uintptr(fd))
	}
	pid, err := syscall.ForkExec(rt.exe, os.Args, &syscall.ProcAttr{Env: env, Files: files})
	theirs.Close()
	if err != nil {
		ch.Close()
		return cannot(err)
	}
	s := rt.retiring.add(pid, ch, false) // reaped there, across exec too
	select {
	case <-s.serving:
	case <-s.exited:
		err = errors.New("it exited before serving; its output is in the web server's error log")
	case <-time.After(trialTimeout):
		err = fmt.Errorf("it did not serve within %v", trialTimeout)
	}
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		<-s.exited
		return fail(err)
	}
	rt.log.Info().Int("stand_in", pid).Msg("the new code serves beside the old, which finishes its requests")
	return s, standInServes
}

// serveStandIn is the serve loop of a stand-in: it serves l, and the
// connections the process that started it passes on, until told to step
// back or to stop, leaving reloads to that process; then it finishes its
// requests and exits. Stepping back, it passes its idle connections back.
// The sockets and their files stay: they are the process's that started it.
func (rt *Runtime) serveStandIn(l reload.PausingListener) int {
	sigs, ch := rt.handover.sigs, rt.handover.standIn
	defer signal.Stop(sigs)
	defer ch.Close()
	if os.Getppid() != rt.handover.standInParent {
		// Killed while this process started: the socket is for the
		// server started again, not for code nobody tracks.
		rt.log.Info().Msg("stand-in not serving: the process that started it is gone")
		l.Listener.Close()
		return 1
	}
	srv, served := rt.startServer(l)
	stepBack, orphaned := make(chan struct{}), make(chan struct{})
	go func() {
		for {
			msg, f, err := ch.Receive()
			switch {
			case err != nil:
				// Closed by every process that had it: the process that
				// started it is gone, without telling it to step back
				// (killed, or stopped between its exec and catching
				// signals). Serving on would leave a process nobody
				// tracks, holding the socket a restarted server wants.
				close(orphaned)
				return
			case msg == reload.MsgConn && f != nil:
				rt.serveConn(f)
			case msg == reload.MsgStepBack:
				close(stepBack)
				return // nothing comes after it
			case f != nil:
				f.Close()
			}
		}
	}()
	if err := ch.Send(reload.MsgServing, nil); err != nil {
		// The process that started it gave up waiting and serves on.
		l.Listener.Close()
		rt.drain(srv, stopGrace, sigs)
		<-served
		return 1
	}
	for {
		var reason string
		select {
		case err := <-served:
			rt.log.Error().Err(err).Msg("serving stopped")
			l.Listener.Close()
			return 1
		case <-orphaned:
			reason = "the process that started it is gone"
		case <-stepBack:
			rt.log.Info().Msg("stand-in stepping back: the re-executed code serves; finishing requests in progress")
			l.Listener.Close()
			conns, _ := rt.handoff(srv, retireGrace, sigs, ch)
			for _, f := range conns {
				f.Close() // the channel broke: the process that started it is gone
			}
			<-served
			rt.log.Info().Msg("stand-in stopped")
			return 0
		case sig := <-sigs:
			if !stops(sig) {
				rt.log.Info().Str("signal", sig.String()).Msg("reload left to the process serving before this stand-in")
				continue
			}
			reason = "signal " + sig.String()
		}
		rt.log.Info().Str("reason", reason).Msg("stand-in stopping: finishing requests in progress")
		l.Listener.Close()
		rt.drain(srv, stopGrace, sigs)
		<-served
		rt.log.Info().Msg("stand-in stopped")
		return 0
	}
}

// enterStandIn makes this process a stand-in, talking over the channel on
// the descriptor v names, with the PID of the process that started it
// ("fd:pid"); sigs are caught already.
func (rt *Runtime) enterStandIn(v string) error {
	fd, parent, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(fd)
	pid, perr := strconv.Atoi(parent)
	if err != nil || perr != nil || n < standInFD || pid <= 1 {
		return errors.New("stand-in channel passed on as " + strconv.Quote(v))
	}
	rt.handover.standInParent = pid
	rt.handover.standIn, err = reload.ChannelFromFD(n)
	return err
}
