package responder

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/internal/limits"
)

// ErrServerClosed is returned by Serve after a call to Shutdown or Close.
var ErrServerClosed = errors.New("fastcgi: Server closed")

// Defaults for the limits of a Server whose fields are left zero. The
// plain HTTP engine of package hosting applies the same.
const (
	DefaultMaxConns              = limits.MaxConns              // 1000
	DefaultMaxConcurrentRequests = limits.MaxConcurrentRequests // 1000
	DefaultMaxRequestsPerConn    = limits.MaxRequestsPerConn    // 100
	DefaultMaxParamsBytes        = limits.MaxParamsBytes        // 1 MiB
	DefaultMaxParams             = limits.MaxParams             // 1000
	DefaultMaxRequestBodyBytes   = limits.MaxRequestBodyBytes   // 32 MiB
	DefaultBodyBufferBytes       = limits.BodyBufferBytes       // 64 KiB
	DefaultMaxSpillBytes         = limits.MaxSpillBytes         // 256 MiB
	DefaultReadTimeout           = limits.ReadTimeout           // 60s
	DefaultIdleTimeout           = limits.IdleTimeout           // 120s
	DefaultWriteTimeout          = limits.WriteTimeout          // 120s
)

// A Server serves FastCGI requests from web servers with http.Handlers.
// Its zero value, with Handler set, is a working responder with the
// defaults listed for each field. A Server must not be copied after first use.
type Server struct {
	// Handler serves requests in the Responder role, the role every web
	// server uses for ordinary requests. Nil means http.DefaultServeMux.
	Handler http.Handler

	// Authorizer, if set, serves requests in the Authorizer role (Apache
	// mod_authnz_fcgi and mod_fcgid, lighttpd mode "authorizer"). A 200
	// response, and only a 200, authorizes the request: the web server
	// passes the headers named "Variable-NAME" (see SetVariable) on to
	// what serves it as the variables NAME, and drops the rest. Any other
	// response is sent to the client. Requests carry no body. Nil refuses
	// the role with FCGI_UNKNOWN_ROLE, so an ordinary handler that
	// answers 200 can never authorize by accident.
	Authorizer http.Handler

	// Filter, if set, serves requests in the Filter role: the request body
	// is FCGI_STDIN as usual and the file to filter is read with
	// FilterData. Nil refuses the role with FCGI_UNKNOWN_ROLE.
	Filter http.Handler

	// MaxConns limits the connections served at once; further connections
	// wait in the listener's backlog. Zero means DefaultMaxConns.
	MaxConns int

	// MaxConcurrentRequests limits the requests in progress over all
	// connections, reported as FCGI_MAX_REQS. A request beyond it is
	// refused with FCGI_OVERLOADED, which web servers turn into a 502 or
	// 503 or retry elsewhere. Zero means DefaultMaxConcurrentRequests.
	MaxConcurrentRequests int

	// MaxRequestsPerConn limits the requests in progress on one
	// connection, refused beyond it like MaxConcurrentRequests, so that one
	// peer multiplexing unfinished requests cannot take every slot. Web
	// servers send one request at a time per connection. Zero means
	// DefaultMaxRequestsPerConn.
	MaxRequestsPerConn int

	// MaxParamsBytes limits the size of a request's parameters (the CGI
	// variables, HTTP headers among them). Beyond it the request is
	// answered 431 Request Header Fields Too Large. Zero means
	// DefaultMaxParamsBytes.
	MaxParamsBytes int

	// MaxParams limits the number of parameters (CGI variables and
	// headers) of a request, answered like MaxParamsBytes. Zero means
	// DefaultMaxParams.
	MaxParams int

	// MaxRequestBodyBytes limits a request body. Reading past it fails
	// with an *http.MaxBytesError, as with http.MaxBytesReader; the rest is
	// discarded. Zero means DefaultMaxRequestBodyBytes, negative no limit.
	MaxRequestBodyBytes int64

	// BodyBufferBytes is how much of a request body the handler has not yet
	// read is held in memory; beyond it the body is spilled to an unlinked
	// temporary file in TempDir, so a handler that reads slowly never stalls
	// the connection. Zero means DefaultBodyBufferBytes.
	BodyBufferBytes int

	// TempDir holds spilled request bodies. Empty means os.TempDir().
	TempDir string

	// MaxSpillBytes bounds the disk that spilled request bodies take
	// together. Past it a body waits in the connection, as with net/http,
	// until its handler reads or other requests end, rather than filling
	// the account's disk quota. Zero means DefaultMaxSpillBytes, negative
	// no limit.
	MaxSpillBytes int64

	// ReadTimeout is the longest a web server may take to send a whole
	// request, parameters and body, counted from its FCGI_BEGIN_REQUEST.
	// A connection that overruns it is closed. Zero means
	// DefaultReadTimeout, negative no limit.
	ReadTimeout time.Duration

	// IdleTimeout is how long a connection with no request in progress is
	// kept open waiting for the next one. Zero means DefaultIdleTimeout,
	// negative no limit.
	IdleTimeout time.Duration

	// WriteTimeout is the longest one write to the web server may block, so
	// that a peer that stopped reading frees its connection. Unlike
	// http.Server's, it does not limit the length of a streamed response.
	// Zero means DefaultWriteTimeout, negative no limit.
	WriteTimeout time.Duration

	// AllowedAddrs lists the web servers that may connect over TCP. Nil
	// means the addresses in the FCGI_WEB_SERVER_ADDRS environment
	// variable (comma-separated, as set by mod_fastcgi and others), and
	// anyone if that is unset or empty. Unix sockets are not checked.
	AllowedAddrs []netip.Addr

	// BaseContext optionally specifies the base context of the requests
	// served from a listener, as in http.Server.
	BaseContext func(net.Listener) context.Context

	// Logger receives protocol errors, refused connections and handler
	// panics. Nil means a logger writing JSON lines to os.Stderr.
	Logger *zerolog.Logger

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	closing    atomic.Bool    // Shutdown or Close called
	closed     bool           // Close called; guarded by mu
	handingOff bool           // Handoff called; guarded by mu
	pass       func(*os.File) // takes the connections Handoff passes on; guarded by mu
	onIdle     chan struct{}  // closed and replaced when a connection ends
	inFlight   atomic.Int64   // requests in progress
	paramsHeld atomic.Int64   // bytes of parameters read for requests whose parameters have not ended
	spill      *spillBudget
	initOnce   sync.Once
	cfg        config
}

