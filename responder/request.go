package responder

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/cgivar"
)

// request is one FastCGI request: its input as the reader collects it, the
// *http.Request handed to the handler, and the response being written.
type request struct {
	c        *conn
	id       uint16
	role     Role
	keepConn bool
	begun    time.Time
	handler  http.Handler

	// Owned by the connection's reader goroutine.
	params       []byte // raw FCGI_PARAMS stream until it ends; pooled
	paramsEnded  bool
	paramsStatus int // non-zero: answer with this status once params end
	stdinEnded   bool
	dataEnded    bool
	started      bool
	inline       bool // to be served on the reader's goroutine once its input is complete

	inputDone bool // guarded by c.mu; the whole request has arrived

	pairs   []param
	stdin   streamBuffer
	data    *streamBuffer // Filter role only
	rctx    reqContext
	ctx     context.Context
	cancel  context.CancelCauseFunc
	aborted atomic.Bool
	hreq    *http.Request

	response
}

type ctxKey struct{}

var paramsPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func newRequest(c *conn, id uint16, role Role, keepConn bool, h http.Handler) *request {
	q := &request{c: c, id: id, role: role, keepConn: keepConn, handler: h, begun: time.Now()}
	cfg := &c.srv.cfg
	q.stdin.init(cfg.BodyBufferBytes, cfg.MaxRequestBodyBytes, c.srv.TempDir, c.srv.spill)
	if role == RoleFilter {
		q.data = new(streamBuffer)
		q.data.init(cfg.BodyBufferBytes, -1, c.srv.TempDir, c.srv.spill)
	}
	q.response.q = q
	return q
}

func (s *Server) handlerFor(r Role) http.Handler {
	switch r {
	case RoleResponder:
		if s.Handler == nil {
			return http.DefaultServeMux
		}
		return s.Handler
	case RoleAuthorizer:
		return s.Authorizer
	case RoleFilter:
		return s.Filter
	}
	return nil
}

func (q *request) addParams(content []byte) error {
	if q.paramsEnded {
		return &ProtocolError{Msg: "FCGI_PARAMS for request " + strconv.Itoa(int(q.id)) + " after its parameters ended"}
	}
	if len(content) == 0 {
		q.endParams()
		return nil
	}
	if q.paramsStatus != 0 {
		return nil
	}
	if q.params == nil {
		q.params = (*paramsPool.Get().(*[]byte))[:0]
	}
	srv := q.c.srv
	if len(q.params)+len(content) > srv.cfg.MaxParamsBytes {
		q.paramsStatus = http.StatusRequestHeaderFieldsTooLarge
		srv.cfg.log.Warn().Int("limit", srv.cfg.MaxParamsBytes).Msg("request parameters over MaxParamsBytes; answered 431")
		q.releaseParams()
		return nil
	}
	if srv.paramsHeld.Add(int64(len(content))) > srv.cfg.paramsBudget {
		// Each request within MaxParamsBytes, a thousand unfinished
		// ones would still hold a gigabyte.
		srv.paramsHeld.Add(-int64(len(content)))
		q.paramsStatus = http.StatusServiceUnavailable
		srv.cfg.log.Warn().Int64("limit", srv.cfg.paramsBudget).Msg("unfinished requests' parameters over the server's budget; answered 503")
		q.releaseParams()
		return nil
	}
	q.params = append(q.params, content...)
	return nil
}

func (q *request) releaseParams() {
	if q.params == nil {
		return
	}
	q.c.srv.paramsHeld.Add(-int64(len(q.params)))
	if cap(q.params) <= 64<<10 {
		b := q.params[:0]
		paramsPool.Put(&b)
	}
	q.params = nil
}

// endParams builds the http.Request and starts the handler.
func (q *request) endParams() {
	q.paramsEnded = true
	log := q.c.srv.cfg.log
	if q.paramsStatus == 0 {
		block := string(q.params)
		q.releaseParams()
		var err error
		q.pairs, err = parsePairs(make([]param, 0, 48), block, q.c.srv.cfg.MaxParams)
		switch {
		case errors.Is(err, errPairTooMany):
			q.paramsStatus = http.StatusRequestHeaderFieldsTooLarge
			log.Warn().Int("limit", q.c.srv.cfg.MaxParams).Msg("request has more parameters than MaxParams; answered 431")
		case err != nil:
			q.paramsStatus = http.StatusBadRequest
			log.Error().Err(err).Msg("malformed FCGI_PARAMS; answered 400")
		default:
			if err := q.buildHTTPRequest(); err != nil {
				q.paramsStatus = http.StatusBadRequest
				log.Warn().Err(err).Msg("cannot build an HTTP request from the parameters; answered 400")
			}
		}
	}
	if q.role == RoleAuthorizer {
		// Authorizers get no body; web servers send none or an empty one.
		q.stdinEnded = true
		q.stdin.end(io.EOF)
	}
	if q.paramsStatus != 0 {
		q.checkInputDone()
		q.started = true
		q.serveError(q.paramsStatus)
		return
	}
	q.inline = q.c.mayServeInline(q)
	q.checkInputDone()
	if !q.inline {
		q.started = true
		q.c.startHandler(q)
	}
}

