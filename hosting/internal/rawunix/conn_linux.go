//go:build !386

package rawunix

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a connection accepted by a Listener. Its reads and writes are
// raw system calls on its non-blocking descriptor until one would have to
// wait; from then on the connection goes through an *os.File registered
// with the runtime's poller, as a net.Conn does. A web server sends its
// request as soon as it connects and reads the response as it comes, so
// most connections never wait.
type Conn struct {
	wmu sync.Mutex // one Write at a time, whole

	mu       sync.Mutex // held over each raw system call, so Close cannot free fd meanwhile
	fd       int
	closed   bool
	f        *os.File  // once an operation had to wait in the poller; then every operation goes through it
	rdl, wdl time.Time // deadlines while f is nil
	laddr    net.Addr
	w        *waiter
	waiting  bool // a Read waits in w
	inEpoll  bool // fd is in w's epoll instance
	duped    bool // File made a duplicate, which would keep fd in w's instance past close
}

// unnamed is the address of a web server's end: it does not bind its socket.
var unnamed = &net.UnixAddr{Net: "unix"}

func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	for c.f == nil {
		if err := c.usable(c.rdl); err != nil {
			c.mu.Unlock()
			return 0, c.opError("read", err)
		}
		n, e := rawIO(syscall.SYS_READ, c.fd, b)
		if e != syscall.EAGAIN {
			c.mu.Unlock()
			switch {
			case e != 0:
				return 0, c.opError("read", os.NewSyscallError("read", e))
			case n == 0 && len(b) > 0:
				return 0, io.EOF
			}
			return n, nil
		}
		if c.inEpoll || !c.w.slot.TryLock() {
			// A second wait is a kept-alive connection's, which the
			// poller serves with fewer system calls per wait.
			c.poll()
			break
		}
		err := c.waitInput()
		c.w.slot.Unlock()
		if err != nil {
			c.mu.Unlock()
			return 0, c.fileError("read", err)
		}
	}
	f := c.f
	c.mu.Unlock()
	n, err := f.Read(b)
	return n, c.fileError("read", err)
}

func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	n := 0
	if c.f == nil {
		if err := c.usable(c.wdl); err != nil {
			c.mu.Unlock()
			return 0, c.opError("write", err)
		}
		for n < len(b) {
			m, e := rawIO(syscall.SYS_WRITE, c.fd, b[n:])
			if e == syscall.EAGAIN {
				break
			}
			if e != 0 {
				c.mu.Unlock()
				return n, c.opError("write", os.NewSyscallError("write", e))
			}
			n += m
		}
		if n == len(b) {
			c.mu.Unlock()
			return n, nil
		}
		c.poll()
	}
	f := c.f
	c.mu.Unlock()
	m, err := f.Write(b[n:])
	return n + m, c.fileError("write", err)
}

// usable reports why an operation with deadline dl cannot start; c.mu is
// held and c.f is nil.
func (c *Conn) usable(dl time.Time) error {
	if c.closed {
		return net.ErrClosed
	}
	if !dl.IsZero() && !time.Now().Before(dl) {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// poll registers the descriptor with the poller, for an operation that
// has to wait; c.mu is held.
func (c *Conn) poll() {
	c.f = os.NewFile(uintptr(c.fd), "unix")
	if !c.rdl.IsZero() {
		c.f.SetReadDeadline(c.rdl)
	}
	if !c.wdl.IsZero() {
		c.f.SetWriteDeadline(c.wdl)
	}
}

func rawIO(trap uintptr, fd int, b []byte) (int, syscall.Errno) {
	for {
		r, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		if e != syscall.EINTR {
			return int(r), e
		}
	}
}

// Close closes the connection; a Read or Write waiting on it returns
// net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	if c.duped {
		c.leaveEpoll() // while fd is still c's: later its number may be another connection's
	}
	if c.waiting {
		c.w.f.SetReadDeadline(time.Unix(1, 0)) // wake it; it finds c closed
	}
	// Closing fd takes it out of the waiter's epoll instance, unless a
	// duplicate keeps it open: then leaveEpoll took it out.
	if c.f != nil {
		return c.fileError("close", c.f.Close())
	}
	// close(2) of a socket without SO_LINGER does not block.
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.fd), 0, 0); e != 0 {
		return c.opError("close", os.NewSyscallError("close", e))
	}
	return nil
}

// CloseWrite shuts down the writing side: the web server reads EOF.
func (c *Conn) CloseWrite() error {
	return c.control("shutdown", func(fd int) error {
		return os.NewSyscallError("shutdown", syscall.Shutdown(fd, syscall.SHUT_WR))
	})
}

// File returns a duplicate of the connection's descriptor, as
// net.UnixConn's File does: to pass the connection to another process.
func (c *Conn) File() (*os.File, error) {
	var f *os.File
	c.mu.Lock()
	c.duped = true // not leaveEpoll: a Read may be waiting there, as on a net.UnixConn whose File was taken
	c.mu.Unlock()
	err := c.control("dup", func(fd int) error {
		nfd, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			return os.NewSyscallError("fcntl", e)
		}
		f = os.NewFile(nfd, "unix")
		return nil
	})
	return f, err
}

// SyscallConn returns the connection's RawConn, that of the *os.File it
// goes through from then on.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, c.opError("raw-conn", net.ErrClosed)
	}
	if c.f == nil {
		c.poll()
	}
	return c.f.SyscallConn()
}

// control runs fn on the open descriptor.
func (c *Conn) control(op string, fn func(fd int) error) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError(op, net.ErrClosed)
	}
	if c.f == nil {
		defer c.mu.Unlock()
		if err := fn(c.fd); err != nil {
			return c.opError(op, err)
		}
		return nil
	}
	f := c.f
	c.mu.Unlock()
	rc, err := f.SyscallConn()
	if err != nil {
		return c.fileError(op, err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			err = net.ErrClosed // not the poller's "use of closed file"
		}
		return c.fileError(op, err)
	}
	if ferr != nil {
		return c.opError(op, ferr)
	}
	return nil
}

func (c *Conn) LocalAddr() net.Addr  { return c.laddr }
func (c *Conn) RemoteAddr() net.Addr { return unnamed }

func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(&c.rdl, t, (*os.File).SetReadDeadline)
}
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(&c.wdl, t, (*os.File).SetWriteDeadline)
}

func (c *Conn) setDeadline(dl *time.Time, t time.Time, set func(*os.File, time.Time) error) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("set deadline", net.ErrClosed)
	}
	if c.waiting && dl == &c.rdl {
		c.w.f.SetReadDeadline(t)
	}
	if c.f == nil {
		*dl = t // no operation waits in the poller: each checks it as it starts
		c.mu.Unlock()
		return nil
	}
	f := c.f
	c.mu.Unlock()
	return c.fileError("set deadline", set(f, t))
}

// fileError is err from c's *os.File as a net.Conn reports it.
func (c *Conn) fileError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	return c.opError(op, err)
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "unix", Source: c.laddr, Addr: unnamed, Err: err}
}
