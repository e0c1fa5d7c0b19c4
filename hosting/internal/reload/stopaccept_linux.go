package reload

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// StopAccepting makes the listening unix socket l refuse new connections,
// and returns those already queued on it, which its close would reset.
// mod_fcgid connects to a process it holds idle, at any moment: a refused
// connect() is retried on another process, but a connection reset after it
// was made is a 500 for the visitor. Other listeners are left as they are,
// and nil is returned: a TCP listener shut down drops its queue.
func StopAccepting(l net.Listener) []net.Conn {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	if _, unix := l.Addr().(*net.UnixAddr); !unix {
		return nil
	}
	var fds []int
	rc.Control(func(fd uintptr) {
		// Shut for reading, a listening unix socket refuses connect()
		// (ECONNREFUSED) while what it queued can still be accepted.
		if syscall.Shutdown(int(fd), syscall.SHUT_RD) != nil {
			return
		}
		for {
			nfd, _, err := syscall.Accept4(int(fd), syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK)
			switch {
			case err == nil:
				fds = append(fds, nfd)
			case errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ECONNABORTED):
			default: // EAGAIN: nothing more is queued
				return
			}
		}
	})
	var conns []net.Conn
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "queued connection")
		c, err := net.FileConn(f)
		f.Close()
		if err == nil {
			conns = append(conns, c)
		}
	}
	return conns
}
