package reload

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The variables through which a process tells the code it re-executes what
// it passes on.
const (
	// SpawnInodeVar carries the inode of the file the web server first
	// started: mod_fcgid keys its process classes by it.
	SpawnInodeVar = "FCGI_HOSTING_SPAWN_INODE"
	// ListenFDVar carries the listening socket's descriptor (-listen).
	ListenFDVar = "FCGI_HOSTING_LISTEN_FD"
	// ActivatedFDsVar carries the sockets systemd passed (socket
	// activation), as colon-separated fd=name pairs: LISTEN_FDS itself is
	// unset at the start, so that no child takes the sockets for its own.
	ActivatedFDsVar = "FCGI_HOSTING_ACTIVATED_FDS"
	// ConnFDsVar carries kept-alive connections (responder.Server.Handoff),
	// as comma-separated descriptors.
	ConnFDsVar = "FCGI_HOSTING_CONN_FDS"
	// StandInVar makes the process a stand-in: the new code, started
	// beside the old on the same sockets, serving while the old finishes
	// its requests. Its value is "fd:pid": the descriptor of its end of the
	// Channel, and the PID of the process that started it.
	StandInVar = "FCGI_HOSTING_STAND_IN"
	// RetiringVar carries the PIDs of the stand-ins a process started
	// before it re-executed itself, comma-separated: still its children,
	// which the new code hands back to and reaps.
	RetiringVar = "FCGI_HOSTING_RETIRING"
)

// PassConns readies conns to survive exec and names them in the
// environment of the new code.
func PassConns(extra []string, conns []*os.File) ([]string, error) {
	if len(conns) == 0 {
		return extra, nil
	}
	fds := make([]string, len(conns))
	for i, f := range conns {
		if err := KeepOnExec(f); err != nil {
			return nil, err
		}
		fds[i] = strconv.Itoa(FD(f))
	}
	return append(extra, ConnFDsVar+"="+strings.Join(fds, ",")), nil
}

// KeepOnExec clears close-on-exec, so the descriptor passes to the new code.
func KeepOnExec(f *os.File) error {
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(FD(f)), syscall.F_SETFD, 0); e != 0 {
		return e
	}
	return nil
}

// FD is f's descriptor. Unlike f.Fd, it leaves a socket non-blocking, as
// its other holders need it: a stand-in accepting on the same socket
// would block in accept, past its own Close.
func FD(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(d uintptr) { fd = int(d) })
	}
	return fd
}

// InheritedConns are the connections named by ConnFDsVar's value v.
func InheritedConns(v string) []*os.File {
	var files []*os.File
	for _, s := range strings.Split(v, ",") {
		if fd, err := strconv.Atoi(s); err == nil && fd > 2 {
			files = append(files, os.NewFile(uintptr(fd), "connection"))
		}
	}
	return files
}

// ListenerFile is a duplicate of l's socket, to pass on.
func ListenerFile(l net.Listener) (*os.File, error) {
	if f, ok := l.(interface{ File() (*os.File, error) }); ok {
		return f.File()
	}
	return nil, errors.New("listener cannot be passed on")
}

// DupListener is a close-on-exec duplicate of l's socket, for a child
// process: unlike (*os.File).Fd, taking it leaves the socket non-blocking,
// which l's own deadlines rely on.
func DupListener(l net.Listener) (int, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return -1, errors.New("listener cannot be passed on")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	dup, derr := -1, error(nil)
	err = rc.Control(func(fd uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = e
			return
		}
		dup = int(r)
	})
	return dup, errors.Join(err, derr)
}