// config holds the effective limits, defaults applied, fixed at first use.
type config struct {
	limits.Limits
	paramsBudget int64 // paramsHeld's bound
	allowed      []netip.Addr
	log          zerolog.Logger
}

// minParamsBudget is the least memory the parameters of unfinished
// requests may hold together; four maximal requests' worth if more.
const minParamsBudget = 64 << 20

func (s *Server) init() {
	s.initOnce.Do(func() {
		c := &s.cfg
		c.Limits = s.limits().Effective()
		if c.paramsBudget == 0 {
			c.paramsBudget = max(minParamsBudget, 4*int64(c.MaxParamsBytes))
		}
		c.log = s.logger()
		s.spill = newSpillBudget(c.MaxSpillBytes)
		var err error
		if c.allowed, err = limits.AllowedAddrs(s.AllowedAddrs); err != nil {
			c.log.Error().Err(err).Msg("bad FCGI_WEB_SERVER_ADDRS")
		}
		s.onIdle = make(chan struct{})
	})
}

// limits are the limits s's fields give, before defaults.
func (s *Server) limits() limits.Limits {
	return limits.Limits{MaxConns: s.MaxConns, MaxConcurrentRequests: s.MaxConcurrentRequests, MaxRequestsPerConn: s.MaxRequestsPerConn,
		MaxParamsBytes: s.MaxParamsBytes, MaxParams: s.MaxParams, BodyBufferBytes: s.BodyBufferBytes,
		MaxRequestBodyBytes: s.MaxRequestBodyBytes, MaxSpillBytes: s.MaxSpillBytes,
		ReadTimeout: s.ReadTimeout, IdleTimeout: s.IdleTimeout, WriteTimeout: s.WriteTimeout}
}

func (s *Server) logger() zerolog.Logger {
	if s.Logger != nil {
		return *s.Logger
	}
	return zerolog.New(os.Stderr).Level(zerolog.InfoLevel).With().Timestamp().Logger()
}

// ParseWebServerAddrs parses v, a comma-separated list of IP addresses in
// the form of FCGI_WEB_SERVER_ADDRS. An entry that is not an IP address is
// reported in the error and skipped, never widening the list: when every
// entry is bad, the list is empty but not nil, allowing nobody.
func ParseWebServerAddrs(v string) ([]netip.Addr, error) { return limits.ParseWebServerAddrs(v) }