func (q *request) addInput(sb *streamBuffer, content []byte, alone bool) error {
	if !q.paramsEnded {
		// No web server does this; a body taken before its CONTENT_LENGTH
		// could not be held to it.
		return &ProtocolError{Msg: "input for request " + strconv.Itoa(int(q.id)) + " before its parameters ended"}
	}
	if sb == &q.stdin && q.stdinEnded || sb == q.data && q.dataEnded {
		q.c.srv.cfg.log.Debug().Uint16("request", q.id).Msg("input after the end of its stream ignored")
		return nil
	}
	if len(content) > 0 {
		if err := sb.write(content, alone); err != nil {
			q.c.srv.cfg.log.Error().Err(err).Msg("request input lost")
		}
		return nil
	}
	if sb == &q.stdin {
		q.stdinEnded = true
		short, excess := sb.finish()
		if short > 0 {
			q.c.srv.cfg.log.Warn().Int64("missing", short).Msg("FCGI_STDIN ended short of CONTENT_LENGTH; the handler's read fails with unexpected EOF")
		}
		if excess > 0 {
			q.c.srv.cfg.log.Warn().Int64("dropped", excess).Msg("FCGI_STDIN ran past CONTENT_LENGTH; the excess was dropped")
		}
	} else {
		sb.end(io.EOF)
		q.dataEnded = true
	}
	q.checkInputDone()
	return nil
}

func (q *request) checkInputDone() {
	if q.paramsEnded && q.stdinEnded && (q.data == nil || q.dataEnded) {
		q.c.inputComplete(q)
		if q.inline && !q.started {
			q.c.ready = q
		}
	}
}

// abort handles FCGI_ABORT_REQUEST: the handler's context is cancelled and
// its output dropped; FCGI_END_REQUEST follows once the handler returns.
func (q *request) abort() {
	q.lose(errAborted)
	if !q.started {
		q.started = true
		q.releaseParams()
		q.c.end(q)
		q.c.reply = appendEndRequest(q.c.reply[:0], q.id, 0, statusRequestComplete)
		q.c.write(q.c.reply)
		q.c.ended()
	}
}

// lose ends the request's input and cancels its context with cause.
func (q *request) lose(cause error) {
	q.aborted.Store(true)
	if q.cancel != nil {
		q.cancel(cause)
	}
	q.stdin.end(cause)
	if q.data != nil {
		q.data.end(cause)
	}
}

