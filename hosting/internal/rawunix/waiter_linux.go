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

	// The wait in progress: its connection, and whether ready has added it
	// to the instance yet, and failed to.
	c         *Conn
	added     bool
	addFailed bool
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

// ready reports whether the connection waited for is readable, consuming
// its event; true also when it cannot wait. Its first call adds the
// descriptor to the instance and leaves the first look to the poller:
// input that came before makes the instance readable then, so the poller
// wakes the waiter at once, and input that has not come would cost a
// system call to find absent. The add must come from here, after
// RawConn.Read has begun: Read first forgets what the poller reported of
// the instance, and an event the poller took in between (a thread waiting
// in it, a garbage collection restarting the world) would be lost, the
// request left unread. Another descriptor's event, left by a wait that a
// deadline or Close ended, is dropped.
func (w *waiter) ready(uintptr) bool {
	if !w.added {
		w.added = true
		w.addFailed = !w.c.enterEpoll()
		return w.addFailed
	}
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(w.epfd), uintptr(unsafe.Pointer(&w.events[0])), 1, 0, 0, 0)
		switch {
		case e == syscall.EINTR:
		case e != 0:
			return true // the reader finds out what is wrong
		case n == 0:
			return false
		case w.events[0].Fd == int32(w.c.fd):
			return true
		}
	}
}

// waitInput waits until c's descriptor is readable, c's read deadline
// passes or c is closed. c.mu is held on entry and return, and released
// meanwhile; the slot is c's.
func (c *Conn) waitInput() error {
	w := c.w
	c.waiting = true
	w.c, w.added, w.addFailed = c, false, false
	if !c.rdl.IsZero() {
		w.f.SetReadDeadline(c.rdl)
	}
	c.mu.Unlock()
	err := w.rc.Read(w.readyFn)
	c.mu.Lock()
	c.waiting = false
	w.c = nil
	w.f.SetReadDeadline(time.Time{}) // its own, or a Close's or SetReadDeadline's meanwhile
	switch {
	case c.closed:
		return os.ErrClosed
	case w.addFailed:
		c.poll() // the poller waits instead (the instance's add can fail with ENOSPC: fs.epoll.max_user_watches)
		return nil
	}
	return err
}

// enterEpoll adds c's descriptor to the waiter's instance, one-shot: it
// leaves the instance's watch once it fires. Not once c is closed: its
// descriptor's number may be another's by then.
func (c *Conn) enterEpoll() (ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.fd)}
	c.inEpoll = epollCtl(c.w.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev) == 0
	return c.inEpoll
}

// leaveEpoll takes c's descriptor out of the waiter's instance, where a
// duplicate would keep it after fd is closed. c.mu is held.
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
