package responder

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// bodyChunk is how much response body is buffered before it is sent as one
// FCGI_STDOUT record; a multiple of 8, so full records need no padding.
const bodyChunk = 32 << 10

// outBufCap leaves room, besides a full chunk, for the header block of a
// typical response and the records that end a request.
const outBufCap = headerLen + bodyChunk + 4<<10

var (
	outPool     = sync.Pool{New: func() any { b := make([]byte, 0, outBufCap); return &b }}
	scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 2<<10); return &b }}
	keysPool    = sync.Pool{New: func() any { k := make([]string, 0, 16); return &k }}
)

var errWriteAfterEnd = errors.New("fastcgi: write after the handler returned")

// response is the http.ResponseWriter of a request. Body bytes collect in
// out behind 8 bytes reserved for their record header, so a buffered chunk
// goes out without being copied again.
type response struct {
	q           *request
	header      http.Header
	status      int
	wroteHeader bool
	sentHeader  bool
	truncated   bool // a panic after the header was sent
	closed      atomic.Bool
	stderrUsed  atomic.Bool
	written     int64
	out         []byte
	outp        *[]byte
	err         error
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
)

func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader || code < 200 {
		// CGI has no interim (1xx) responses; a second call changes nothing.
		return
	}
	w.wroteHeader = true
	w.status = code
}

func (w *response) Write(p []byte) (int, error) { return writeBody(w, p) }

// WriteString spares io.WriteString callers a conversion.
func (w *response) WriteString(s string) (int, error) { return writeBody(w, s) }

func writeBody[T string | []byte](w *response, p T) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.writable(); err != nil {
		return 0, err
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.q.isHead() {
		return len(p), nil
	}
	n := 0
	for n < len(p) {
		if w.out == nil {
			w.getOut()
		}
		room := headerLen + bodyChunk - len(w.out)
		if room == 0 {
			if err := w.flush(false); err != nil {
				return n, err
			}
			continue
		}
		k := min(room, len(p)-n)
		w.out = append(w.out, p[n:n+k]...)
		n += k
	}
	return n, nil
}

func (w *response) writable() error {
	switch {
	case w.closed.Load():
		return errWriteAfterEnd
	case w.q.aborted.Load():
		if w.q.ctx != nil {
			return context.Cause(w.q.ctx)
		}
		return errAborted
	}
	return w.err
}

func (q *request) isHead() bool { return q.hreq != nil && q.hreq.Method == "HEAD" }

// Flush sends the header and the body written so far to the web server.
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush reporting failure, for http.ResponseController.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.writable(); err != nil {
		return err
	}
	return w.flush(false)
}

// EnableFullDuplex reports success: the body can always be read while the
// response is written, since the connection's reader buffers it.
func (w *response) EnableFullDuplex() error { return nil }

func (w *response) getOut() {
	w.outp = outPool.Get().(*[]byte)
	w.out = (*w.outp)[:headerLen]
}

func (w *response) release() {
	if w.outp == nil {
		return
	}
	if cap(w.out) <= 2*outBufCap {
		*w.outp = w.out[:0]
		outPool.Put(w.outp)
	}
	w.out, w.outp = nil, nil
}

// flush sends what is buffered: the header block first if not yet sent,
// then the body; final adds the records that end the request.
func (w *response) flush(final bool) error {
	q := w.q
	if w.out == nil {
		w.getOut()
	}
	body := w.out[headerLen:]
	var head []byte
	var headp *[]byte
	if !w.sentHeader {
		w.sentHeader = true
		headp = scratchPool.Get().(*[]byte)
		head = w.appendHeaderRecords((*headp)[:0], body, final)
	}
	if n := len(body); head != nil && n > 0 && q.role == RoleAuthorizer && oneRecord(head) {
		// mod_authnz_fcgi takes as a denial's body only what comes in
		// the record that ends the header block: one record for both.
		w.out = appendStream(w.out[:0], typeStdout, q.id, slices.Concat(head[headerLen:len(head)-int(head[6])], body))
	} else {
		if n > 0 {
			pad := paddingFor(n)
			putHeader(w.out, typeStdout, q.id, n, pad)
			w.out = append(w.out, zeroPadding[:pad]...)
		} else {
			w.out = w.out[:0]
		}
		if head != nil {
			w.out = slices.Insert(w.out, 0, head...)
		}
	}
	if head != nil {
		*headp = head[:0]
		scratchPool.Put(headp)
	}
	if final {
		w.out = appendRecord(w.out, typeStdout, q.id, nil)
		if w.stderrUsed.Load() {
			w.out = appendRecord(w.out, typeStderr, q.id, nil)
		}
		w.out = appendEndRequest(w.out, q.id, 0, statusRequestComplete)
		q.c.end(q)
	}
	var err error
	if len(w.out) > 0 {
		err = q.c.write(w.out)
	}
	w.out = w.out[:headerLen]
	if err != nil && w.err == nil {
		w.err = err
		q.lose(errConnLost)
	}
	return err
}

// oneRecord reports whether b is a single record.
func oneRecord(b []byte) bool {
	return len(b) == headerLen+int(binary.BigEndian.Uint16(b[4:6]))+int(b[6])
}

