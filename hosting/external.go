package hosting

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/responder"
)

// externalFlags are runfcgi's options for a server of its own.
type externalFlags struct {
	listen      string
	protocol    protocol
	socketMode  string
	pidfile     string
	workdir     string
	daemonize   bool
	maxRequests int
	maxConns    int
	maxReqs     int
	activated   *activation // the sockets systemd passed, which win over -listen
}

// serveExternal serves FastCGI (or SCGI, AJP13, HTTP: -protocol) on an address
// of its own (-listen), like runfcgi's host/port/socket modes, or on the
// sockets systemd passed.
func (rt *Runtime) serveExternal() int {
	if rt.ext.activated != nil {
		return rt.serveActivated()
	}
	l, err := rt.externalListener()
	if err != nil {
		rt.log.Error().Err(err).Str("listen", rt.ext.listen).Msg("cannot listen")
		fmt.Fprintf(rt.out, "%s: %v\n", rt.name, err)
		return 1
	}
	if rt.ext.pidfile != "" && rt.handover.listenFD == 0 {
		if err := writePidfile(rt.ext.pidfile); err != nil {
			rt.log.Error().Err(err).Msg("pidfile")
			fmt.Fprintf(rt.out, "%s: %v\n", rt.name, err)
			l.Close()
			return 1
		}
	}
	rt.log.Info().Str("listen", rt.ext.listen).Msg("serving " + rt.ext.protocol.name())
	socketPath, isUnix := strings.CutPrefix(rt.ext.listen, "unix:")
	stopListening := func() []net.Conn {
		l.Close()
		if isUnix {
			os.Remove(socketPath)
		}
		if rt.ext.pidfile != "" {
			os.Remove(rt.ext.pidfile)
		}
		return nil
	}
	prepareExec := func() ([]string, error) {
		f, err := rt.passListener(l)
		if err != nil {
			return nil, err
		}
		return []string{reload.ListenFDVar + "=" + strconv.Itoa(reload.FD(f))}, nil
	}
	return rt.serveLoop(reload.PausingListener{Listener: l}, stopListening, prepareExec, rt.standInSockets([]net.Listener{l}, nil), 0)
}

// standInSockets passes ls to a stand-in from standInFD+1 on, named by
// reload.ListenFDVar, or reload.ActivatedFDsVar with names when given.
func (rt *Runtime) standInSockets(ls []net.Listener, names []string) standInSockets {
	return func() (_ bool, fds []int, env []string, err error) {
		pairs := make([]string, len(ls))
		for i, l := range ls {
			fd, err := reload.DupListener(l)
			if err != nil {
				return false, fds, nil, err
			}
			fds = append(fds, fd)
			pairs[i] = strconv.Itoa(standInFD + 1 + i)
			if names != nil {
				pairs[i] += "=" + names[i]
			}
		}
		if names == nil {
			return false, fds, []string{reload.ListenFDVar + "=" + pairs[0]}, nil
		}
		return false, fds, []string{reload.ActivatedFDsVar + "=" + strings.Join(pairs, ":")}, nil
	}
}

// passListener readies l's socket for the code re-executed: a duplicate
// without close-on-exec, for the new code to serve.
func (rt *Runtime) passListener(l net.Listener) (*os.File, error) {
	f, err := reload.ListenerFile(l)
	if err != nil {
		return nil, err
	}
	rt.handover.readied = append(rt.handover.readied, f) // no finalizer may close it before exec
	if err := reload.KeepOnExec(f); err != nil {
		return nil, err
	}
	return f, nil
}

// speaking wraps l for the -protocol asked for.
func (ext *externalFlags) speaking(l net.Listener) net.Listener {
	switch ext.protocol {
	case protoSCGI:
		return responder.NewSCGIListener(l)
	case protoAJP:
		return responder.NewAJPListener(l)
	}
	return l
}

// speakingConn wraps a connection a previous run passed on; only AJP13's,
// besides FastCGI's, are.
func (ext *externalFlags) speakingConn(c net.Conn) net.Conn {
	if ext.protocol == protoAJP {
		return responder.NewAJPConn(c)
	}
	return c
}

// externalListener listens on -listen, or takes the socket a previous
// run of the binary passed on. A unix socket file left by a dead process
// is replaced; one a live process answers on is not taken over.
func (rt *Runtime) externalListener() (net.Listener, error) {
	if rt.handover.listenFD > 0 {
		f := os.NewFile(uintptr(rt.handover.listenFD), "listener")
		defer f.Close()
		return net.FileListener(f)
	}
	path, isUnix := strings.CutPrefix(rt.ext.listen, "unix:")
	if !isUnix {
		return net.Listen("tcp", rt.ext.listen)
	}
	var mode uint64
	if rt.ext.socketMode != "" {
		var err error
		if mode, err = strconv.ParseUint(rt.ext.socketMode, 8, 32); err != nil || mode > 0o777 {
			return nil, fmt.Errorf("-socket-mode %q: want an octal mode such as 0660", rt.ext.socketMode)
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket; not touching it", path)
		}
		if socketInUse(path) {
			return nil, fmt.Errorf("%s is in use by a running server; stop it first", path)
		}
		os.Remove(path) // stale: nobody listens
	}
	if mode != 0 {
		// Created with the mode, not changed to it after: a socket is
		// never open to more peers than the mode allows, even for a moment.
		old := syscall.Umask(int(^mode & 0o777))
		defer syscall.Umask(old)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	return l, nil
}

// socketInUse reports whether a process listens on the unix socket at
// path, and keeps doing so for a moment: a server killed during a
// hand-over leaves the new code it started beside it, which closes the
// socket as soon as it finds itself alone, and a restart must not be
// refused for that.
func socketInUse(path string) bool {
	const settle = 3 * time.Second
	for deadline := time.Now().Add(settle); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("unix", path)
		if err != nil {
			return false
		}
		c.Close()
		if time.Now().After(deadline) {
			return true
		}
	}
}

// writePidfile writes the PID; a pidfile naming a live process is an
// error, a stale one is replaced.
func writePidfile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() {
			if syscall.Kill(pid, 0) == nil {
				return fmt.Errorf("pidfile %s names process %d, which is running", path, pid)
			}
		}
	}
	// Written beside and renamed over: a symlink planted at path is
	// replaced, never followed to clobber what it points to.
	f, err := os.CreateTemp(filepath.Dir(path), ".pid-")
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// daemonize starts the same command detached (a new session, no terminal,
// standard streams on /dev/null: the log file has the output) and returns
// the exit status for the parent.
func (rt *Runtime) daemonize(args []string) int {
	var childArgs []string
	for _, a := range args {
		if a == "-daemonize" || a == "--daemonize" || strings.HasPrefix(a, "-daemonize=") || strings.HasPrefix(a, "--daemonize=") {
			continue
		}
		childArgs = append(childArgs, a)
	}
	cmd := exec.Command(rt.exe, childArgs...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(rt.out, "%s: -daemonize: %v\n", rt.name, err)
		return 1
	}
	fmt.Fprintf(rt.out, "%s: started in the background as process %d\n", rt.name, cmd.Process.Pid)
	return 0
}
