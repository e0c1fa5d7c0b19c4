package reload

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// A Channel joins a process and a stand-in, the new code it started to
// serve beside it on the same sockets: over it the stand-in says that it
// serves, each passes the other its idle connections, and the process
// tells the stand-in to step back. It is a unix stream socket pair:
// messages are one byte, with at most one descriptor (SCM_RIGHTS), so a
// step-back arrives after every connection sent before it. The process's
// end passes across its re-execution, so the new code is the one the
// stand-in then talks to.
type Channel struct {
	c  *net.UnixConn
	mu sync.Mutex // one message at a time
}

// The messages.
const (
	MsgServing  = 'S' // the stand-in serves
	MsgConn     = 'C' // with a connection's descriptor, to serve
	MsgStepBack = 'B' // the stand-in is to stop accepting and pass its connections back
)

// NewChannel returns the process's end of a new channel and the stand-in's
// end, a file to pass to it (then close it here).
func NewChannel() (*Channel, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socket pair for the stand-in: %w", err)
	}
	ch, err := ChannelFromFD(fds[0])
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, err
	}
	return ch, os.NewFile(uintptr(fds[1]), "stand-in channel"), nil
}

// ChannelFromFD returns the channel end on descriptor fd, passed on by
// KeepOnExec or to a stand-in; it takes fd over.
func ChannelFromFD(fd int) (*Channel, error) {
	f := os.NewFile(uintptr(fd), "stand-in channel")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("stand-in channel on fd %d: %w", fd, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("stand-in channel on fd %d: not a unix socket", fd)
	}
	return &Channel{c: uc}, nil
}

// Send sends msg, with f's descriptor when f is not nil; f stays open.
func (ch *Channel) Send(msg byte, f *os.File) error {
	send := func(oob []byte) error {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		_, _, err := ch.c.WriteMsgUnix([]byte{msg}, oob, nil)
		return err
	}
	if f == nil {
		return send(nil)
	}
	// Not f.Fd(): that would make the socket blocking, for its next
	// holder too.
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = send(syscall.UnixRights(int(fd))) }); err != nil {
		return err
	}
	return serr
}

// Receive waits for the next message: an io.EOF once the other end is
// closed by every process that had it, os.ErrDeadlineExceeded after
// Pause. The descriptor received, if any, is close-on-exec.
func (ch *Channel) Receive() (msg byte, f *os.File, err error) {
	var b [1]byte
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := ch.c.ReadMsgUnix(b[:], oob)
	if n == 0 && err == nil {
		err = io.EOF // how a stream socket says it
	}
	if oobn > 0 {
		f = receivedFile(oob[:oobn])
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return 0, nil, err
	}
	return b[0], f, nil
}

func receivedFile(oob []byte) *os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil
	}
	return os.NewFile(uintptr(fds[0]), "connection")
}

// pausedDeadline, being in the past, ends a Receive at once, before it
// takes anything from the socket.
var pausedDeadline = time.Unix(1, 0)

// Pause makes Receive return os.ErrDeadlineExceeded, leaving the messages
// in the socket for whoever reads next (the re-executed code); Resume
// undoes it.
func (ch *Channel) Pause()  { ch.c.SetReadDeadline(pausedDeadline) }
func (ch *Channel) Resume() { ch.c.SetReadDeadline(time.Time{}) }

// KeepOnExec lets the channel pass to the code re-executed and returns its
// descriptor there; onExec false undoes it, should the exec fail.
func (ch *Channel) KeepOnExec(onExec bool) (fd int, err error) {
	rc, err := ch.c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var ferr error
	err = rc.Control(func(d uintptr) {
		fd = int(d)
		flag := uintptr(0)
		if !onExec {
			flag = syscall.FD_CLOEXEC
		}
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, d, syscall.F_SETFD, flag); e != 0 {
			ferr = e
		}
	})
	return fd, errors.Join(err, ferr)
}

// Close closes this end.
func (ch *Channel) Close() error { return ch.c.Close() }