// appendHeaderRecords appends the CGI response header block as FCGI_STDOUT.
func (w *response) appendHeaderRecords(b []byte, body []byte, final bool) []byte {
	start := len(b)
	b = append(b, zeroPadding[:headerLen]...)
	b = append(b, "Status: "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	if text := http.StatusText(w.status); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "Unknown"...)
	}
	b = append(b, "\r\n"...)
	h := w.header
	if bodyAllowedForStatus(w.status) {
		if _, ok := h["Content-Type"]; !ok && len(body) > 0 {
			b = append(b, "Content-Type: "...)
			b = append(b, http.DetectContentType(body[:min(len(body), 512)])...)
			b = append(b, "\r\n"...)
		}
		if _, ok := h["Content-Length"]; !ok && final && !(w.q.isHead() && w.written == 0) {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, w.written, 10)
			b = append(b, "\r\n"...)
		}
	}
	kp := keysPool.Get().(*[]string)
	keys := (*kp)[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validHeaderName(k) || k == "Status" || k == "Transfer-Encoding" || suppressed(w.status, k) {
			continue
		}
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			if k == "Location" && w.status == http.StatusOK && w.q.role == RoleResponder && localRedirect(v) {
				// To a CGI web server (Apache, lighttpd) a 200 with
				// Location /path is a local redirect (RFC 3875 6.2.2),
				// served in its place, looping if it leads back here.
				// Absolute, it is a header like any other, as net/http
				// sends it.
				b = w.q.appendOrigin(b)
			}
			b = appendHeaderValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	clear(keys)
	*kp = keys[:0]
	keysPool.Put(kp)
	b = append(b, "\r\n"...)

	n := len(b) - start - headerLen
	if n <= maxContentLen {
		pad := paddingFor(n)
		putHeader(b[start:], typeStdout, w.q.id, n, pad)
		return append(b, zeroPadding[:pad]...)
	}
	block := slices.Clone(b[start+headerLen:])
	return appendStream(b[:start], typeStdout, w.q.id, block)
}

// appendHeaderValue keeps a handler's CR or LF from splitting the response.
func appendHeaderValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' || c == 0 {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ':' || strings.IndexByte(`"(),/;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// suppressed reports whether net/http leaves header k out of a response
// with status: a body's length where there is no body, and its type too
// for a 304 (RFC 9110 section 15.4.5).
func suppressed(status int, k string) bool {
	switch {
	case status == http.StatusNotModified:
		return k == "Content-Length" || k == "Content-Type"
	case !bodyAllowedForStatus(status):
		return k == "Content-Length"
	}
	return false
}

// localRedirect reports a Location a CGI web server would follow itself.
func localRedirect(v string) bool {
	return strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//")
}

// appendOrigin appends the request's scheme and host: http://example.com.
func (q *request) appendOrigin(b []byte) []byte {
	if q.hreq == nil {
		return b
	}
	if q.hreq.TLS != nil {
		b = append(b, "https://"...)
	} else {
		b = append(b, "http://"...)
	}
	return append(b, q.hreq.Host...)
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199, status == 204, status == 304:
		return false
	}
	return true
}

// serve runs the handler and ends the request however the handler ends.
func (q *request) serve() {
	defer func() {
		if v := recover(); v != nil {
			q.recovered(v)
		}
		q.finish()
	}()
	q.handler.ServeHTTP(&q.response, q.hreq)
}

func (q *request) recovered(v any) {
	w := &q.response
	if v != http.ErrAbortHandler {
		outcome := "handler panicked; request answered 500"
		if w.sentHeader {
			outcome = "handler panicked after the response header was sent; response truncated"
		}
		q.c.srv.cfg.log.Error().
			Str("panic", fmt.Sprint(v)).
			Str("method", q.hreq.Method).
			Str("uri", q.hreq.RequestURI).
			Bytes("stack", debug.Stack()).
			Msg(outcome)
	}
	if w.sentHeader {
		w.truncated = true
		return
	}
	if w.out != nil {
		w.out = w.out[:headerLen]
	}
	w.header = nil
	w.wroteHeader = false
	w.written = 0
	w.writeStatusPage(http.StatusInternalServerError)
}

func (w *response) writeStatusPage(code int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.WriteString(http.StatusText(code) + "\n")
}

// serveError answers a request whose parameters were refused.
func (q *request) serveError(code int) {
	q.response.writeStatusPage(code)
	q.finish()
}

// finish ends the request with exactly one FCGI_END_REQUEST, unless the
// connection is to be dropped to show a truncated response.
func (q *request) finish() {
	w := &q.response
	q.stdin.Close()
	if q.data != nil {
		q.data.Close()
	}
	switch {
	case q.aborted.Load():
		q.c.end(q)
		w.endOnly(0)
	case w.truncated:
		// The header went out, so the web server must see a failure
		// rather than a short body passed off as complete: close the
		// connection when that harms no other request (once those still
		// writing their FCGI_END_REQUEST have), else end with a non-zero
		// application status.
		if q.c.end(q) {
			q.c.closeWhenQuiet()
		} else {
			w.endOnly(1)
		}
	default:
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		w.flush(true)
	}
	w.closed.Store(true)
	w.release()
	if q.cancel != nil {
		q.cancel(context.Canceled)
	}
	q.c.ended()
}

func (w *response) endOnly(appStatus uint32) {
	bp := scratchPool.Get().(*[]byte)
	b := appendEndRequest((*bp)[:0], w.q.id, appStatus, statusRequestComplete)
	w.q.c.write(b)
	*bp = b[:0]
	scratchPool.Put(bp)
}

// stderrWriter sends FCGI_STDERR records of one request.
type stderrWriter struct{ q *request }

func (s stderrWriter) Write(p []byte) (int, error) {
	w := &s.q.response
	if err := w.writable(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	w.stderrUsed.Store(true)
	bp := scratchPool.Get().(*[]byte)
	b := appendStream((*bp)[:0], typeStderr, s.q.id, p)
	err := s.q.c.write(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		scratchPool.Put(bp)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
