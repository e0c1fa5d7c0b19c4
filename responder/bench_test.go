package responder

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rs/zerolog"
)

// The benchmarks serve the same handlers with this engine ("engine"),
// net/http/fcgi ("stdlib") and, for hello, net/http's HTTP/1.1 server
// ("nethttp"), over a unix socket with kept-alive connections, driven by a
// client that reuses every buffer so that what is measured is the server.

var (
	helloBody = []byte("Hello, world\n")
	body64K   = bytes.Repeat([]byte("x"), 64<<10)
	body1M    = bytes.Repeat([]byte("x"), 1<<20)
)

func benchHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(helloBody)
	})
	mux.HandleFunc("/64k", func(w http.ResponseWriter, r *http.Request) { w.Write(body64K) })
	mux.HandleFunc("/1m", func(w http.ResponseWriter, r *http.Request) { w.Write(body1M) })
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Write([]byte(strconv.FormatInt(n, 10)))
	})
	return mux
}

type benchServer struct {
	name  string
	start func(l net.Listener) func()
}

func benchServers() []benchServer {
	h := benchHandler()
	return []benchServer{
		{"engine", func(l net.Listener) func() {
			nop := zerolog.Nop()
			s := &Server{Handler: h, Logger: &nop}
			go s.Serve(l)
			return func() { s.Close() }
		}},
		{"stdlib", func(l net.Listener) func() {
			go fcgi.Serve(l, h)
			return func() { l.Close() }
		}},
	}
}

func listenBench(b testing.TB) net.Listener {
	l, err := net.Listen("unix", filepath.Join(b.TempDir(), "b.sock"))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// fcgiBenchConn sends one prepared request again and again.
type fcgiBenchConn struct {
	c        net.Conn
	req      []byte
	inFlight int
	rr       recordReader
}

// inFlight requests (ids 1 to inFlight) go out in one write, multiplexed.
func newFCGIBenchConn(b testing.TB, addr, uri string, body []byte, inFlight int) *fcgiBenchConn {
	c, err := net.Dial("unix", addr)
	if err != nil {
		b.Fatal(err)
	}
	params := withParams(map[string]string{"REQUEST_URI": uri, "HTTP_CONNECTION": "keep-alive"})
	if body != nil {
		params["REQUEST_METHOD"] = "POST"
		params["CONTENT_LENGTH"] = strconv.Itoa(len(body))
	}
	var req []byte
	for id := uint16(1); id <= uint16(inFlight); id++ {
		req = append(req, beginRecord(id, RoleResponder, true)...)
		req = append(req, paramsRecords(id, params)...)
		req = appendStream(req, typeStdin, id, body)
		req = appendRecord(req, typeStdin, id, nil)
	}
	return &fcgiBenchConn{c: c, req: req, inFlight: inFlight, rr: recordReader{r: c, buf: make([]byte, recordBufLen)}}
}

func (fc *fcgiBenchConn) roundTrip(b testing.TB) int {
	if _, err := fc.c.Write(fc.req); err != nil {
		b.Fatal(err)
	}
	n := 0
	for ended := 0; ended < fc.inFlight; {
		h, content, err := fc.rr.next()
		if err != nil {
			b.Fatal(err)
		}
		switch h.recType {
		case typeStdout:
			n += len(content)
		case typeEndRequest:
			ended++
		}
	}
	return n
}

func benchFCGI(b *testing.B, uri string, body []byte) { benchFCGIInFlight(b, uri, body, 1) }

func benchFCGIInFlight(b *testing.B, uri string, body []byte, inFlight int) {
	for _, s := range benchServers() {
		b.Run(s.name, func(b *testing.B) {
			l := listenBench(b)
			defer s.start(l)()
			fc := newFCGIBenchConn(b, l.Addr().String(), uri, body, inFlight)
			defer fc.c.Close()
			fc.roundTrip(b)
			b.ReportAllocs()
			b.SetBytes(int64(len(body) * inFlight))
			b.ResetTimer()
			for b.Loop() {
				fc.roundTrip(b)
			}
		})
	}
}

func BenchmarkHello(b *testing.B) {
	benchFCGI(b, "/hello", nil)
	b.Run("nethttp", func(b *testing.B) {
		l := listenBench(b)
		srv := &http.Server{Handler: benchHandler()}
		go srv.Serve(l)
		defer srv.Close()
		c, err := net.Dial("unix", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		req := []byte("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
		br := bufio.NewReaderSize(c, 64<<10)
		roundTrip := func() {
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			length := -1
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				if len(line) <= 2 {
					break
				}
				if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
					length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
				}
			}
			if _, err := br.Discard(length); err != nil {
				b.Fatal(err)
			}
		}
		roundTrip()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			roundTrip()
		}
	})
}

func BenchmarkResponse64K(b *testing.B) { benchFCGI(b, "/64k", nil) }

func BenchmarkResponse1M(b *testing.B) { benchFCGI(b, "/1m", nil) }

// BenchmarkMultiplexed8 keeps eight hello requests in flight on one
// connection; an op is all eight.
func BenchmarkMultiplexed8(b *testing.B) { benchFCGIInFlight(b, "/hello", nil, 8) }

func BenchmarkPost1M(b *testing.B) { benchFCGI(b, "/post", bytes.Repeat([]byte("p"), 1<<20)) }

// BenchmarkHelloParallel runs one kept-alive connection per goroutine.
func BenchmarkHelloParallel(b *testing.B) {
	for _, s := range benchServers() {
		b.Run(s.name, func(b *testing.B) {
			l := listenBench(b)
			defer s.start(l)()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				fc := newFCGIBenchConn(b, l.Addr().String(), "/hello", nil, 1)
				defer fc.c.Close()
				for pb.Next() {
					fc.roundTrip(b)
				}
			})
		})
	}
}
