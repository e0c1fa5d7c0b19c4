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

// next is a connection passed on by the previous run, then the listener's.
func (l *limitListener) next() (net.Conn, error) {
	l.e.mu.Lock()
	if len(l.e.adopted) > 0 {
		c := l.e.adopted[0]
		l.e.adopted = l.e.adopted[1:]
		l.e.mu.Unlock()
		return c, nil
	}
	l.e.mu.Unlock()
	if l.e.handingOff.Load() {
		return nil, net.ErrClosed
	}
	return l.Listener.Accept()
}
