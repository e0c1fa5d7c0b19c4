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
		fds[i] = strconv.Itoa(int(f.Fd()))
	}
	return append(extra, ConnFDsVar+"="+strings.Join(fds, ",")), nil
}

// KeepOnExec clears close-on-exec, so the descriptor passes to the new code.
func KeepOnExec(f *os.File) error {
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETFD, 0); e != 0 {
		return e
	}
	return nil
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
