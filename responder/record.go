package responder

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// Record types of FastCGI 1.0.
const (
	typeBeginRequest    uint8 = 1
	typeAbortRequest    uint8 = 2
	typeEndRequest      uint8 = 3
	typeParams          uint8 = 4
	typeStdin           uint8 = 5
	typeStdout          uint8 = 6
	typeStderr          uint8 = 7
	typeData            uint8 = 8
	typeGetValues       uint8 = 9
	typeGetValuesResult uint8 = 10
	typeUnknownType     uint8 = 11
)

// Protocol status of an FCGI_END_REQUEST record.
const (
	statusRequestComplete uint8 = 0
	statusCantMultiplex   uint8 = 1
	statusOverloaded      uint8 = 2
	statusUnknownRole     uint8 = 3
)

const (
	version1 = 1

	headerLen     = 8
	maxContentLen = 65535
	maxPaddingLen = 255

	flagKeepConn = 1
)

// Role is the FastCGI role a web server asks an application to play.
type Role uint16

// The roles of FastCGI 1.0.
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
	RoleFilter     Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleResponder:
		return "responder"
	case RoleAuthorizer:
		return "authorizer"
	case RoleFilter:
		return "filter"
	}
	return "role " + strconv.Itoa(int(r))
}

// header is the fixed 8-byte prefix of every record.
type header struct {
	version       uint8
	recType       uint8
	id            uint16
	contentLength uint16
	paddingLength uint8
}

func (h *header) decode(b []byte) {
	h.version = b[0]
	h.recType = b[1]
	h.id = binary.BigEndian.Uint16(b[2:4])
	h.contentLength = binary.BigEndian.Uint16(b[4:6])
	h.paddingLength = b[6]
}

// putHeader writes a record header into b[:8].
func putHeader(b []byte, recType uint8, id uint16, contentLength, paddingLength int) {
	b[0] = version1
	b[1] = recType
	binary.BigEndian.PutUint16(b[2:4], id)
	binary.BigEndian.PutUint16(b[4:6], uint16(contentLength))
	b[6] = uint8(paddingLength)
	b[7] = 0
}

// paddingFor returns the padding that aligns content of length n to 8 bytes,
// as the specification recommends.
func paddingFor(n int) int { return -n & 7 }

var zeroPadding [8]byte

// appendRecord appends one complete record carrying content to b.
// The caller keeps content within maxContentLen.
func appendRecord(b []byte, recType uint8, id uint16, content []byte) []byte {
	pad := paddingFor(len(content))
	var h [headerLen]byte
	putHeader(h[:], recType, id, len(content), pad)
	b = append(b, h[:]...)
	b = append(b, content...)
	return append(b, zeroPadding[:pad]...)
}

// appendStream appends content as a sequence of records of recType, split at
// the maximum content length. It appends nothing for empty content; the
// empty record that ends a stream is written separately.
func appendStream(b []byte, recType uint8, id uint16, content []byte) []byte {
	const chunk = maxContentLen &^ 7 // keeps every full record unpadded
	for len(content) > 0 {
		n := min(len(content), chunk)
		b = appendRecord(b, recType, id, content[:n])
		content = content[n:]
	}
	return b
}

// appendEndRequest appends an FCGI_END_REQUEST record.
func appendEndRequest(b []byte, id uint16, appStatus uint32, protocolStatus uint8) []byte {
	var body [8]byte
	binary.BigEndian.PutUint32(body[:4], appStatus)
	body[4] = protocolStatus
	return appendRecord(b, typeEndRequest, id, body[:])
}

// A ProtocolError reports a record stream that breaks FastCGI 1.0. The
// connection it came from cannot be trusted any further and is closed.
type ProtocolError struct {
	Msg string
}

func (e *ProtocolError) Error() string { return "fastcgi: " + e.Msg }

