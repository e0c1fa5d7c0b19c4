package reload

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// Connections passed over a channel arrive in order, each with its
// descriptor, after which a step-back arrives; a paused receiver takes
// nothing, leaving the messages for whoever reads next; the end of the
// other side is io.EOF once every message is read.
func TestChannel(t *testing.T) {
	ours, theirs, err := NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	other, err := ChannelFromFD(dupFD(t, theirs))
	theirs.Close()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const conns = 3
	var peers []net.Conn
	for range conns {
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		peer, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		peers = append(peers, peer)
		f, err := c.(*net.UnixConn).File()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Send(MsgConn, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := other.Send(MsgStepBack, nil); err != nil {
		t.Fatal(err)
	}
	other.Close()

	ours.Pause()
	if _, _, err := ours.Receive(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("paused: %v, want a deadline error", err)
	}
	ours.Resume()
	for i := range conns {
		msg, f, err := ours.Receive()
		if err != nil || msg != MsgConn || f == nil {
			t.Fatalf("message %d: %q %v %v, want a connection", i, msg, f, err)
		}
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// It is the i-th connection dialled: what is written on it
		// reaches the i-th peer.
		c.Write([]byte{byte('a' + i)})
		c.Close()
		b := make([]byte, 1)
		if _, err := peers[i].Read(b); err != nil || b[0] != byte('a'+i) {
			t.Fatalf("connection %d: its peer read %q %v", i, b, err)
		}
	}
	if msg, f, err := ours.Receive(); err != nil || msg != MsgStepBack || f != nil {
		t.Fatalf("last message: %q %v %v, want the step-back", msg, f, err)
	}
	if _, _, err := ours.Receive(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the other end closed: %v, want io.EOF", err)
	}
}

func dupFD(t *testing.T, f *os.File) int {
	t.Helper()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return fd
}
