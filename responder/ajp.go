package responder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/fcgi-hosting/fcgi/internal/cgivar"
)

// NewAJPListener returns a listener whose connections speak AJP13 instead
// of FastCGI, as Apache's mod_proxy_ajp does. A
// Server serving it answers them with the same handlers, limits, timeouts
// and graceful shutdown. Connections are kept for the next request, as AJP
// expects; under Shutdown or Handoff an idle one is closed, which
// mod_proxy_ajp notices before reusing it. Packets are at most 8 KiB, AJP's
// default: a response header block must fit in one.
func NewAJPListener(l net.Listener) net.Listener {
	return gatewayListener{Listener: l, wrap: NewAJPConn}
}

// NewAJPConn wraps a connection speaking AJP13 for ServeConn: one passed
// on by Handoff from a Server serving NewAJPListener, say.
func NewAJPConn(c net.Conn) net.Conn { return &ajpConn{gatewayConn{Conn: c, gw: new(ajp)}} }

// ajpConn can be passed on by Handoff when idle, as a kept-alive FastCGI
// connection can: mod_proxy_ajp pools connections and may send a request
// on one at any moment.
type ajpConn struct{ gatewayConn }

func (c *ajpConn) File() (*os.File, error) {
	if c.pending() {
		return nil, errors.New("AJP13 connection in the middle of a request")
	}
	f, ok := c.Conn.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return f.File()
}

// AJP13 packets, as https://tomcat.apache.org/connectors-doc/ajp/ajpv13a.html
// describes them.
const (
	ajpMaxPacket  = 8192             // ProxyIOBufferSize's default: the most a web server takes
	ajpMaxChunk   = ajpMaxPacket - 8 // SEND_BODY_CHUNK: header, type, length, trailing NUL
	ajpMaxBodyAsk = ajpMaxPacket - 6 // a body packet's header and length

	ajpHeaderFromWS = "\x12\x34" // starts packets from the web server

	// From the web server.
	ajpForwardReq = 2
	ajpShutdown   = 7
	ajpPing       = 8
	ajpCPing      = 10
	// To the web server.
	ajpSendBodyChunk = 3
	ajpSendHeaders   = 4
	ajpEndResponse   = 5
	ajpGetBodyChunk  = 6
	ajpCPong         = 9

	ajpNull         = 0xffff // a string's length when it is absent
	ajpCodedHeader  = 0xa0   // high byte of a coded header name
	ajpMethodStored = 0xff   // the method is in the req_method attribute
	ajpAttrReq      = 0x0a   // a named attribute: two strings
	ajpAttrKeySize  = 0x0b   // ssl_key_size: an integer, not a string
	ajpAttrMethod   = 0x0d
	ajpAttrEnd      = 0xff

	ajpChunked = -1 // bodyLeft of a body of unknown length
)

var ajpMethods = [...]string{1: "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PROPFIND",
	"PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "ACL", "REPORT", "VERSION-CONTROL", "CHECKIN",
	"CHECKOUT", "UNCHECKOUT", "SEARCH", "MKWORKSPACE", "UPDATE", "LABEL", "MERGE", "BASELINE-CONTROL",
	"MKACTIVITY"}

// ajpRequestHeaders are the CGI variables of the headers AJP sends coded,
// by their code's low byte: 0xA001 is Accept.
var ajpRequestHeaders = func() []string {
	names := []string{""} // codes begin at 1
	for _, key := range []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
		"Authorization", "Connection", "Content-Type", "Content-Length", "Cookie", "Cookie2", "Host", "Pragma",
		"Referer", "User-Agent"} {
		names = append(names, cgivar.FromHeader(key))
	}
	return names
}()

var ajpAttributes = [...]string{1: "AJP_CONTEXT", "AJP_SERVLET_PATH", "REMOTE_USER", "AUTH_TYPE",
	"QUERY_STRING", "AJP_JVM_ROUTE", "SSL_CLIENT_CERT", "SSL_CIPHER", "SSL_SESSION_ID"}

