//go:build unix

package responder

import (
	"net"
	"syscall"
)

// kernelInputPending reports whether bytes wait unread on rwc's socket: a
// reader woken for them may not have run yet on a busy machine. False when
// it cannot tell (a net.Pipe, a wrapped connection).
func kernelInputPending(rwc net.Conn) bool {
	sc, ok := rwc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	pending := false
	// Control, not Read: it does not wait for the reader blocked in Read.
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		pending = err == nil && n > 0
	})
	return pending
}
