package httpengine

import (
	"net"
	"slices"
)

// limitListener holds Accept while every slot is taken, and refuses peers
// outside allowed (when it is not empty) over TCP.
type limitListener struct {
	net.Listener
	e     *Engine
	slots chan struct{}

	accepted  chan accepted // what the Accept in flight returned
	accepting bool          // an Accept is in flight; only Accept's caller uses it
}

type accepted struct {
	c   net.Conn
	err error
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		l.slots <- struct{}{} // freed by a connection's Close
		c, err := l.next()
		if err != nil {
			<-l.slots
			if l.e.handingOff.Load() {
				return nil, net.ErrClosed
			}
			return nil, err
		}
		if a, ok := tcpPeer(c.RemoteAddr().String()); ok && l.e.allowed != nil && !slices.Contains(l.e.allowed, a) {
			l.e.log.Warn().Str("peer", c.RemoteAddr().String()).Msg("connection refused: peer not in FCGI_WEB_SERVER_ADDRS")
			c.Close()
			<-l.slots
			continue
		}
		hc := &httpConn{Conn: c, e: l.e, release: func() { <-l.slots }}
		hc.fresh.Store(true)
		l.e.track(hc)
		return hc, nil
	}
}

// next is a connection passed on (ServeConn), or the listener's next: one
// passed on while Accept waits is served at once, the Accept still in
// flight for the next call.
func (l *limitListener) next() (net.Conn, error) {
	for {
		if c := l.e.takeAdopted(); c != nil {
			return c, nil
		}
		if !l.accepting {
			if l.e.handingOff.Load() {
				return nil, net.ErrClosed
			}
			l.accepting = true
			go func() {
				c, err := l.Listener.Accept()
				l.accepted <- accepted{c, err}
			}()
		}
		select {
		case a := <-l.accepted:
			l.accepting = false
			return a.c, a.err
		case <-l.e.adoptedReady:
		}
	}
}