type ajp struct {
	// The reader's.
	bodyLeft  int64 // of the request being read; ajpChunked if unknown
	inBody    bool
	askedBody bool
	bodyDone  atomic.Bool // the whole request has been read: the connection may be reused

	// The writer's.
	head     []byte // the CGI header block until it is complete
	headSent bool
}

func (a *ajp) midRequest() bool { return a.inBody }

func ajpError(msg string) error { return &ProtocolError{Msg: "AJP13: " + msg} }

// packet reads the next packet from the web server and returns its payload,
// valid until the next call.
func (a *ajp) packet(g *gatewayConn) ([]byte, error) {
	if err := g.fill(4); err != nil {
		return nil, err
	}
	b := g.buffered()
	if string(b[:2]) != ajpHeaderFromWS {
		return nil, ajpError("packet does not start with 0x1234: is the peer speaking AJP13?")
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if err := g.fill(4 + n); err != nil {
		return nil, err
	}
	payload := g.buffered()[4 : 4+n]
	g.consume(4 + n)
	return payload, nil
}

func (a *ajp) input(g *gatewayConn) error {
	if a.inBody {
		return a.body(g)
	}
	p, err := a.packet(g)
	if err != nil {
		return err
	}
	if len(p) == 0 {
		// Asks nothing; lighttpd's mod_ajp13 sends one after each request.
		return nil
	}
	switch p[0] {
	case ajpForwardReq:
		return a.forward(g, p)
	case ajpCPing:
		return g.send([]byte{'A', 'B', 0, 1, ajpCPong})
	case ajpPing, ajpShutdown:
		// Neither asks anything of an application that is not a servlet
		// container; a web server does not send them.
		return nil
	}
	return ajpError("packet of type " + strconv.Itoa(int(p[0])) + " where a request was due")
}

// ajpReader decodes a packet's fields; the first failure sticks.
type ajpReader struct {
	b   []byte
	bad bool
}

func (r *ajpReader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *ajpReader) uint16() int {
	if len(r.b) < 2 {
		r.bad = true
		return 0
	}
	n := int(binary.BigEndian.Uint16(r.b))
	r.b = r.b[2:]
	return n
}

// string reads a length, the bytes and their NUL; ok is false for AJP's
// null string.
func (r *ajpReader) string() (s []byte, ok bool) {
	n := r.uint16()
	if n == ajpNull || r.bad {
		return nil, false
	}
	if len(r.b) < n+1 || r.b[n] != 0 {
		r.bad = true
		return nil, false
	}
	s = r.b[:n]
	r.b = r.b[n+1:]
	return s, true
}

// forward turns AJP13_FORWARD_REQUEST into the CGI/1.1 parameters the
// engine builds requests from.
func (a *ajp) forward(g *gatewayConn, p []byte) error {
	r := ajpReader{b: p[1:]}
	method := ""
	if m := int(r.byte()); m > 0 && m < len(ajpMethods) {
		method = ajpMethods[m]
	} else if m != ajpMethodStored {
		return ajpError("unknown method code " + strconv.Itoa(m))
	}
	protocol, _ := r.string()
	uri, _ := r.string()
	remoteAddr, _ := r.string()
	remoteHost, _ := r.string()
	serverName, _ := r.string()
	port := r.uint16()
	ssl := r.byte()
	nHeaders := r.uint16()
	if r.bad {
		return ajpError("truncated request")
	}

	pp := gatewayBufPool.Get().(*[]byte)
	defer gatewayBufPool.Put(pp)
	params := (*pp)[:0]
	add := func(name string, value []byte) { params = appendPair(params, name, string(value)) }
	add("GATEWAY_INTERFACE", []byte("CGI/1.1"))
	add("SERVER_PROTOCOL", protocol)
	add("REMOTE_ADDR", remoteAddr)
	add("REMOTE_HOST", remoteHost)
	add("SERVER_NAME", serverName)
	params = appendPair(params, "SERVER_PORT", strconv.Itoa(port))
	if ssl != 0 {
		add("HTTPS", []byte("on"))
	}
	a.bodyLeft = 0
	var nameBuf [64]byte
	for range nHeaders {
		var name string
		if len(r.b) >= 2 && r.b[0] == ajpCodedHeader {
			code := int(r.uint16() & 0xff)
			if code < 1 || code >= len(ajpRequestHeaders) {
				return ajpError("unknown header code 0xa0" + strconv.FormatInt(int64(code), 16))
			}
			name = ajpRequestHeaders[code]
		} else {
			n, ok := r.string()
			if !ok {
				return ajpError("truncated request header")
			}
			if bytes.IndexByte(n, '_') >= 0 {
				// X_Remote_User would pass for X-Remote-User once mapped to
				// HTTP_X_REMOTE_USER: dropped, as Apache and nginx drop
				// such names for CGI and FastCGI.
				name = ""
			} else {
				name = string(cgivar.AppendFromHeader(nameBuf[:0], n))
			}
		}
		value, ok := r.string()
		if !ok {
			return ajpError("truncated request header")
		}
		if name == "" {
			continue
		}
		// CGI gives the body's type and length variables of their own.
		switch name {
		case "HTTP_CONTENT_TYPE":
			name = "CONTENT_TYPE"
		case "HTTP_CONTENT_LENGTH":
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return ajpError("Content-Length is not a length: " + strconv.Quote(string(value)))
			}
			a.bodyLeft = n
			name = "CONTENT_LENGTH"
		case "HTTP_TRANSFER_ENCODING":
			if bytes.Contains(bytes.ToLower(value), []byte("chunked")) {
				a.bodyLeft = ajpChunked
			}
		}
		add(name, value)
	}
	query := []byte(nil)
	for !r.bad {
		code := int(r.byte())
		if code == ajpAttrEnd {
			break
		}
		switch {
		case code == ajpAttrReq:
			name, _ := r.string()
			value, _ := r.string()
			if string(name) == "AJP_REMOTE_PORT" {
				add("REMOTE_PORT", value)
			}
		case code == ajpAttrKeySize:
			r.uint16()
		case code == ajpAttrMethod:
			m, _ := r.string()
			method = string(m)
		case code > 0 && code < len(ajpAttributes):
			v, _ := r.string()
			if ajpAttributes[code] == "QUERY_STRING" {
				query = v
			} else {
				add(ajpAttributes[code], v)
			}
		default:
			// secret and anything newer: a string each, not ours to check.
			r.string()
		}
	}
	if r.bad {
		return ajpError("truncated request attributes")
	}
	if method == "" {
		return ajpError("request without a method")
	}
	params = appendPair(params, "REQUEST_METHOD", method)
	add("QUERY_STRING", query)
	requestURI := string(uri)
	if len(query) > 0 {
		requestURI += "?" + string(query)
	}
	params = appendPair(params, "REQUEST_URI", requestURI)
	add("SCRIPT_NAME", nil)
	add("PATH_INFO", uri)
	*pp = params[:0]

	g.beginRequest(true, params)
	a.bodyDone.Store(false)
	switch a.bodyLeft {
	case 0:
		g.stdin(nil)
		a.bodyDone.Store(true)
	case ajpChunked:
		// mod_proxy_ajp sends a chunked body only when asked.
		a.inBody, a.askedBody = true, false
	default:
		// The first chunk of a body of known length comes unasked.
		a.inBody, a.askedBody = true, true
	}
	return nil
}

