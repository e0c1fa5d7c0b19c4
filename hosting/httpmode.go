package hosting

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/responder"
)

// engine is what serveLoop needs of a server: the FastCGI responder.Server,
// or net/http's for -protocol http.
type engine interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
	Handoff(context.Context) ([]*os.File, error)
	ServeConn(net.Conn) error // before Serve: a connection Handoff passed on
}

// httpEngine serves plain HTTP behind a reverse proxy (nginx proxy_pass,
// Apache mod_proxy_http, Caddy reverse_proxy, HAProxy), with the limits a
// responder.Server was given. Its Handoff, unlike http.Server's Shutdown,
// passes idle keep-alive connections on to the new code, so a request the
// proxy sends on one at that moment is not lost.
type httpEngine struct {
	srv      *http.Server
	maxConns int
	allowed  []netip.Addr
	log      zerolog.Logger

	handingOff atomic.Bool
	mu         sync.Mutex
	ln         net.Listener // the one Serve accepts from: serveLoop's, which Close only pauses
	conns      map[*httpConn]struct{}
	changed    chan struct{} // closed and replaced when a connection ends
	adopted    []net.Conn    // passed on by the previous run, served first
	handed     []*os.File    // idle connections Handoff passes on
}

// newHTTPEngine carries over the limits of fcgi (its zero fields meaning
// the same defaults). HTTP/1 has one request at a time per connection, so
// the concurrent-request limit is a connection limit here. WriteTimeout is
// not carried over: net/http's bounds a whole response, which would cut
// long streams; a peer that stops reading is left to IdleTimeout and the
// proxy's own timeouts.
func newHTTPEngine(fcgi *responder.Server, l zerolog.Logger) *httpEngine {
	readTimeout := orDefault(fcgi.ReadTimeout, responder.DefaultReadTimeout)
	maxBody := orDefault(fcgi.MaxRequestBodyBytes, responder.DefaultMaxRequestBodyBytes)
	allowed := fcgi.AllowedAddrs
	if allowed == nil {
		var err error
		if allowed, err = responder.ParseWebServerAddrs(os.Getenv("FCGI_WEB_SERVER_ADDRS")); err != nil {
			l.Error().Err(err).Msg("bad FCGI_WEB_SERVER_ADDRS")
		}
	}
	e := &httpEngine{
		maxConns: min(orDefault(fcgi.MaxConns, responder.DefaultMaxConns),
			orDefault(fcgi.MaxConcurrentRequests, responder.DefaultMaxConcurrentRequests)),
		allowed: allowed,
		log:     l,
		conns:   make(map[*httpConn]struct{}),
		changed: make(chan struct{}),
	}
	e.srv = &http.Server{
		Handler:           e.asFastCGI(limitBody(maxBody, fcgi.Handler)),
		ReadTimeout:       max(readTimeout, 0),
		ReadHeaderTimeout: max(readTimeout, 0),
		IdleTimeout:       max(orDefault(fcgi.IdleTimeout, responder.DefaultIdleTimeout), 0),
		MaxHeaderBytes:    orDefault(fcgi.MaxParamsBytes, responder.DefaultMaxParamsBytes),
		ErrorLog:          log.New(l.With().Str("from", "net/http").Logger(), "", 0),
		ConnState: func(c net.Conn, st http.ConnState) {
			if hc, ok := c.(*httpConn); ok {
				hc.setState(st)
			}
		},
	}
	return e
}

func orDefault[T int | ~int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Serve serves l, and first the connections given to ServeConn, with at
// most maxConns connections at once; the others wait in the listen
// backlog, as with the FastCGI engine.
func (e *httpEngine) Serve(l net.Listener) error {
	e.mu.Lock()
	if e.handingOff.Load() {
		e.mu.Unlock()
		return http.ErrServerClosed
	}
	e.ln = l
	e.mu.Unlock()
	return e.srv.Serve(&limitListener{e: e, Listener: l, slots: make(chan struct{}, e.maxConns)})
}

// ServeConn queues a connection passed on by the previous run; it must be
// called before Serve.
func (e *httpEngine) ServeConn(c net.Conn) error {
	e.adopted = append(e.adopted, c)
	return nil
}

func (e *httpEngine) Shutdown(ctx context.Context) error { return e.srv.Shutdown(ctx) }
func (e *httpEngine) Close() error                       { return e.srv.Close() }

// Handoff stops accepting and lets the requests in progress finish. A
// connection between requests (nothing of the next one read) is taken
// from net/http and returned, to be served by the next process with
// whatever the proxy has sent on it meanwhile still in the socket.
func (e *httpEngine) Handoff(ctx context.Context) ([]*os.File, error) {
	e.mu.Lock()
	e.handingOff.Store(true)
	if e.ln != nil {
		e.ln.Close() // wakes Accept; the socket stays open
	}
	for c := range e.conns {
		c.handingOff()
	}
	e.mu.Unlock()
	for {
		e.mu.Lock()
		n, changed := len(e.conns), e.changed
		e.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return e.takeHanded(), ctx.Err()
		}
	}
	e.srv.Close()
	return e.takeHanded(), nil
}

func (e *httpEngine) takeHanded() []*os.File {
	e.mu.Lock()
	defer e.mu.Unlock()
	fs := e.handed
	e.handed = nil
	return fs
}

func (e *httpEngine) track(c *httpConn) {
	e.mu.Lock()
	e.conns[c] = struct{}{}
	e.mu.Unlock()
}

