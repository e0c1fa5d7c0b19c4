package responder

import (
	"bytes"
	"net"
	"slices"
	"strconv"
)

// NewSCGIListener returns a listener whose connections speak SCGI instead
// of FastCGI, as nginx's scgi_pass, Apache's mod_proxy_scgi and lighttpd's
// mod_scgi do. A Server serving it answers them with the same handlers,
// limits, timeouts and graceful shutdown; SCGI has one request per
// connection and no error stream, so nothing is kept alive or handed off
// and FCGI_STDERR output is dropped.
func NewSCGIListener(l net.Listener) net.Listener {
	return gatewayListener{Listener: l, wrap: func(c net.Conn) net.Conn { return &gatewayConn{Conn: c, gw: new(scgi)} }}
}

// maxSCGIHeader bounds the header netstring, read whole before the engine
// applies MaxParamsBytes.
const maxSCGIHeader = DefaultMaxParamsBytes

type scgi struct {
	state    uint8
	bodyLeft int64
}

const (
	scgiHeader uint8 = iota
	scgiBody
	scgiDone
)

func (s *scgi) input(g *gatewayConn) error {
	switch s.state {
	case scgiHeader:
		return s.header(g)
	case scgiBody:
		return s.body(g)
	}
	// Only the web server closing the connection (or aborting) can follow;
	// anything else it sends is not SCGI and is dropped.
	for {
		if err := g.fill(1); err != nil {
			return err
		}
		g.consume(len(g.buffered()))
	}
}

// header reads the netstring "len:NAME\0value\0...," and makes the
// request's first records.
func (s *scgi) header(g *gatewayConn) error {
	colon := -1
	for colon < 0 {
		if err := g.fill(len(g.buffered()) + 1); err != nil {
			return err
		}
		b := g.buffered()
		colon = bytes.IndexByte(b, ':')
		if colon < 0 && len(b) > 7 || colon == 0 {
			return &ProtocolError{Msg: "SCGI: request does not start with a netstring length: is the peer speaking SCGI?"}
		}
	}
	n, err := strconv.Atoi(string(g.buffered()[:colon]))
	if err != nil || n < 0 {
		return &ProtocolError{Msg: "SCGI: request does not start with a netstring length: is the peer speaking SCGI?"}
	}
	if n > maxSCGIHeader {
		return &ProtocolError{Msg: "SCGI: request headers are " + strconv.Itoa(n) + " bytes, more than the limit of " + strconv.Itoa(maxSCGIHeader)}
	}
	if err := g.fill(colon + 1 + n + 1); err != nil {
		return err
	}
	b := g.buffered()
	if b[colon+1+n] != ',' {
		return &ProtocolError{Msg: "SCGI: request header netstring does not end with a comma"}
	}
	block := b[colon+1 : colon+1+n]
	pp := gatewayBufPool.Get().(*[]byte)
	params := (*pp)[:0]
	contentLength := int64(-1)
	for len(block) > 0 {
		name, rest, ok1 := bytes.Cut(block, []byte{0})
		value, rest, ok2 := bytes.Cut(rest, []byte{0})
		if !ok1 || !ok2 || len(name) == 0 {
			gatewayBufPool.Put(pp)
			return &ProtocolError{Msg: "SCGI: request headers are not NUL-separated name-value pairs"}
		}
		if string(name) == "CONTENT_LENGTH" {
			contentLength, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || contentLength < 0 {
				gatewayBufPool.Put(pp)
				return &ProtocolError{Msg: "SCGI: CONTENT_LENGTH is not a length: " + strconv.Quote(string(value))}
			}
		}
		params = appendPair(params, string(name), string(value))
		block = rest
	}
	if contentLength < 0 {
		gatewayBufPool.Put(pp)
		return &ProtocolError{Msg: "SCGI: request has no CONTENT_LENGTH"}
	}
	g.beginRequest(false, params)
	*pp = params[:0]
	gatewayBufPool.Put(pp)
	g.consume(colon + 1 + n + 1)
	s.bodyLeft = contentLength
	s.state = scgiBody
	if contentLength == 0 {
		g.stdin(nil)
		s.state = scgiDone
	}
	return nil
}

// body passes the request body on, as FCGI_STDIN records: what came with
// the header first, then straight from the connection into a record.
func (s *scgi) body(g *gatewayConn) error {
	if b := g.buffered(); len(b) > 0 {
		n := int(min(int64(len(b)), s.bodyLeft))
		g.stdin(b[:n])
		g.consume(n)
		s.bodyLeft -= int64(n)
	} else {
		start := len(g.in)
		room := min(cap(g.in)-start-headerLen-maxPaddingLen, maxContentLen&^7)
		if room < 4<<10 {
			g.in = slices.Grow(g.in, headerLen+16<<10+maxPaddingLen)
			room = 16 << 10
		}
		want := int(min(int64(room), s.bodyLeft))
		m, err := g.Conn.Read(g.in[start+headerLen : start+headerLen+want])
		if m == 0 {
			return err
		}
		pad := paddingFor(m)
		putHeader(g.in[start:start+headerLen], typeStdin, gatewayRequestID, m, pad)
		g.in = append(g.in[:start+headerLen+m], zeroPadding[:pad]...)
		s.bodyLeft -= int64(m)
	}
	if s.bodyLeft == 0 {
		g.stdin(nil)
		s.state = scgiDone
	}
	return nil
}

// The response is the CGI header block and the body, as the engine makes
// them: passed through as they are.
func (s *scgi) stdout(g *gatewayConn, content []byte) error {
	g.queue(content)
	return nil
}

func (s *scgi) endRequest(g *gatewayConn) error { return nil }

func (s *scgi) midRequest() bool { return s.state == scgiBody }