// body reads one data packet, asking for it first when AJP wants that.
func (a *ajp) body(g *gatewayConn) error {
	if !a.askedBody {
		ask := min(a.bodyLeft, ajpMaxBodyAsk)
		if a.bodyLeft == ajpChunked {
			ask = ajpMaxBodyAsk
		}
		if err := g.send([]byte{'A', 'B', 0, 3, ajpGetBodyChunk, byte(ask >> 8), byte(ask)}); err != nil {
			return err
		}
		a.askedBody = true
	}
	p, err := a.packet(g)
	if err != nil {
		return err
	}
	a.askedBody = false
	var data []byte
	if len(p) >= 2 {
		n := int(binary.BigEndian.Uint16(p))
		if n > len(p)-2 {
			return ajpError("body packet shorter than its chunk length")
		}
		data = p[2 : 2+n]
	}
	if len(data) > 0 {
		g.stdin(data)
		if a.bodyLeft != ajpChunked {
			a.bodyLeft -= int64(len(data))
		}
	}
	if len(data) == 0 || a.bodyLeft <= 0 && a.bodyLeft != ajpChunked {
		// An empty packet ends a chunked body, or tells of a client that
		// sent less than it announced: the engine sees the body end there.
		g.stdin(nil)
		a.inBody = false
		a.bodyDone.Store(true)
	}
	return nil
}

