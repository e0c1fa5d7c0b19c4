package hosting

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFanIn: connections on either socket are accepted, a pause (the
// deadline PausingListener sets) ends Accept without taking a queued
// connection, which the next Accept after Resume gets, and Close ends it.
func TestFanIn(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unix, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := newFanIn([]net.Listener{tcp, unix})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dial := func(on net.Listener) net.Conn {
		t.Helper()
		c, err := net.Dial(on.Addr().Network(), on.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, on := range []net.Listener{unix, tcp, unix} {
		dial(on)
		c, err := l.Accept()
		if err != nil || c.LocalAddr().String() != on.Addr().String() {
			t.Fatalf("Accept: %v %v, want the connection on %s", c, err, on.Addr())
		}
		c.Close()
	}

	pausing := l.(interface{ SetDeadline(time.Time) error })
	pausing.SetDeadline(time.Unix(1, 0))
	dial(tcp)
	if c, err := l.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("paused Accept: %v %v, want the deadline's error", c, err)
	}
	pausing.SetDeadline(time.Time{})
	if c, err := l.Accept(); err != nil || c.LocalAddr().String() != tcp.Addr().String() {
		t.Fatalf("Accept after the pause: %v %v, want the connection queued meanwhile", c, err)
	}

	closed := make(chan error, 1)
	go func() { _, err := l.Accept(); closed <- err }()
	l.Close()
	if err := <-closed; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
}
