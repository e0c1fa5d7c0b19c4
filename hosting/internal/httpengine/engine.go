// Package httpengine serves a site over plain HTTP behind a reverse proxy
// (-protocol http), with the FastCGI engine's limits and hand-over.
package httpengine

import (
	"context"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/internal/limits"
	"github.com/fcgi-hosting/fcgi/responder"
)

// Engine serves plain HTTP behind a reverse proxy (nginx proxy_pass,
// Apache mod_proxy_http, Caddy reverse_proxy, HAProxy), with the limits a
// responder.Server was given. Its HandoffFunc, unlike http.Server's Shutdown,
// passes idle keep-alive connections on to the new code, so a request the
// proxy sends on one at that moment is not lost.
type Engine struct {
	// Passenger says the proxy is Phusion Passenger: the client's address
	// and scheme come from its own headers, which no client can send,
	// instead of X-Forwarded-*.
	Passenger bool

	srv      *http.Server
	maxConns int
	allowed  []netip.Addr
	log      zerolog.Logger

	handingOff   atomic.Bool
	mu           sync.Mutex
	ln           net.Listener // the one Serve accepts from: the runtime's, which Close only pauses
	conns        map[*httpConn]struct{}
	changed      chan struct{}  // closed and replaced when a connection ends
	adopted      []net.Conn     // passed on by another server, served first
	adoptedReady chan struct{}  // a value when one is added
	pass         func(*os.File) // takes the idle connections HandoffFunc passes on
}

// New carries over the limits of fcgi (its zero fields meaning
// the same defaults). HTTP/1 has one request at a time per connection, so
// the concurrent-request limit is a connection limit here. WriteTimeout is
// not carried over: net/http's bounds a whole response, which would cut
// long streams; a peer that stops reading is left to IdleTimeout and the
// proxy's own timeouts.
func New(fcgi *responder.Server, l zerolog.Logger) *Engine {
	lim := limits.Limits{MaxConns: fcgi.MaxConns, MaxConcurrentRequests: fcgi.MaxConcurrentRequests,
		MaxParamsBytes: fcgi.MaxParamsBytes, MaxRequestBodyBytes: fcgi.MaxRequestBodyBytes,
		ReadTimeout: fcgi.ReadTimeout, IdleTimeout: fcgi.IdleTimeout}.Effective()
	allowed, err := limits.AllowedAddrs(fcgi.AllowedAddrs)
	if err != nil {
		l.Error().Err(err).Msg("bad FCGI_WEB_SERVER_ADDRS")
	}
	e := &Engine{
		maxConns: min(lim.MaxConns, lim.MaxConcurrentRequests),
		allowed:  allowed,
		log:      l,
		conns:    make(map[*httpConn]struct{}),
		changed:  make(chan struct{}),

		adoptedReady: make(chan struct{}, 1),
	}
	e.srv = &http.Server{
		Handler:           e.asFastCGI(limitBody(lim.MaxRequestBodyBytes, fcgi.Handler)),
		ReadTimeout:       max(lim.ReadTimeout, 0),
		ReadHeaderTimeout: max(lim.ReadTimeout, 0),
		IdleTimeout:       max(lim.IdleTimeout, 0),
		MaxHeaderBytes:    lim.MaxParamsBytes,
		ErrorLog:          log.New(l.With().Str("from", "net/http").Logger(), "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if hc, ok := c.(*httpConn); ok {
				return context.WithValue(ctx, connKey{}, hc)
			}
			return ctx
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			if hc, ok := c.(*httpConn); ok {
				hc.setState(st)
			}
		},
	}
	return e
}

// Serve serves l, and first the connections given to ServeConn, with at
// most maxConns connections at once; the others wait in the listen
// backlog, as with the FastCGI engine.
func (e *Engine) Serve(l net.Listener) error {
	e.mu.Lock()
	if e.handingOff.Load() {
		e.mu.Unlock()
		return http.ErrServerClosed
	}
	e.ln = l
	e.mu.Unlock()
	return e.srv.Serve(&limitListener{e: e, Listener: l, slots: make(chan struct{}, e.maxConns), accepted: make(chan accepted, 1)})
}

// ServeConn serves a connection passed on by another server (HandoffFunc),
// before Serve or while it serves.
func (e *Engine) ServeConn(c net.Conn) error {
	e.mu.Lock()
	e.adopted = append(e.adopted, c)
	e.mu.Unlock()
	select {
	case e.adoptedReady <- struct{}{}:
	default:
	}
	return nil
}

func (e *Engine) takeAdopted() net.Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.adopted) == 0 {
		return nil
	}
	c := e.adopted[0]
	e.adopted = e.adopted[1:]
	return c
}

func (e *Engine) Shutdown(ctx context.Context) error { return e.srv.Shutdown(ctx) }
func (e *Engine) Close() error                       { return e.srv.Close() }

// HandoffFunc stops accepting and lets the requests in progress finish. A
// connection between requests (nothing of the next one read) is taken
// from net/http and given to pass as soon as it is so, to be served by
// another server with whatever the proxy has sent on it meanwhile still in
// the socket.
func (e *Engine) HandoffFunc(ctx context.Context, pass func(*os.File)) error {
	e.mu.Lock()
	e.pass = pass
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
			return ctx.Err()
		}
	}
	e.srv.Close()
	return nil
}

func (e *Engine) track(c *httpConn) {
	e.mu.Lock()
	e.conns[c] = struct{}{}
	e.mu.Unlock()
}

// forget ends tracking c, keeping a duplicate of its socket when it is to
// be passed on.
func (e *Engine) forget(c *httpConn, keep bool) {
	var f *os.File
	if keep {
		if fc, ok := c.Conn.(interface{ File() (*os.File, error) }); ok {
			f, _ = fc.File()
		}
	}
	e.mu.Lock()
	pass := e.pass
	delete(e.conns, c)
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	if f != nil {
		pass(f)
	}
}
