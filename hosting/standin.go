package hosting

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
)

// A process that serves alone (lighttpd's max-procs 1, spawn-fcgi, H2O,
// -listen, systemd) hands over without making new requests wait for its
// long ones: it starts the new code as a stand-in, a child serving the
// same sockets, and only then stops accepting and finishes its requests.
// Then it re-executes itself in place, keeping the PID the web server or
// systemd tracks, and hands back: the stand-in stops accepting, finishes
// its own requests and exits, reaped by the re-executed code (retiring).
// The sockets always have a process accepting, or the kernel holds the
// connections until one does. Under Apache, which starts a process per
// request and keys them by inode, a hand-over is the plain re-exec.

// retireGrace bounds how long the old code, with a stand-in serving, or a
// stand-in handed back, may take to finish its requests: new requests do
// not wait for them.
const retireGrace = 2 * time.Minute

// standInFD is the stand-in's descriptor on which it says it serves; the
// sockets passed to it follow, from standInFD+1.
const standInFD = 3

// standInReady is what a stand-in writes once it serves.
const standInReady = "serving\n"

// standInSockets readies the listening sockets for a stand-in: whether
// it gets them on fd 0 (spawned so), close-on-exec duplicates to pass from
// standInFD+1 on, which the caller closes once the stand-in started, and
// what its environment says of them. Raw descriptors: (*os.File).Fd would
// make the sockets blocking, for this process too.
type standInSockets func() (onStdin bool, fds []int, env []string, err error)

// alongside reports whether a hand-over starts a stand-in first. Not for
// -protocol http yet: across such hand-overs, a request in about 2,000
// failed with EOF (TestExternal_HTTP), which its plain hand-over never does.
func (rt *Runtime) alongside() bool {
	return rt.spawner != spawnerApache && rt.ext.protocol != protoHTTP
}

// standInResult is how starting a stand-in went.
type standInResult int

const (
	standInServes standInResult = iota
	standInFailed               // it did not serve: the old code serves on, as when a new binary fails its trial
	noStandIn                   // none could be started (no process left under the host's limit...): hand over without
)

// startStandIn starts the code at rt.exe beside this process on its
// sockets, and waits until it serves.
func (rt *Runtime) startStandIn(sockets standInSockets) standInResult {
	cannot := func(err error) standInResult {
		rt.log.Warn().Err(err).Msg("cannot start the new code beside the old: finishing requests in progress, new ones wait")
		return noStandIn
	}
	fail := func(err error) standInResult {
		rt.log.Error().Err(err).Msg("the new code did not start; the old code keeps serving")
		return standInFailed
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
	ready, told, err := os.Pipe()
	if err != nil {
		return cannot(err)
	}
	defer ready.Close()
	env = append(slices.Clip(rt.environ), append(env,
		reload.SpawnInodeVar+"="+strconv.FormatUint(rt.handover.spawnIno, 10),
		reload.StandInVar+"="+strconv.Itoa(standInFD))...)
	files := []uintptr{uintptr(stdin), 1, 2, told.Fd()}
	for _, fd := range fds {
		files = append(files, uintptr(fd))
	}
	pid, err := syscall.ForkExec(rt.exe, os.Args, &syscall.ProcAttr{Env: env, Files: files, Sys: standInAttr})
	told.Close()
	if err != nil {
		return cannot(err)
	}
	exited := rt.retiring.add(pid, false) // reaped there, across exec too

	said := make(chan error, 1)
	go func() {
		b := make([]byte, len(standInReady))
		_, err := io.ReadFull(ready, b)
		if err == nil && string(b) != standInReady {
			err = errors.New("it said " + strconv.Quote(string(b)))
		}
		said <- err
	}()
	select {
	case err = <-said:
		if err != nil {
			err = fmt.Errorf("it exited before serving (%v); its output is in the web server's error log", err)
		}
	case <-exited:
		err = errors.New("it exited before serving; its output is in the web server's error log")
	case <-time.After(trialTimeout):
		err = fmt.Errorf("it did not serve within %v", trialTimeout)
	}
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		<-exited
		return fail(err)
	}
	rt.log.Info().Int("stand_in", pid).Msg("the new code serves beside the old, which finishes its requests")
	return standInServes
}

// serveStandIn is the serve loop of a stand-in: it serves l until handed
// back (SIGUSR2) or stopped, leaving reloads to the process that started
// it, then finishes its requests and exits. The sockets and their files
// stay: they are the process's that started it.
func (rt *Runtime) serveStandIn(l reload.PausingListener) int {
	sigs := rt.handover.sigs
	defer signal.Stop(sigs)
	srv, served := rt.startServer(l)
	_, err := rt.handover.standIn.WriteString(standInReady)
	rt.handover.standIn.Close()
	if err != nil {
		// The process that started it gave up waiting and serves on.
		l.Listener.Close()
		rt.drain(srv, stopGrace, sigs)
		<-served
		return 1
	}
	// A parent gone without handing back (killed, or stopped between its
	// exec and catching signals) would leave this process serving alone,
	// one nobody tracks, and holding the socket a restarted server wants:
	// then it stops. standInAttr's SIGHUP says so at once where it can.
	parent := os.Getppid()
	orphaned := time.NewTicker(time.Second)
	defer orphaned.Stop()
	for {
		grace, reason := stopGrace, ""
		select {
		case err := <-served:
			rt.log.Error().Err(err).Msg("serving stopped")
			l.Listener.Close()
			return 1
		case <-orphaned.C:
			if os.Getppid() == parent {
				continue
			}
			reason = "the process that started it is gone"
		case sig := <-sigs:
			reason = "signal " + sig.String()
			switch sig {
			case syscall.SIGUSR2:
				grace, reason = retireGrace, "handed back to the re-executed code"
			case syscall.SIGHUP, syscall.SIGUSR1:
				if os.Getppid() == parent {
					rt.log.Info().Str("signal", sig.String()).Msg("reload left to the process serving before this stand-in")
					continue
				}
				reason = "the process that started it is gone"
			}
		}
		rt.log.Info().Str("reason", reason).Msg("stand-in stopping: finishing requests in progress")
		l.Listener.Close()
		rt.drain(srv, grace, sigs)
		<-served
		rt.log.Info().Msg("stand-in stopped")
		return 0
	}
}

// enterStandIn makes this process a stand-in, which says on fd that it
// serves; sigs are caught already.
func (rt *Runtime) enterStandIn(fd string) {
	n, err := strconv.Atoi(fd)
	if err != nil || n < standInFD {
		return
	}
	syscall.CloseOnExec(n)
	rt.handover.standIn = os.NewFile(uintptr(n), "stand-in")
	signal.Notify(rt.handover.sigs, syscall.SIGUSR2)
}
