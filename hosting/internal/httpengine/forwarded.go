package httpengine

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// asFastCGI serves next as the FastCGI engine would: the client's
// address and scheme from the proxy's X-Forwarded-For and X-Forwarded-Proto
// (as REMOTE_ADDR and HTTPS come from a FastCGI web server) when the peer
// is one to trust with them: on loopback, a unix socket, or in
// FCGI_WEB_SERVER_ADDRS; the request body readable while the response is
// written. During a hand-over, the connection closes after the response.
func (e *Engine) asFastCGI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.trusts(r.RemoteAddr) {
			names := &forwardedHeaders
			if e.Passenger {
				names = &passengerHeaders
			}
			// The right-most entry is the one the proxy added: HAProxy
			// appends a header line of its own after the client's, nginx
			// and Apache a comma-separated entry.
			if xff := lastValue(r.Header, names[0]); xff != "" {
				client := strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:])
				if a, err := netip.ParseAddr(client); err == nil {
					r.RemoteAddr = netip.AddrPortFrom(a, 0).String()
				}
			}
			proto := lastValue(r.Header, names[1])
			if strings.EqualFold(strings.TrimSpace(proto[strings.LastIndexByte(proto, ',')+1:]), "https") && r.TLS == nil {
				r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: r.Host}
			}
		}
		http.NewResponseController(w).EnableFullDuplex()
		if e.handingOff.Load() {
			w.Header().Set("Connection", "close")
		}
		body := r.Body
		next.ServeHTTP(w, r)
		// In full duplex, net/http reads a body the handler left unread only
		// as it ends the request, which starts its read-ahead of the next
		// request after having stopped it: the next request on the
		// connection then panics "invalid concurrent Body.Read call"
		// (golang/go#68560). Reading it here, while the handler's request
		// is still in progress, keeps net/http's order.
		if hc, ok := r.Context().Value(connKey{}).(*httpConn); !ok || !hc.hijacked.Load() {
			body.Close()
		}
	})
}

// connKey is the request context's key to its *httpConn.
type connKey struct{}

// The headers that name the client's address and the scheme it used.
var (
	forwardedHeaders = [2]string{"X-Forwarded-For", "X-Forwarded-Proto"}
	// Passenger's own, which it refuses from clients; it passes a client's
	// X-Forwarded-Proto on as it came, and sets one only over https.
	passengerHeaders = [2]string{"!~Passenger-Client-Address", "!~Passenger-Proto"}
)

// lastValue is the last line of the header name.
func lastValue(h http.Header, name string) string {
	v := h.Values(name)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func (e *Engine) trusts(remoteAddr string) bool {
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