// allowedPeer reports whether a connection from remote may be served.
func (s *Server) allowedPeer(remote net.Addr) bool {
	if s.cfg.allowed == nil {
		return true
	}
	tcp, ok := remote.(*net.TCPAddr)
	if !ok {
		return true
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, a := range s.cfg.allowed {
		if a == ip {
			return true
		}
	}
	return false
}

// Serve accepts connections on l and serves each in its own goroutine. It
// always returns a non-nil error; after Shutdown or Close, ErrServerClosed.
// Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	l = &onceCloseListener{Listener: l}
	defer l.Close()
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)

	ctx := context.Background()
	if s.BaseContext != nil {
		ctx = s.BaseContext(l)
		if ctx == nil {
			panic("fastcgi: BaseContext returned a nil context")
		}
	}
	slots := make(chan struct{}, s.cfg.MaxConns)
	var backoff time.Duration
	for {
		select {
		case slots <- struct{}{}:
		default:
			s.waitForSlot(slots)
		}
		rwc, err := l.Accept()
		if err != nil {
			<-slots
			if s.closing.Load() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.log.Error().Err(err).Dur("retry_in", backoff).Msg("accept failed")
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.allowedPeer(rwc.RemoteAddr()) {
			s.cfg.log.Warn().Str("peer", rwc.RemoteAddr().String()).Msg("connection refused: peer not in FCGI_WEB_SERVER_ADDRS")
			rwc.Close()
			<-slots
			continue
		}
		c := s.newConn(ctx, rwc)
		c.accepted = true
		if !s.trackConn(c, true) {
			rwc.Close()
			<-slots
			return ErrServerClosed
		}
		if s.closing.Load() {
			go func() {
				defer func() { <-slots }()
				c.serve()
			}()
			return ErrServerClosed
		}
		go func() {
			defer func() { <-slots }()
			c.serve()
		}()
	}
}

// waitForSlot waits for a connection to end while MaxConns are open. Web
// servers send a request as soon as they connect, so meanwhile one whose
// reader has waited silentLimit for its first record is closed: peers that
// connect and stay silent cannot hold every slot while requests wait in the
// backlog. Connections kept alive between requests are left alone: a
// request may be on its way on one.
func (s *Server) waitForSlot(slots chan struct{}) {
	t := time.NewTicker(silentLimit / 4)
	defer t.Stop()
	for {
		select {
		case slots <- struct{}{}:
			return
		case <-t.C:
			s.closeSilent()
		}
	}
}

// silentLimit is how long a new connection may send nothing while every
// slot is taken: far beyond a web server's pause between connecting and
// sending, however busy the machine.
const silentLimit = 10 * time.Second

func (s *Server) closeSilent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.mu.Lock()
		// Waiting in its reader, not merely not yet read: on a busy
		// machine a reader may start late, its request long arrived.
		silent := c.accepted && c.fresh && !c.lingering && !c.waitedFrom.IsZero() && time.Since(c.waitedFrom) >= silentLimit
		c.mu.Unlock()
		if silent && !kernelInputPending(c.rwc) {
			s.cfg.log.Warn().Str("peer", peerName(c.rwc)).Msg("connection closed: no request within " + silentLimit.String() + " while MaxConns connections are open")
			c.close()
		}
	}
}

// isTemporary reports errors that end one accept, not the listener:
// descriptor exhaustion and aborted handshakes.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
		s.poke()
	}
	return true
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		if s.conns == nil {
			s.conns = make(map[*conn]struct{})
		}
		s.conns[c] = struct{}{}
		switch {
		case s.handingOff:
			c.beginHandoff()
		case s.closing.Load():
			// Accepted as Shutdown began: the web server has sent, or is
			// sending, a request on it. Serve that, then close.
			c.shutdown()
		}
	} else {
		delete(s.conns, c)
		s.poke()
	}
	return true
}

// poke wakes waitIdle; s.mu is held.
func (s *Server) poke() {
	close(s.onIdle)
	s.onIdle = make(chan struct{})
}

func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Shutdown gracefully shuts the server down: it closes the listeners, lets
// the requests in progress finish, closes each connection as it becomes
// idle, and returns when none is left. If ctx ends first, Shutdown returns
// ctx.Err() and the remaining connections stay open; call Close to end them.
// New requests that arrive on open connections meanwhile are still served.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closing.Store(true)
	lerr := s.closeListenersLocked()
	for c := range s.conns {
		c.shutdown()
	}
	s.mu.Unlock()
	if err := s.waitIdle(ctx); err != nil {
		return err
	}
	return lerr
}

// waitIdle waits until no connection is left, and no Serve loop that
// could still hand over a connection it just accepted.
func (s *Server) waitIdle(ctx context.Context) error {
	for {
		// A Serve loop still running may hold a connection it has just
		// accepted and not yet tracked; the web server sent a request on it.
		s.mu.Lock()
		n, idle := len(s.conns)+len(s.listeners), s.onIdle
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
		}
	}
}

// Close closes the listeners and every connection at once. Handlers still
// running see their request contexts cancelled; their output is dropped.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing.Store(true)
	s.closed = true
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.close()
	}
	return err
}

// onceCloseListener lets Serve's deferred Close and Shutdown's Close both run.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
