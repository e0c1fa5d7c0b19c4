// Package responder is a FastCGI 1.0 application engine: it serves any
// http.Handler to web servers that speak FastCGI (Apache mod_fcgid,
// mod_fastcgi and mod_proxy_fcgi, nginx, lighttpd, Caddy, HAProxy).
//
// A [Server] reads like an [http.Server]: a Handler, limits and timeouts as
// fields whose zero values are sane defaults, [Server.Serve] on any
// net.Listener, [Server.Shutdown] to drain and [Server.Close] to stop.
//
// # Requests
//
// Handlers receive ordinary *http.Request values: the URL comes from
// REQUEST_URI with the raw path kept, headers from the HTTP_* variables,
// RemoteAddr from REMOTE_ADDR and REMOTE_PORT, TLS is non-nil when the web
// server says HTTPS is on. Every CGI variable the web server sent, such as
// SCRIPT_NAME or PATH_INFO, is available through [Param] and [Params].
// A request's context is cancelled when the web server aborts it
// (FCGI_ABORT_REQUEST), when its connection is lost, and when the handler
// returns.
//
// # Connections and memory
//
// Requests may be multiplexed on one connection and FCGI_KEEP_CONN is
// honoured. One goroutine reads each connection and never waits for a
// handler: request bodies the handler has not read yet are held in memory
// up to [Server.BodyBufferBytes] each and spill to an unlinked temporary
// file beyond that, so a slow handler stalls neither the other requests on
// its connection nor the abort meant for it. Memory is therefore bounded by
// MaxConcurrentRequests × (BodyBufferBytes + one 36 KiB response buffer),
// plus one 72 KiB read buffer per connection with a request on it (4 KiB
// while it waits for one); all buffers are pooled.
//
// # Responses
//
// Output is buffered in 32 KiB records; [http.Flusher] and
// [http.ResponseController] send what was written at once. Content-Type is
// sniffed as net/http does when the handler sets none. A handler that
// panics gets a 500 if nothing was sent yet; otherwise the web server sees
// the response fail rather than a truncated one passed off as whole.
// Handlers can write to the virtual host's error log with [Stderr].
//
// # Roles
//
// Responder requests go to Server.Handler. The Authorizer and Filter roles
// are served only when [Server.Authorizer] or [Server.Filter] is set, and
// refused with FCGI_UNKNOWN_ROLE otherwise. An Authorizer's 200 lets the
// request through with the variables set by [SetVariable].
//
// # Client
//
// [Client] is the web server's side of the protocol, sharing the record
// code: the tests, the project's tools, and anyone who wants to talk to a
// FastCGI application (PHP-FPM included) use it.
package responder
