package reload

import (
	"net"
	"time"
)

// PausingListener stops Accept without closing the socket, so that the
// socket outlives a Server and passes to the next one, or across exec.
type PausingListener struct {
	net.Listener
}

type deadliner interface{ SetDeadline(time.Time) error }

func (l PausingListener) Close() error {
	if d, ok := l.Listener.(deadliner); ok {
		return d.SetDeadline(time.Unix(1, 0))
	}
	return l.Listener.Close()
}

// Resume lets Accept wait for connections again after Close.
func (l PausingListener) Resume() {
	if d, ok := l.Listener.(deadliner); ok {
		d.SetDeadline(time.Time{})
	}
}
