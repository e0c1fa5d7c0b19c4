package hosting

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
)

// systemd socket activation (sd_listen_fds(3)): a .socket unit listens,
// and starts the service, on the first connection or at boot, with the
// sockets on fd 3 and up; LISTEN_FDS says how many, LISTEN_PID for which
// process, LISTEN_FDNAMES their FileDescriptorName= values, colon-separated.

// listenFDsStart is SD_LISTEN_FDS_START.
const listenFDsStart = 3

// activation is the sockets systemd passed.
type activation struct {
	socks []activatedSocket
	// passedOn: a previous run of the binary passed them across
	// re-execution; systemd's start was that run's.
	passedOn bool
}

type activatedSocket struct {
	fd   int
	name string // "unknown" when unnamed, as sd_listen_fds_with_names(3) says
}

// takeActivation finds the sockets systemd passed, or those a previous run
// of the binary passed on, and unsets the variables that name them, as
// sd_listen_fds(true) does: no child (a trial run, a program the site
// starts) may take the sockets for its own. ignored says why variables
// that were set are not used; a nil activation means none.
func takeActivation(environ *[]string) (act *activation, ignored string, err error) {
	if v, ok := takeEnv(environ, reload.ActivatedFDsVar); ok {
		act, err := parsePassedOn(v)
		return act, "", err
	}
	fds, hasFDs := takeEnv(environ, "LISTEN_FDS")
	pid, _ := takeEnv(environ, "LISTEN_PID")
	names, _ := takeEnv(environ, "LISTEN_FDNAMES")
	if !hasFDs {
		return nil, "", nil
	}
	if pid != strconv.Itoa(os.Getpid()) {
		// A wrapper that forked (rather than exec'd) us, or a parent that
		// leaked its own: the sockets are not ours to serve.
		return nil, fmt.Sprintf("LISTEN_FDS ignored: LISTEN_PID=%q is not this process (%d); "+
			"start the binary with exec from any wrapper script", pid, os.Getpid()), nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, "", fmt.Errorf("LISTEN_FDS=%q: want the number of sockets systemd passed", fds)
	}
	if n == 0 {
		return nil, "", nil
	}
	named := strings.Split(names, ":")
	act = &activation{}
	for i := range n {
		s := activatedSocket{fd: listenFDsStart + i, name: "unknown"}
		if names != "" && i < len(named) {
			s.name = named[i]
		}
		// Not to leak into programs the site starts before it serves.
		syscall.CloseOnExec(s.fd)
		act.socks = append(act.socks, s)
	}
	return act, "", nil
}

// parsePassedOn reads reload.ActivatedFDsVar's value v: fd=name pairs,
// colon-separated (systemd allows no colon in a name).
func parsePassedOn(v string) (*activation, error) {
	act := &activation{passedOn: true}
	for p := range strings.SplitSeq(v, ":") {
		fd, name, _ := strings.Cut(p, "=")
		n, err := strconv.Atoi(fd)
		if err != nil || n < listenFDsStart {
			return nil, fmt.Errorf("%s=%q: the previous run passed no usable descriptor; restart the service", reload.ActivatedFDsVar, v)
		}
		act.socks = append(act.socks, activatedSocket{fd: n, name: name})
	}
	return act, nil
}

// listeners serves each socket; each must be a listening stream socket.
// The descriptors themselves are closed (the listeners have duplicates):
// systemd keeps its own, which is what outlives this process.
func (act *activation) listeners() ([]net.Listener, error) {
	var ls []net.Listener
	for _, s := range act.socks {
		if v, err := syscall.GetsockoptInt(s.fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || v != 1 {
			return nil, fmt.Errorf("fd %d (%s) is no listening socket (%v): the .socket unit must use ListenStream= and Accept=no", s.fd, s.name, err)
		}
		f := os.NewFile(uintptr(s.fd), s.name)
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("fd %d (%s): %w", s.fd, s.name, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// serveActivated serves the sockets systemd passed, with -protocol. A stop
// closes only this process's copies: systemd keeps listening, queues the
// connections that come meanwhile and starts the service again for them.
func (rt *Runtime) serveActivated() int {
	fail := func(err error) int {
		rt.log.Error().Err(err).Msg("cannot serve the sockets systemd passed")
		fmt.Fprintf(rt.out, "%s: %v\n", rt.name, err)
		return 1
	}
	act := rt.ext.activated
	ls, err := act.listeners()
	if err != nil {
		return fail(err)
	}
	l := ls[0]
	if len(ls) > 1 {
		if l, err = newFanIn(ls); err != nil {
			return fail(err)
		}
	}
	if !act.passedOn {
		if rt.ext.listen != "" {
			rt.log.Warn().Str("listen", rt.ext.listen).Msg("-listen ignored: serving the sockets systemd passed (socket activation)")
		}
		if rt.ext.pidfile != "" {
			if err := writePidfile(rt.ext.pidfile); err != nil {
				l.Close()
				return fail(err)
			}
		}
	}
	addrs, names := make([]string, len(ls)), make([]string, len(ls))
	for i, l := range ls {
		addrs[i], names[i] = l.Addr().String(), act.socks[i].name
	}
	rt.log.Info().Str("listen", strings.Join(addrs, ", ")).Strs("fdnames", names).Str("from", "systemd socket activation").
		Msg("serving " + rt.ext.protocol.name())
	stopListening := func() []net.Conn {
		l.Close()
		if rt.ext.pidfile != "" {
			os.Remove(rt.ext.pidfile)
		}
		return nil
	}
	prepareExec := func() ([]string, error) {
		pairs := make([]string, len(ls))
		for i, l := range ls {
			f, err := rt.passListener(l)
			if err != nil {
				return nil, err
			}
			pairs[i] = strconv.Itoa(reload.FD(f)) + "=" + act.socks[i].name
		}
		return []string{reload.ActivatedFDsVar + "=" + strings.Join(pairs, ":")}, nil
	}
	return rt.serveLoop(reload.PausingListener{Listener: l}, stopListening, prepareExec, rt.standInSockets(ls, names), 0)
}
