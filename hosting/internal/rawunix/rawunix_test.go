//go:build linux && !386

package rawunix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// listen is a Listener on a fresh socket and the socket's path.
func listen(t *testing.T) (*Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Wrap(ul)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*Listener), path
}

// pair is an accepted Conn and the client's end.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	l, path := listen(t)
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*Conn), client
}

func TestConn_RoundTrip(t *testing.T) {
	c, client := pair(t)
	if _, err := client.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "request" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := c.Write([]byte("response")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "response" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v, want net.ErrClosed", err)
	}
}

func TestConn_EOF(t *testing.T) {
	c, client := pair(t)
	client.Close()
	if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed: %d, %v; want 0, io.EOF", n, err)
	}
}

// A Read that finds nothing waits for the data in the poller.
func TestConn_ReadWaits(t *testing.T) {
	c, client := pair(t)
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	client.Write([]byte("late"))
	client.Close()
	if s := <-got; s != "late" {
		t.Fatalf("read %q, want late", s)
	}
}

// A kept-alive connection waits for each request in turn: the first wait
// in the listener's epoll instance, the next in the poller.
func TestConn_KeptAlive(t *testing.T) {
	c, client := pair(t)
	done := make(chan error)
	go func() {
		b := make([]byte, 1)
		for i := range 4 {
			if _, err := c.Read(b); err != nil || b[0] != byte('a'+i) {
				done <- fmt.Errorf("request %d: read %q, %v", i, b, err)
				return
			}
			if _, err := c.Write(b); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	ack := make([]byte, 1)
	for i := range 4 {
		client.Write([]byte{byte('a' + i)}) // only once the last one is answered
		if _, err := io.ReadFull(client, ack); err != nil || ack[0] != byte('a'+i) {
			t.Fatalf("answer %d: %q, %v", i, ack, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Connections waiting at once each get their input: one waits in the
// listener's epoll instance, the others in the poller.
func TestConn_ReadsWaitTogether(t *testing.T) {
	l, path := listen(t)
	const n = 4
	var clients [n]net.Conn
	got := make(chan string, n)
	for i := range clients {
		client, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		clients[i] = client
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			b, _ := io.ReadAll(c)
			got <- string(b)
		}()
	}
	for i, client := range clients {
		client.Write([]byte{'a' + byte(i)})
		client.Close()
	}
	seen := map[string]bool{}
	for range n {
		seen[<-got] = true
	}
	if len(seen) != n || !seen["a"] || !seen["d"] {
		t.Fatalf("read %v, want a, b, c and d", seen)
	}
}

// Input that arrives as the first wait begins is read: the poller may
// take the instance's event while another thread waits in it, and
// RawConn.Read forgets what the poller took before it began. Under
// mod_fcgid such a request went unanswered until mod_fcgid's 40 s
// FcgidIOTimeout. Each client writes after a different delay, so that
// its input lands at a different point of the server's wait.
func TestConn_FirstInputNotLost(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 { // a second thread is the one waiting in the poller
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	l, path := listen(t)
	for i := range 5000 {
		client, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(i%50) * time.Microsecond
		go func() {
			for start := time.Now(); time.Since(start) < delay; {
			}
			client.Write([]byte("x"))
		}()
		select {
		case err := <-readOne(c.(*Conn)):
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("connection %d: its input came and the read still waits", i)
		}
		c.Close()
		client.Close()
	}
}

// A response larger than the socket's buffer is written whole as the
// peer reads it.
func TestConn_WriteWaits(t *testing.T) {
	c, client := pair(t)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	done := make(chan error)
	go func() {
		_, err := c.Write(want)
		c.Close()
		done <- err
	}()
	got, err := io.ReadAll(client)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, %v; want %d", len(got), err, len(want))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestConn_Deadlines(t *testing.T) {
	t.Run("passed, with data waiting", func(t *testing.T) {
		c, client := pair(t)
		client.Write([]byte("x"))
		c.SetReadDeadline(time.Unix(1, 0))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read: %v, want os.ErrDeadlineExceeded", err)
		}
		c.SetReadDeadline(time.Time{})
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatalf("Read with the deadline cleared: %v", err)
		}
		c.SetWriteDeadline(time.Unix(1, 0))
		if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write: %v, want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("ends a wait", func(t *testing.T) {
		c, _ := pair(t)
		got := make(chan error)
		go func() {
			_, err := c.Read(make([]byte, 1))
			got <- err
		}()
		c.SetReadDeadline(time.Unix(1, 0)) // before or during the wait
		err := <-got
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read: %v, want a timeout", err)
		}
	})
}

func TestConn_CloseEndsAWait(t *testing.T) {
	c, _ := pair(t)
	got := make(chan error)
	go func() {
		_, err := c.Read(make([]byte, 1))
		got <- err
	}()
	c.Close() // before or during the wait
	if err := <-got; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read: %v, want net.ErrClosed", err)
	}
}

func TestConn_FileAndCloseWrite(t *testing.T) {
	c, client := pair(t)
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	fc.Write([]byte("via the duplicate"))
	fc.(*net.UnixConn).CloseWrite()
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "via the duplicate" {
		t.Fatalf("client read %q, %v", got, err)
	}

	c2, client2 := pair(t)
	if err := c2.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := client2.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client Read after CloseWrite: %d, %v; want EOF", n, err)
	}
}

// A Read waiting in the waiter when File is taken still gets its input,
// as on a net.UnixConn.
func TestConn_FileDuringAWait(t *testing.T) {
	c, client := pair(t)
	got := readOne(c)
	waitsInWaiter(t, c)
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	client.Write([]byte("x"))
	wantRead(t, got)
}

// File of a closed connection leaves alone the connection that has its
// descriptor's number now.
func TestConn_FileAfterCloseSparesTheNext(t *testing.T) {
	l, path := listen(t)
	if _, err := net.Dial("unix", path); err != nil {
		t.Fatal(err)
	}
	a, _ := l.Accept()
	a.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read: %v, want a deadline", err) // a waited in the waiter, and stays in it
	}
	client, err := net.Dial("unix", path) // before a's number is free
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	a.Close()
	nc, _ := l.Accept()
	b := nc.(*Conn)
	defer b.Close()
	if b.fd != a.(*Conn).fd {
		t.Fatalf("b has descriptor %d, a had %d: Linux gives the lowest free number", b.fd, a.(*Conn).fd)
	}
	got := readOne(b)
	waitsInWaiter(t, b)
	a.(*Conn).File()
	client.Write([]byte("x"))
	wantRead(t, got)
}

// readOne reads one byte from c in the background.
func readOne(c *Conn) <-chan error {
	got := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		got <- err
	}()
	return got
}

// waitsInWaiter returns once c's Read has entered the waiter's instance.
func waitsInWaiter(t *testing.T, c *Conn) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		in := c.waiting && c.inEpoll
		c.mu.Unlock()
		if in {
			return
		}
	}
	t.Fatal("the Read did not wait in the waiter")
}

