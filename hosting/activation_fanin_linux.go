package hosting

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// fanIn serves several listening sockets (a .socket unit with more than
// one ListenStream=) as the one listener serveLoop takes. Only Accept
// accepts, on the socket an epoll instance says has a connection queued:
// a connection accepted ahead, in the background, that no Accept then took
// would be lost at a hand-over, whereas one left in its socket's queue
// passes to the new code. The epoll descriptor is itself in Go's poller,
// so a wait for it obeys SetDeadline, which pauses Accept.
type fanIn struct {
	ls   []fanInListener
	byFD map[int32]int // socket descriptor to index in ls
	ep   *os.File      // the epoll instance; readable when a socket is
	rc   syscall.RawConn

	closed atomic.Bool
}

// fanInListener is what net.FileListener makes of a TCP or unix socket.
type fanInListener interface {
	net.Listener
	SetDeadline(time.Time) error
	syscall.Conn
}

func newFanIn(ls []net.Listener) (net.Listener, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	// Non-blocking, so that os.NewFile puts it in Go's poller.
	syscall.SetNonblock(epfd, true)
	f := &fanIn{byFD: map[int32]int{}, ep: os.NewFile(uintptr(epfd), "epoll")}
	for i, l := range ls {
		w, ok := l.(fanInListener)
		if !ok {
			f.ep.Close()
			return nil, fmt.Errorf("socket %s (%T) cannot be served beside others", l.Addr(), l)
		}
		if err := f.watch(epfd, w, i); err != nil {
			f.ep.Close()
			return nil, fmt.Errorf("socket %s: %w", l.Addr(), err)
		}
		f.ls = append(f.ls, w)
	}
	if f.rc, err = f.ep.SyscallConn(); err != nil {
		f.ep.Close()
		return nil, err
	}
	return f, nil
}

// watch adds l's socket, level-triggered: epoll names it as long as a
// connection is queued on it.
func (f *fanIn) watch(epfd int, l fanInListener, i int) error {
	rc, err := l.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Control(func(fd uintptr) {
		f.byFD[int32(fd)] = i
		werr = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(fd), &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
	})
	return errors.Join(err, werr)
}

func (f *fanIn) Accept() (net.Conn, error) {
	ready := -1
	err := f.rc.Read(func(epfd uintptr) bool {
		var ev [1]syscall.EpollEvent // one at a time: epoll rotates its ready list, so no socket starves
		n, _ := syscall.EpollWait(int(epfd), ev[:], 0)
		if n == 1 {
			ready = f.byFD[ev[0].Fd]
		}
		return n == 1
	})
	if err != nil && f.closed.Load() {
		// Not the os package's "use of closed file": what servers expect
		// of a closed listener.
		return nil, net.ErrClosed
	}
	if err != nil {
		return nil, err
	}
	// Queued, so this returns at once, unless a pause came meanwhile:
	// then the connection stays queued.
	return f.ls[ready].Accept()
}

func (f *fanIn) SetDeadline(t time.Time) error {
	errs := []error{f.ep.SetReadDeadline(t)}
	for _, l := range f.ls {
		errs = append(errs, l.SetDeadline(t))
	}
	return errors.Join(errs...)
}

func (f *fanIn) Close() error {
	f.closed.Store(true)
	errs := []error{f.ep.Close()}
	for _, l := range f.ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// Addr is the first socket's; the log names them all.
func (f *fanIn) Addr() net.Addr { return f.ls[0].Addr() }
