//go:build !386

package rawunix

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Listener accepts connections on a unix listening socket as raw
// descriptors and returns them as *Conn.
type Listener struct {
	f      *os.File // the socket, registered with the poller
	rc     syscall.RawConn
	laddr  net.Addr
	closed atomic.Bool
	w      *waiter // shared by its connections

	mu       sync.Mutex // one Accept at a time: the fields below are its results
	nfd      int
	errno    syscall.Errno
	acceptFn func(fd uintptr) bool // l.accept4, bound once: a method value per call would allocate
}

// Wrap returns a Listener in place of l if l is a unix listener, else l.
// The Listener takes over l's descriptor: l is closed, and Close closes
// the Listener's. Neither removes the socket's file.
func Wrap(l net.Listener) (net.Listener, error) {
	ul, ok := l.(*net.UnixListener)
	if !ok {
		return l, nil
	}
	// A UnixListener's RawConn cannot wait for a connection (its Read
	// fails); an *os.File's can. File is a non-blocking duplicate.
	f, err := ul.File()
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	w, err := newWaiter()
	if err != nil {
		f.Close()
		return nil, err
	}
	rl := &Listener{f: f, rc: rc, laddr: ul.Addr(), w: w}
	rl.acceptFn = rl.accept4
	ul.SetUnlinkOnClose(false)
	ul.Close()
	return rl, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		// Read waits in the poller while accept4 reports EAGAIN, and
		// fails once the listener is closed or its deadline has passed.
		if err := l.rc.Read(l.acceptFn); err != nil {
			if l.closed.Load() {
				err = net.ErrClosed // not the poller's "use of closed file"
			}
			return nil, &net.OpError{Op: "accept", Net: "unix", Addr: l.laddr, Err: err}
		}
		switch l.errno {
		case 0:
			return &Conn{fd: l.nfd, laddr: l.laddr, w: l.w}, nil
		case syscall.ECONNABORTED:
			continue // gone before it was accepted; net retries too
		}
		return nil, &net.OpError{Op: "accept", Net: "unix", Addr: l.laddr, Err: os.NewSyscallError("accept4", l.errno)}
	}
}

func (l *Listener) accept4(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, fd, 0, 0, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		l.nfd, l.errno = int(r), e
		return e != syscall.EAGAIN
	}
}

// Close closes the listening socket (this descriptor of it).
func (l *Listener) Close() error {
	l.closed.Store(true)
	return l.f.Close()
}

// SyscallConn gives access to the listening socket's descriptor.
func (l *Listener) SyscallConn() (syscall.RawConn, error) { return l.rc, nil }

// Addr is the socket's address.
func (l *Listener) Addr() net.Addr { return l.laddr }

// SetDeadline makes Accept fail with os.ErrDeadlineExceeded once t has
// passed; the zero time lets it wait again.
func (l *Listener) SetDeadline(t time.Time) error { return l.f.SetDeadline(t) }