// forget ends tracking c, keeping a duplicate of its socket when it is to
// be passed on.
func (e *httpEngine) forget(c *httpConn, keep bool) {
	var f *os.File
	if keep {
		if fc, ok := c.Conn.(interface{ File() (*os.File, error) }); ok {
			f, _ = fc.File()
		}
	}
	e.mu.Lock()
	if f != nil {
		e.handed = append(e.handed, f)
	}
	delete(e.conns, c)
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// httpConn is a connection net/http serves, which Handoff can take back
// between two requests.
type httpConn struct {
	net.Conn
	e       *httpEngine
	release func()
	// fresh: nothing of the next request read yet. net/http reads ahead
	// (the first byte of the next request, while it ends the last), so a
	// connection is fresh only when nothing came in after the response.
	fresh      atomic.Bool
	readLast   atomic.Bool // a Read returned data after the last Write
	idle       atomic.Bool
	deadline   atomic.Pointer[time.Time] // the read deadline net/http set
	idleCutoff atomic.Pointer[time.Time] // during a hand-over
	closeOnce  sync.Once
}

// idleGrace is how long, during a hand-over, a connection that is idle
// but not fresh (net/http read ahead, or read the rest of an unread body)
// waits for the next request before it is closed.
const idleGrace = 2 * time.Second

func (c *httpConn) setState(st http.ConnState) {
	switch st {
	case http.StateIdle:
		c.fresh.Store(!c.readLast.Load())
		c.idle.Store(true)
		if c.e.handingOff.Load() {
			c.handingOff()
		}
	case http.StateActive:
		c.idle.Store(false)
	}
}

// handingOff wakes a fresh connection's wait for a request, to be passed
// on, or bounds an idle one's.
func (c *httpConn) handingOff() {
	switch {
	case c.fresh.Load():
		c.Conn.SetReadDeadline(longAgo)
	case c.idle.Load():
		t := time.Now().Add(idleGrace)
		c.idleCutoff.Store(&t)
		c.Conn.SetReadDeadline(c.readDeadline())
	}
}

// longAgo is a deadline that wakes a blocked Read at once.
var longAgo = time.Unix(1, 0)

func (c *httpConn) Read(p []byte) (int, error) {
	for {
		if c.e.handingOff.Load() {
			if c.fresh.Load() {
				return 0, io.EOF // net/http ends the connection quietly; Close passes it on
			}
			c.Conn.SetReadDeadline(c.readDeadline()) // undo a wake that came as a request began
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.fresh.Store(false)
			c.readLast.Store(true)
			c.idleCutoff.Store(nil)
			return n, err
		}
		if err != nil && c.e.handingOff.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			if d := c.readDeadline(); d.IsZero() || time.Now().Before(d) {
				continue // woken by Handoff, not timed out
			}
		}
		return n, err
	}
}

func (c *httpConn) Write(p []byte) (int, error) {
	c.readLast.Store(false)
	return c.Conn.Write(p)
}

// readDeadline is net/http's read deadline, or during a hand-over the
// idle cutoff when that comes first.
func (c *httpConn) readDeadline() time.Time {
	var d time.Time
	if p := c.deadline.Load(); p != nil {
		d = *p
	}
	if p := c.idleCutoff.Load(); p != nil && (d.IsZero() || p.Before(d)) {
		d = *p
	}
	return d
}

func (c *httpConn) SetReadDeadline(t time.Time) error {
	c.deadline.Store(&t)
	if c.e.handingOff.Load() && c.fresh.Load() {
		return nil // Read returns at once anyway
	}
	return c.Conn.SetReadDeadline(c.readDeadline())
}

func (c *httpConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

// CloseWrite keeps net/http's half-close before it drops a connection
// whose request body it did not read.
func (c *httpConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *httpConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.e.forget(c, c.e.handingOff.Load() && c.fresh.Load())
		err = c.Conn.Close()
		c.release()
	})
	return err
}

// asFastCGI serves next as the FastCGI engine would: the client's
// address and scheme from the proxy's X-Forwarded-For and X-Forwarded-Proto
// (as REMOTE_ADDR and HTTPS come from a FastCGI web server) when the peer
// is one to trust with them: on loopback, a unix socket, or in
// FCGI_WEB_SERVER_ADDRS; the request body readable while the response is
// written. During a hand-over, the connection closes after the response.
func (e *httpEngine) asFastCGI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.trusts(r.RemoteAddr) {
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				// The last entry is the one the proxy added.
				client := strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:])
				if a, err := netip.ParseAddr(client); err == nil {
					r.RemoteAddr = netip.AddrPortFrom(a, 0).String()
				}
			}
			if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") && r.TLS == nil {
				r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: r.Host}
			}
		}
		http.NewResponseController(w).EnableFullDuplex()
		if e.handingOff.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

func (e *httpEngine) trusts(remoteAddr string) bool {
	a, ok := tcpPeer(remoteAddr)
	if !ok {
		return true // a unix socket: only who may open the file connects
	}
	return a.IsLoopback() || slices.Contains(e.allowed, a)
}

// tcpPeer is the IP address of a TCP peer; ok is false for a unix socket.
func tcpPeer(remoteAddr string) (a netip.Addr, ok bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	return ap.Addr().Unmap(), err == nil
}

// limitBody refuses request bodies past max as the FastCGI engine does:
// reading past it fails with an *http.MaxBytesError.
func limitBody(maxBody int64, next http.Handler) http.Handler {
	if maxBody < 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// limitListener holds Accept while every slot is taken, and refuses peers
// outside allowed (when it is not empty) over TCP.
type limitListener struct {
	net.Listener
	e     *httpEngine
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
