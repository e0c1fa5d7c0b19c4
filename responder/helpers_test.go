package responder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// newTestLog sends the server's log lines to the test's output and keeps
// them for assertions.
func newTestLog(t *testing.T) (*zerolog.Logger, func() string) {
	var mu = make(chan struct{}, 1)
	var buf bytes.Buffer
	ended := false // Close does not wait for the connections' goroutines, which may log after the test
	t.Cleanup(func() {
		mu <- struct{}{}
		ended = true
		<-mu
	})
	w := writerFunc(func(p []byte) (int, error) {
		mu <- struct{}{}
		defer func() { <-mu }()
		buf.Write(p)
		if !ended {
			t.Logf("server log: %s", bytes.TrimSpace(p))
		}
		return len(p), nil
	})
	l := zerolog.New(w).Level(zerolog.DebugLevel)
	return &l, func() string {
		mu <- struct{}{}
		defer func() { <-mu }()
		return buf.String()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// startServer serves s on a fresh unix socket and shuts it down at the end
// of the test, checking that Serve returned ErrServerClosed and that no
// connection or handler goroutine is left.
func startServer(t *testing.T, s *Server) string { return startServerWith(t, s, nil) }

// startServerWith is startServer serving what wrap (NewSCGIListener, say)
// makes of the listener.
func startServerWith(t *testing.T, s *Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	if s.Logger == nil {
		s.Logger, _ = newTestLog(t)
	}
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		l = wrap(l)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			s.Close()
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		checkNoServerGoroutines(t)
	})
	return path
}

func checkNoServerGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	if !waitUntil(func() bool {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		return !strings.Contains(stacks, "responder.(*conn)") && !strings.Contains(stacks, "responder.(*request)") &&
			!strings.Contains(stacks, "responder.(*Server).Serve")
	}) {
		t.Errorf("server goroutines left after Shutdown:\n%s", stacks)
	}
}

// waitConns waits until s serves n connections: a connection dialled is
// accepted a moment later.
func waitConns(t *testing.T, s *Server, n int) {
	t.Helper()
	if !waitUntil(func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == n
	}) {
		t.Fatalf("the server never held %d connections", n)
	}
}

func dialClient(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// baseParams are what Apache mod_fcgid sends for GET /sub/path?x=1 below a
// site whose .htaccess rewrites to mysite.fcgi.
func baseParams() map[string]string {
	return map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "Apache/2.4.71 (Debian) mod_fcgid/2.3.9",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_NAME":       "127.0.0.1",
		"SERVER_ADDR":       "127.0.0.1",
		"SERVER_PORT":       "18090",
		"REQUEST_METHOD":    "GET",
		"REQUEST_URI":       "/sub/path?x=1",
		"QUERY_STRING":      "x=1",
		"SCRIPT_NAME":       "/mysite.fcgi",
		"PATH_INFO":         "/sub/path",
		"SCRIPT_FILENAME":   "/var/www/mysite.fcgi",
		"DOCUMENT_ROOT":     "/var/www",
		"REDIRECT_URL":      "/sub/path",
		"REDIRECT_STATUS":   "200",
		"REMOTE_ADDR":       "127.0.0.1",
		"REMOTE_PORT":       "54321",
		"HTTP_HOST":         "127.0.0.1:18090",
		"HTTP_USER_AGENT":   "curl/7.88.1",
		"HTTP_ACCEPT":       "*/*",
		"HTTP_CONNECTION":   "close",
	}
}

func withParams(extra map[string]string) map[string]string {
	p := baseParams()
	for k, v := range extra {
		if v == "" {
			delete(p, k)
			continue
		}
		p[k] = v
	}
	return p
}

// do runs one request on c and returns the response with its whole body.
func do(t *testing.T, c *Client, r *ClientRequest) (*ClientResponse, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, r)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(body)
}

// rawConn is a connection for sending hand-made record streams.
type rawConn struct {
	t *testing.T
	net.Conn
	rr recordReader
}

func dialRaw(t *testing.T, path string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, Conn: c, rr: recordReader{r: c, buf: make([]byte, recordBufLen)}}
}

func (c *rawConn) send(b []byte) {
	c.t.Helper()
	if _, err := c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

type rec struct {
	typ     uint8
	id      uint16
	content string
}

// readAll reads records until the server closes the connection or the
// deadline passes, and reports how the stream ended.
func (c *rawConn) readUntilClose(d time.Duration) ([]rec, error) {
	c.SetReadDeadline(time.Now().Add(d))
	var recs []rec
	for {
		h, content, err := c.rr.next()
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec{h.recType, h.id, string(content)})
	}
}

// readUntilEnd reads records up to the FCGI_END_REQUEST of id.
func (c *rawConn) readUntilEnd(id uint16) []rec {
	c.t.Helper()
	return c.readUntil(func(r rec) bool { return r.typ == typeEndRequest && r.id == id })
}

// readUntil reads records up to the first that last accepts.
func (c *rawConn) readUntil(last func(rec) bool) []rec {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var recs []rec
	for {
		h, content, err := c.rr.next()
		if err != nil {
			c.t.Fatalf("reading records: %v (after %v)", err, recs)
		}
		recs = append(recs, rec{h.recType, h.id, string(content)})
		if last(recs[len(recs)-1]) {
			return recs
		}
	}
}

// marker is a FCGI_GET_VALUES that no test sends otherwise. A connection's
// reader handles its records in order, so the answer to the marker follows
// every record the server writes as it reads what came before.
var marker = appendRecord(nil, typeGetValues, 0, appendPair(nil, "FCGI_MAX_REQS", ""))

func isMarkerAnswer(r rec) bool {
	ps, err := parsePairs(nil, r.content, 2)
	return r.typ == typeGetValuesResult && err == nil && len(ps) == 1 && ps[0].name == "FCGI_MAX_REQS"
}

// exchange sends b and then the marker, and returns what the server wrote
// in between: all it answers to b as it reads it, however long that takes.
func (c *rawConn) exchange(b []byte) []rec {
	c.t.Helper()
	c.send(append(append([]byte(nil), b...), marker...))
	recs := c.readUntil(isMarkerAnswer)
	return recs[:len(recs)-1]
}

func beginRecord(id uint16, role Role, keepConn bool) []byte {
	body := []byte{byte(role >> 8), byte(role), 0, 0, 0, 0, 0, 0}
	if keepConn {
		body[2] = flagKeepConn
	}
	return appendRecord(nil, typeBeginRequest, id, body)
}

func paramsRecords(id uint16, params map[string]string) []byte {
	var ps []byte
	for k, v := range params {
		ps = appendPair(ps, k, v)
	}
	b := appendStream(nil, typeParams, id, ps)
	return appendRecord(b, typeParams, id, nil)
}

// requestRecords is a whole request without body.
func requestRecords(id uint16, keepConn bool, params map[string]string) []byte {
	b := beginRecord(id, RoleResponder, keepConn)
	b = append(b, paramsRecords(id, params)...)
	return appendRecord(b, typeStdin, id, nil)
}

func tempFileCount(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func itoa(n int) string { return strconv.Itoa(n) }

// dialer dials l for a Client closed at the end of the test.
func dialer(t *testing.T, l net.Listener) func() *Client {
	return func() *Client {
		c, err := Dial("unix", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

// keepConn is a request for path that keeps the connection.
func keepConn(path string) *ClientRequest {
	return &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": path})}
}
