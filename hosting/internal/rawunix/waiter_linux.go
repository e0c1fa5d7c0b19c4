//go:build !386

package rawunix

import (
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// waiter lets one connection at a time wait for its first input without
// entering its own descriptor in the runtime's poller, which takes system
// calls the scheduler is told about (fcntl, close): an epoll instance of
// its own, itself in the poller, holds the connection's descriptor while
// it waits. The request often arrives just after the connection, when its
// reader has looked; under a web server that sends one request at a time
// the waiter is never taken. A connection that finds it taken, or waits a
// second time (kept alive, or a long body), goes to the poller itself.
type waiter struct {
	slot    sync.Mutex // held by the connection waiting; taken with TryLock
	epfd    int
	f       *os.File // epfd, in the poller: readable when the descriptor waited for is
	rc      syscall.RawConn
	events  [1]syscall.EpollEvent
	readyFn func(uintptr) bool // w.ready, bound once

	// The wait in progress: the descriptor waited for, and whether ready
	// has looked yet.
	fd     int32
	looked bool
}

func newWaiter() (*waiter, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	w := &waiter{epfd: epfd, f: os.NewFile(uintptr(epfd), "epoll")}
	if w.rc, err = w.f.SyscallConn(); err != nil {
		w.f.Close()
		return nil, err
	}
	w.readyFn = w.ready
	return w, nil
}

// ready reports whether the descriptor waited for is readable, consuming
// its event. The first look of a wait is left to the poller: input that
// came before the descriptor was added makes the instance readable then,
// so the poller wakes the waiter at once, and input that has not come
// would cost a system call to find absent. Another descriptor's event,
// left by a wait that a deadline or Close ended, is dropped.
func (w *waiter) ready(uintptr) bool {
	if !w.looked {
		w.looked = true
		return false
	}
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(w.epfd), uintptr(unsafe.Pointer(&w.events[0])), 1, 0, 0, 0)
		switch {
		case e == syscall.EINTR:
		case e != 0:
			return true // the reader finds out what is wrong
		case n == 0:
			return false
		case w.events[0].Fd == w.fd:
			return true
		}
	}
}

// waitInput waits until c's descriptor is readable, c's read deadline
// passes or c is closed. c.mu is held on entry and return, and released
// meanwhile; the slot is c's.
func (c *Conn) waitInput() error {
	w := c.w
	// One-shot: the descriptor leaves the instance's watch once it fires.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.fd)}
	if e := epollCtl(w.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); e != 0 {
		return os.NewSyscallError("epoll_ctl", e)
	}
	c.inEpoll = true
	c.waiting = true
	w.fd, w.looked = int32(c.fd), false
	if !c.rdl.IsZero() {
		w.f.SetReadDeadline(c.rdl)
	}
	c.mu.Unlock()
	err := w.rc.Read(w.readyFn)
	c.mu.Lock()
	c.waiting = false
	w.f.SetReadDeadline(time.Time{}) // its own, or a Close's or SetReadDeadline's meanwhile
	if c.closed {
		return os.ErrClosed
	}
	return err
}

// leaveEpoll takes c's descriptor out of the waiter's instance before it
// is duplicated: closing fd then would not. c.mu is held.
func (c *Conn) leaveEpoll() {
	if c.inEpoll {
		epollCtl(c.w.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
		c.inEpoll = false
	}
}

func epollCtl(epfd, op, fd int, ev *syscall.EpollEvent) syscall.Errno {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return e
}