func wantRead(t *testing.T, got <-chan error) {
	t.Helper()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the input came and the Read still waits")
	}
}

func TestConn_SyscallConn(t *testing.T) {
	c, client := pair(t)
	client.Write([]byte("x"))
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(fd uintptr) {}); err != nil {
		t.Fatal(err)
	}
	// Reads go on through the poller.
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if c.LocalAddr().Network() != "unix" || c.RemoteAddr().Network() != "unix" {
		t.Fatalf("addresses %v, %v: want unix ones", c.LocalAddr(), c.RemoteAddr())
	}
}

// A deadline in the past pauses Accept without closing the socket, as
// reload.PausingListener does; the zero time resumes it.
func TestListener_Deadline(t *testing.T) {
	l, path := listen(t)
	l.SetDeadline(time.Unix(1, 0))
	if _, err := l.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Accept: %v, want os.ErrDeadlineExceeded", err)
	}
	client, err := net.Dial("unix", path) // queued meanwhile
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	l.SetDeadline(time.Time{})
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestListener_Close(t *testing.T) {
	l, path := listen(t)
	got := make(chan error)
	go func() {
		_, err := l.Accept()
		got <- err
	}()
	l.Close() // before or during the wait
	if err := <-got; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept: %v, want net.ErrClosed", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Fatal("Dial succeeded: the socket is still listening")
	}
}

func TestWrap_NotUnix(t *testing.T) {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if l, err := Wrap(tl); l != tl || err != nil {
		t.Fatalf("Wrap of a TCP listener: %T, %v; want it unchanged", l, err)
	}
}