// buildHTTPRequest makes the *http.Request from the CGI/1.1 parameters.
func (q *request) buildHTTPRequest() error {
	ps := q.pairs
	r := &http.Request{
		Method:     "GET",
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Body:       &q.stdin,
	}
	var (
		uri, scriptName, pathInfo, query, host, serverName, serverPort string
		remoteAddr, remotePort, https, contentLength, contentType      string
		nHeaders                                                       int
		lengthSent                                                     bool // the client's Content-Length, passed on as HTTP_CONTENT_LENGTH
	)
	for _, p := range ps {
		if strings.HasPrefix(p.name, "HTTP_") {
			nHeaders++
			lengthSent = lengthSent || p.name == "HTTP_CONTENT_LENGTH"
			continue
		}
		switch p.name {
		case "REQUEST_METHOD":
			r.Method = p.value
		case "REQUEST_URI":
			uri = p.value
		case "SCRIPT_NAME":
			scriptName = p.value
		case "PATH_INFO":
			pathInfo = p.value
		case "QUERY_STRING":
			query = p.value
		case "SERVER_PROTOCOL":
			if major, minor, ok := http.ParseHTTPVersion(p.value); ok {
				r.Proto, r.ProtoMajor, r.ProtoMinor = p.value, major, minor
			}
		case "SERVER_NAME":
			serverName = p.value
		case "SERVER_PORT":
			serverPort = p.value
		case "REMOTE_ADDR":
			remoteAddr = p.value
		case "REMOTE_PORT":
			remotePort = p.value
		case "HTTPS":
			https = p.value
		case "CONTENT_LENGTH":
			// Caddy sends -1 for a body of unknown length (a chunked
			// request), then the body as it comes: read to the end of
			// FCGI_STDIN, as net/http reads a chunked body.
			if p.value == "-1" {
				r.ContentLength = -1
				continue
			}
			contentLength = p.value
		case "CONTENT_TYPE":
			contentType = p.value
		}
	}
	if contentType != "" {
		nHeaders++
	}
	if contentLength != "" {
		nHeaders++
	}
	// One backing array for every header's value slice, as net/http does.
	values := make([]string, nHeaders)
	r.Header = make(http.Header, nHeaders)
	add := func(key, v string) {
		if vv, ok := r.Header[key]; ok {
			r.Header[key] = append(vv, v)
			return
		}
		values[0] = v
		r.Header[key] = values[:1:1]
		values = values[1:]
	}
	for _, p := range ps {
		// nginx sends Content-Type and Content-Length both as the CGI
		// variables and as HTTP_ copies; net/http has each once.
		if (p.name == "HTTP_CONTENT_TYPE" && contentType != "") || (p.name == "HTTP_CONTENT_LENGTH" && contentLength != "") {
			continue
		}
		if key, ok := cgivar.ToHeader(p.name); ok {
			if p.name == "HTTP_HOST" {
				host = p.value
			}
			add(key, p.value)
		}
	}
	if contentType != "" {
		add("Content-Type", contentType)
	}
	if contentLength != "" {
		n, err := strconv.ParseInt(contentLength, 10, 64)
		if err != nil || n < 0 {
			return errors.New("CONTENT_LENGTH is not a length: " + strconv.Quote(contentLength))
		}
		r.ContentLength = n
		// mod_fcgid, lighttpd and Caddy send CONTENT_LENGTH=0 for every
		// request; a client sends Content-Length: 0 only on a POST, PUT or
		// PATCH, and net/http's handler sees none on the others.
		if n != 0 || lengthSent || sendsZeroLength(r.Method) {
			add("Content-Length", contentLength)
		}
		q.stdin.expect(n)
		if n == 0 {
			r.Body = http.NoBody
		}
	}

	if uri == "" {
		// Not every web server sends REQUEST_URI (nginx only through
		// fastcgi_params); rebuild it the way CGI defines the parts.
		uri = scriptName + pathInfo
		if query != "" {
			uri += "?" + query
		}
	}
	if uri == "" {
		uri = "/"
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return errors.New("REQUEST_URI: " + err.Error())
	}
	r.URL = u
	r.RequestURI = uri

	if host == "" {
		host = serverName
		if serverPort != "" && serverPort != "80" && serverPort != "443" && host != "" {
			host = net.JoinHostPort(host, serverPort)
		}
	}
	r.Host = host
	if remoteAddr != "" {
		if remotePort != "" {
			r.RemoteAddr = net.JoinHostPort(remoteAddr, remotePort)
		} else {
			r.RemoteAddr = remoteAddr
		}
	}
	if https != "" && (strings.EqualFold(https, "on") || https == "1") {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: serverName}
	}

	ctx, cancel := context.WithCancelCause(q.c.ctx)
	q.cancel = cancel
	q.rctx = reqContext{Context: ctx, q: q}
	q.ctx = &q.rctx
	q.hreq = r.WithContext(q.ctx)
	return nil
}

func fromRequest(r *http.Request) *request {
	q, _ := r.Context().Value(ctxKey{}).(*request)
	return q
}

// Param returns the CGI/1.1 variable name of a request served by a Server,
// such as SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME, REDIRECT_URL,
// REMOTE_USER or DOCUMENT_ROOT, and whether the web server sent it. When
// the web server sent a name twice, the last value wins, as in CGI. It
// reports false for requests that did not come through FastCGI.
func Param(r *http.Request, name string) (string, bool) {
	q := fromRequest(r)
	if q == nil {
		return "", false
	}
	return lookup(q.pairs, name)
}

// Params yields every CGI/1.1 variable the web server sent with r, in the
// order it sent them, HTTP_* headers included.
func Params(r *http.Request) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		q := fromRequest(r)
		if q == nil {
			return
		}
		for _, p := range q.pairs {
			if !yield(p.name, p.value) {
				return
			}
		}
	}
}

// FilterData returns the file a Filter-role request is to filter
// (FCGI_DATA); its modification time and length are the parameters
// FCGI_DATA_LAST_MOD and FCGI_DATA_LENGTH. For other requests it returns
// an empty reader.
func FilterData(r *http.Request) io.Reader {
	if q := fromRequest(r); q != nil && q.data != nil {
		return q.data
	}
	return http.NoBody
}

// Stderr returns a writer to the request's FCGI_STDERR stream, which web
// servers write to the error log of the virtual host that served the
// request. Outside FastCGI it discards.
func Stderr(r *http.Request) io.Writer {
	if q := fromRequest(r); q != nil {
		return stderrWriter{q}
	}
	return io.Discard
}

// sendsZeroLength reports whether clients send requests of method with
// Content-Length: 0 when they have no body (net/http's client does so for
// these three only).
func sendsZeroLength(method string) bool {
	return method == "POST" || method == "PUT" || method == "PATCH"
}