// recordReader reads records from a stream through one reusable buffer,
// returning each record's content in place, without copying.
//
// A server's connection may wait long for its next request, and a
// thousand of them would hold a large buffer each: park gives the buffer
// back to readBufPool while nothing is buffered, and the reader then waits
// for the stream's next bytes in a small pooled buffer, taking a large one
// only when they arrive.
type recordReader struct {
	r          io.Reader
	buf        []byte  // len(buf) >= recordBufLen; nil while parked
	pooled     *[]byte // buf's entry in readBufPool, if it came from there
	start, end int     // buffered, not yet consumed bytes
}

// recordBufLen holds the largest record plus room to read ahead.
const recordBufLen = headerLen + maxContentLen + maxPaddingLen + 8<<10

// wakeBufLen holds what a web server usually sends at once to begin a
// request (FCGI_BEGIN_REQUEST and the params); more is read after.
const wakeBufLen = 4 << 10

var (
	readBufPool = sync.Pool{New: func() any { b := make([]byte, recordBufLen); return &b }}
	wakeBufPool = sync.Pool{New: func() any { return new([wakeBufLen]byte) }}
)

// newPooledReader returns a parked reader of r; release gives its buffer
// back.
func newPooledReader(r io.Reader) recordReader { return recordReader{r: r} }

// park gives the large buffer back while nothing is buffered.
func (rr *recordReader) park() {
	if rr.start == rr.end {
		rr.release()
	}
}

func (rr *recordReader) release() {
	if rr.pooled != nil {
		readBufPool.Put(rr.pooled)
		rr.buf, rr.pooled, rr.start, rr.end = nil, nil, 0, 0
	}
}

// unpark waits for the stream's next bytes, then takes a large buffer.
func (rr *recordReader) unpark() error {
	wake := wakeBufPool.Get().(*[wakeBufLen]byte)
	defer wakeBufPool.Put(wake)
	for {
		n, err := rr.r.Read(wake[:])
		if n > 0 {
			// An error with the bytes comes again at the next read.
			rr.pooled = readBufPool.Get().(*[]byte)
			rr.buf = *rr.pooled
			rr.start, rr.end = 0, copy(*rr.pooled, wake[:n])
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fill makes at least need bytes available from start.
func (rr *recordReader) fill(need int) error {
	if rr.buf == nil {
		if err := rr.unpark(); err != nil {
			return err
		}
	}
	if rr.start+need > len(rr.buf) {
		rr.end = copy(rr.buf, rr.buf[rr.start:rr.end])
		rr.start = 0
	}
	for rr.end-rr.start < need {
		n, err := rr.r.Read(rr.buf[rr.end:])
		rr.end += n
		if err != nil {
			if rr.end-rr.start >= need {
				return nil
			}
			return err
		}
	}
	return nil
}

// next reads the next record. The returned content is valid until the
// following call. A clean end of stream between records returns io.EOF.
func (rr *recordReader) next() (header, []byte, error) {
	var h header
	if err := rr.fill(headerLen); err != nil {
		if err == io.EOF && rr.end > rr.start {
			err = &ProtocolError{Msg: fmt.Sprintf("connection closed inside a record header (%d of 8 bytes)", rr.end-rr.start)}
		}
		return h, nil, err
	}
	h.decode(rr.buf[rr.start:])
	if h.version != version1 {
		return h, nil, &ProtocolError{Msg: fmt.Sprintf("record header has version %d, want 1: is the peer speaking FastCGI?", h.version)}
	}
	n := int(h.contentLength) + int(h.paddingLength)
	if err := rr.fill(headerLen + n); err != nil {
		if err == io.EOF {
			err = &ProtocolError{Msg: fmt.Sprintf("connection closed inside a record (type %d, request %d, %d of %d content and padding bytes)",
				h.recType, h.id, rr.end-rr.start-headerLen, n)}
		}
		return h, nil, err
	}
	content := rr.buf[rr.start+headerLen : rr.start+headerLen+int(h.contentLength)]
	rr.start += headerLen + n
	if rr.start == rr.end {
		rr.start, rr.end = 0, 0
	}
	return h, content, nil
}
