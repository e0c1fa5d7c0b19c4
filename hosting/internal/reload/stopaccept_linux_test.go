package reload

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
)

// Connections the web server made before the process stopped listening,
// still queued, are handed back to be served, where a close would reset
// them; a connection tried after is refused, and goes to another process.
func TestStopAccepting(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var clients []net.Conn
	for _, req := range []string{"first", "second"} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(req))
		c.(*net.UnixConn).CloseWrite()
		clients = append(clients, c)
	}

	queued := StopAccepting(l)
	if _, err := net.Dial("unix", sock); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a connection after StopAccepting: %v, want ECONNREFUSED", err)
	}
	l.Close()
	if len(queued) != 2 {
		t.Fatalf("%d queued connections handed back, want 2", len(queued))
	}
	for i, c := range queued {
		req, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(append([]byte("answer to "), req...))
		c.Close()
		if got, err := io.ReadAll(clients[i]); string(got) != "answer to "+string(req) || err != nil {
			t.Errorf("client %d got %q, %v", i, got, err)
		}
	}
	if got := StopAccepting(&net.TCPListener{}); got != nil {
		t.Errorf("a TCP listener: %v, want nil", got)
	}
}
