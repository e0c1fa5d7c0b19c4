package testenv

import (
	"net"
	"sync"
)

// PipeListener is a net.Listener of net.Pipe connections: with it a server
// runs inside a testing/synctest bubble, whose clock real sockets would not
// let stand still.
type PipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Dial returns the client's end of a new connection, once the server has
// accepted the other end.
func (l *PipeListener) Dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Closed is closed once the server has closed the listener.
func (l *PipeListener) Closed() <-chan struct{} { return l.done }

func (l *PipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
