package responder

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
)

// SCGI and AJP13 are served by the FastCGI engine itself: each connection
// is wrapped in a gatewayConn, which turns what the web server sends into
// the FastCGI records it would have sent, and the engine's records into the
// protocol's answer. It works inside the engine's own Read and Write calls,
// with no goroutine or pipe of its own, so request building, limits,
// deadlines, streaming, panics and shutdown are the engine's, unchanged.

// gateway is one protocol's side of a gatewayConn.
type gateway interface {
	// input appends to g.in the records for what arrives next from the
	// web server, reading g (and, for AJP, asking it for body chunks).
	input(g *gatewayConn) error
	// stdout takes a request's FCGI_STDOUT content (the CGI header block,
	// then the body) and queues the protocol's answer with g.queue.
	stdout(g *gatewayConn, content []byte) error
	// endRequest takes FCGI_END_REQUEST.
	endRequest(g *gatewayConn) error
	// midRequest reports whether the reader is inside a request.
	midRequest() bool
}

type gatewayListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l gatewayListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// gatewayRequestID is the FastCGI request id a gateway's requests use:
// neither protocol multiplexes.
const gatewayRequestID = 1

var gatewayBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// gatewayConn is a connection in SCGI or AJP13 as the engine sees it.
type gatewayConn struct {
	net.Conn
	gw gateway

	// The engine's reader's: records made and not yet read, and bytes read
	// from the connection and not yet turned into records.
	in, raw     []byte
	inOff, rOff int
	inp, rawp   *[]byte

	// The engine's writer's: the answer to one Write, sent with one writev.
	wmu  sync.Mutex // the reader answers AJP pings and asks for body chunks
	outv net.Buffers
	out  []byte // scratch for what the protocol adds
}

func (g *gatewayConn) Read(p []byte) (int, error) {
	for g.inOff == len(g.in) {
		if g.inp == nil {
			g.inp = gatewayBufPool.Get().(*[]byte)
		}
		g.in, g.inOff = (*g.inp)[:0], 0
		err := g.gw.input(g)
		*g.inp = g.in[:0]
		if err != nil && g.inOff == len(g.in) {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				g.release() // the engine reads no more
			}
			return 0, err
		}
	}
	n := copy(p, g.in[g.inOff:])
	g.inOff += n
	return n, nil
}

// Write takes whole records, as the engine writes them.
func (g *gatewayConn) Write(b []byte) (int, error) {
	for rest := b; len(rest) >= headerLen; {
		var h header
		h.decode(rest)
		content := rest[headerLen : headerLen+int(h.contentLength)]
		rest = rest[headerLen+int(h.contentLength)+int(h.paddingLength):]
		var err error
		switch h.recType {
		case typeStdout:
			err = g.gw.stdout(g, content)
		case typeEndRequest:
			err = g.gw.endRequest(g)
		}
		// FCGI_STDERR has nowhere to go: neither protocol carries it.
		if err != nil {
			g.outv, g.out = g.outv[:0], g.out[:0]
			return 0, err
		}
	}
	g.wmu.Lock()
	bufs := g.outv // WriteTo consumes its receiver
	_, err := bufs.WriteTo(g.Conn)
	g.wmu.Unlock()
	clear(g.outv)
	g.outv, g.out = g.outv[:0], g.out[:0]
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// queue adds b to what Write sends; b must stay unchanged until then.
func (g *gatewayConn) queue(b []byte) {
	if len(b) > 0 {
		g.outv = append(g.outv, b)
	}
}

// send writes b to the web server at once, from the reader.
func (g *gatewayConn) send(b []byte) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	_, err := g.Conn.Write(b)
	return err
}

// CloseWrite lets the engine close gently, as on a plain connection.
func (g *gatewayConn) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (g *gatewayConn) release() {
	for _, bp := range []*[]byte{g.inp, g.rawp} {
		if bp != nil && cap(*bp) <= 64<<10 {
			*bp = (*bp)[:0]
			gatewayBufPool.Put(bp)
		}
	}
	g.inp, g.rawp, g.in, g.raw, g.inOff, g.rOff = nil, nil, nil, nil, 0, 0
}

// pending reports whether part of a packet or request has been read and
// not yet passed to the engine: the connection cannot change hands then.
func (g *gatewayConn) pending() bool {
	return g.inOff < len(g.in) || len(g.raw) > g.rOff || g.gw.midRequest()
}

// fill reads until n unconsumed bytes are buffered in raw.
func (g *gatewayConn) fill(n int) error {
	if g.rawp == nil {
		g.rawp = gatewayBufPool.Get().(*[]byte)
		g.raw = *g.rawp
	}
	if g.rOff > 0 && g.rOff+n > cap(g.raw) {
		g.raw = g.raw[:copy(g.raw, g.raw[g.rOff:])]
		g.rOff = 0
	}
	for len(g.raw)-g.rOff < n {
		if len(g.raw) == cap(g.raw) {
			// Grown as bytes arrive, not to the length the peer
			// announced: "1048576:" alone must not hold a megabyte.
			g.raw = append(make([]byte, 0, min(g.rOff+n, max(2*cap(g.raw), 4<<10))), g.raw...)
			*g.rawp = g.raw
		}
		m, err := g.Conn.Read(g.raw[len(g.raw):cap(g.raw)])
		g.raw = g.raw[:len(g.raw)+m]
		if err != nil {
			if len(g.raw)-g.rOff >= n {
				return nil
			}
			if err == io.EOF && len(g.raw) > g.rOff {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// buffered returns the unconsumed bytes read so far.
func (g *gatewayConn) buffered() []byte { return g.raw[g.rOff:] }

func (g *gatewayConn) consume(n int) {
	g.rOff += n
	if g.rOff == len(g.raw) {
		g.raw, g.rOff = g.raw[:0], 0
	}
}

// beginRequest appends the records that open a request and carry its
// parameters, encoded in params (FastCGI name-value pairs).
func (g *gatewayConn) beginRequest(keepConn bool, params []byte) {
	var body [8]byte
	body[1] = byte(RoleResponder)
	if keepConn {
		body[2] = flagKeepConn
	}
	g.in = appendRecord(g.in, typeBeginRequest, gatewayRequestID, body[:])
	g.in = appendStream(g.in, typeParams, gatewayRequestID, params)
	g.in = appendRecord(g.in, typeParams, gatewayRequestID, nil)
}

// stdin appends body bytes as FCGI_STDIN; empty data ends the body.
func (g *gatewayConn) stdin(data []byte) {
	if len(data) == 0 {
		g.in = appendRecord(g.in, typeStdin, gatewayRequestID, nil)
		return
	}
	g.in = appendStream(g.in, typeStdin, gatewayRequestID, data)
}