func (a *ajp) stdout(g *gatewayConn, content []byte) error {
	if !a.headSent {
		a.head = append(a.head, content...)
		end := bytes.Index(a.head, []byte("\r\n\r\n"))
		if end < 0 {
			if len(a.head) > ajpMaxPacket {
				return ajpError("response header block larger than a packet (8 KiB)")
			}
			return nil
		}
		if err := a.sendHeaders(g, a.head[:end]); err != nil {
			return err
		}
		a.headSent = true
		content = a.head[end+4:]
	}
	for len(content) > 0 {
		n := min(len(content), ajpMaxChunk)
		start := len(g.out)
		g.out = append(g.out, 'A', 'B', byte((n+4)>>8), byte(n+4), ajpSendBodyChunk, byte(n>>8), byte(n))
		g.out = append(g.out, content[:n]...)
		g.out = append(g.out, 0)
		g.queue(g.out[start:])
		content = content[n:]
	}
	return nil
}

// sendHeaders turns the CGI header block into AJP13_SEND_HEADERS.
func (a *ajp) sendHeaders(g *gatewayConn, block []byte) error {
	start := len(g.out)
	g.out = append(g.out, 'A', 'B', 0, 0, ajpSendHeaders, 0, 0)
	status, reason := 200, "OK"
	nHeaders := 0
	countAt := -1
	for line := range strings.SplitSeq(string(block), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if name == "Status" {
			code, text, _ := strings.Cut(value, " ")
			if n, err := strconv.Atoi(code); err == nil {
				status, reason = n, text
			}
			continue
		}
		if countAt < 0 {
			g.out = ajpAppendString(g.out, reason)
			countAt = len(g.out)
			g.out = append(g.out, 0, 0)
		}
		g.out = ajpAppendString(ajpAppendString(g.out, name), value)
		nHeaders++
	}
	if countAt < 0 {
		g.out = ajpAppendString(g.out, reason)
		countAt = len(g.out)
		g.out = append(g.out, 0, 0)
	}
	pkt := g.out[start:]
	if len(pkt) > ajpMaxPacket {
		g.out = g.out[:start]
		return ajpError("response header block larger than a packet (8 KiB)")
	}
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)-4))
	binary.BigEndian.PutUint16(pkt[5:], uint16(status))
	binary.BigEndian.PutUint16(g.out[countAt:], uint16(nHeaders))
	g.queue(pkt)
	return nil
}

func ajpAppendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	b = append(b, s...)
	return append(b, 0)
}

// endRequest sends AJP13_END_RESPONSE. A connection whose request body was
// not read to its end cannot be reused: what is left of it would be taken
// for the next request.
func (a *ajp) endRequest(g *gatewayConn) error {
	reuse := byte(0)
	if a.bodyDone.Load() && a.headSent {
		reuse = 1
	}
	start := len(g.out)
	g.out = append(g.out, 'A', 'B', 0, 2, ajpEndResponse, reuse)
	g.queue(g.out[start:])
	a.head, a.headSent = a.head[:0], false
	return nil
}
