package responder

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// seedStreams adds every captured record stream in capturedRequests.
func seedStreams(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(capturedRequests, "*.fcgi"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParsePairs(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendPair(appendPair(nil, "SCRIPT_NAME", "/mysite.fcgi"), "HTTP_COOKIE", string(make([]byte, 300))))
	f.Add([]byte{0x80, 0, 0, 1, 1, 'a', 'b'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, err := parsePairs(nil, string(b), 1000)
		if err != nil {
			return
		}
		// What parses re-encodes to pairs that parse the same.
		var enc []byte
		for _, p := range pairs {
			enc = appendPair(enc, p.name, p.value)
		}
		again, err := parsePairs(nil, string(enc), 1000)
		if err != nil || len(again) != len(pairs) {
			t.Fatalf("round trip: %v, %d pairs, want %d", err, len(again), len(pairs))
		}
		for i := range pairs {
			if again[i] != pairs[i] {
				t.Fatalf("pair %d: %q, want %q", i, again[i], pairs[i])
			}
		}
	})
}

func FuzzRecordReader(f *testing.F) {
	seedStreams(f)
	f.Add(appendRecord(nil, typeStdin, 1, []byte("hello")))
	f.Add([]byte{1, 5, 0, 1, 0xff, 0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rr := recordReader{r: &onebyte{b}, buf: make([]byte, recordBufLen)}
		// A reader parked before every record, reading whole chunks, reads
		// the same records.
		parked := newPooledReader(bytes.NewReader(b))
		defer parked.release()
		total := 0
		for {
			h, content, err := rr.next()
			parked.park()
			ph, pcontent, perr := parked.next()
			if (err == nil) != (perr == nil) || h != ph || !bytes.Equal(content, pcontent) {
				t.Fatalf("parked reader: %+v %q %v; want %+v %q %v", ph, pcontent, perr, h, content, err)
			}
			if err != nil {
				return
			}
			if len(content) != int(h.contentLength) {
				t.Fatalf("content %d bytes, header says %d", len(content), h.contentLength)
			}
			total += headerLen + int(h.contentLength) + int(h.paddingLength)
			if total > len(b) {
				t.Fatalf("read %d bytes of records from %d bytes of input", total, len(b))
			}
		}
	})
}

// onebyte returns its bytes in small reads, as a slow peer would.
type onebyte struct{ b []byte }

func (o *onebyte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], o.b)
	o.b = o.b[n:]
	return n, nil
}

// FuzzServeConn throws arbitrary streams at a whole connection: whatever
// arrives, the server must not panic and must end the connection and every
// handler it started.
func FuzzServeConn(f *testing.F) {
	seedStreams(f)
	f.Add(requestRecords(1, true, baseParams()))
	f.Add(append(beginRecord(1, RoleFilter, false), appendRecord(nil, typeAbortRequest, 1, nil)...))
	fuzzConn(f, func(c net.Conn) net.Conn { return c })
}

// FuzzSCGIConn is FuzzServeConn for SCGI.
func FuzzSCGIConn(f *testing.F) {
	f.Add(scgiRequest("GET", "/a?b=c", nil))
	f.Add(scgiRequest("POST", "/", []byte("body")))
	f.Add([]byte("3:A\x00,"))
	fuzzConn(f, func(c net.Conn) net.Conn { return &gatewayConn{Conn: c, gw: new(scgi)} })
}

// FuzzAJPConn is FuzzServeConn for AJP13.
func FuzzAJPConn(f *testing.F) {
	f.Add(ajpForward(2, "/a?b=c", nil))
	f.Add(append(ajpForward(4, "/", [][2]string{{"Content-Length", "4"}}), ajpPacket([]byte{0, 4, 'b', 'o', 'd', 'y'})...))
	f.Add(append(ajpForward(5, "/", [][2]string{{"Transfer-Encoding", "chunked"}}), ajpPacket([]byte{0, 1, 'x'})...))
	f.Add(ajpPacket([]byte{ajpCPing}))
	fuzzConn(f, func(c net.Conn) net.Conn { return &gatewayConn{Conn: c, gw: new(ajp)} })
}

func fuzzConn(f *testing.F, wrap func(net.Conn) net.Conn) {
	nop := zerolog.Nop()
	s := &Server{Logger: &nop, BodyBufferBytes: 256, MaxRequestBodyBytes: 4096, ReadTimeout: time.Second, IdleTimeout: time.Second,
		WriteTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, r.Body)
			io.WriteString(Stderr(r), "e")
		})}
	s.init()
	f.Fuzz(func(t *testing.T, b []byte) {
		client, server := net.Pipe()
		c := s.newConn(context.Background(), wrap(server))
		s.trackConn(c, true)
		done := make(chan struct{})
		go func() { c.serve(); close(done) }()
		go io.Copy(io.Discard, client)
		client.Write(b)
		client.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second): // only bounds a hang
			t.Fatal("connection not ended 30s after the peer closed")
		}
		if n := s.inFlight.Load(); n != 0 {
			t.Fatalf("%d requests still counted in flight", n)
		}
	})
}
