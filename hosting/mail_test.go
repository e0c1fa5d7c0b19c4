package hosting_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSMTP is a minimal SMTP server on 127.0.0.1 that keeps each message
// and answers its end only once hold is released.
type fakeSMTP struct {
	l    net.Listener
	hold chan struct{}
	mu   sync.Mutex
	msgs []string
	got  chan struct{}
}

func startSMTP(t *testing.T) *fakeSMTP {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSMTP{l: l, hold: make(chan struct{}), got: make(chan struct{}, 10)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return s
}

func (s *fakeSMTP) session(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "220 fake ESMTP\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			fmt.Fprintf(c, "250 fake\r\n")
		case strings.HasPrefix(cmd, "DATA"):
			fmt.Fprintf(c, "354 go on\r\n")
			var msg strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, msg.String())
			s.mu.Unlock()
			s.got <- struct{}{}
			<-s.hold
			fmt.Fprintf(c, "250 queued\r\n")
		case strings.HasPrefix(cmd, "QUIT"):
			fmt.Fprintf(c, "221 bye\r\n")
			return
		default:
			fmt.Fprintf(c, "250 ok\r\n")
		}
	}
}

func TestSpawned_ErrorMail(t *testing.T) {
	smtp := startSMTP(t)
	host, port, _ := net.SplitHostPort(smtp.l.Addr().String())
	s := newSite(t, fmt.Sprintf("ADMINS=Ann <ann@example.com>\nEMAIL_HOST=%s\nEMAIL_PORT=%s\nSERVER_EMAIL=site@example.com\n", host, port))
	s.spawn()
	// The response comes while the mail server still holds the mail.
	if code, _ := s.mustGet("/panic"); code != 500 {
		t.Fatalf("status %d", code)
	}
	select {
	case <-smtp.got:
	case <-time.After(hangBound):
		t.Fatalf("no mail; log:\n%s", s.log())
	}
	// Nor does the next error's, which is not mailed (TestErrorMailer_Interval).
	if code, _ := s.mustGet("/panic"); code != 500 {
		t.Fatalf("second panic: %d", code)
	}
	close(smtp.hold)
	smtp.mu.Lock()
	msg := smtp.msgs[0]
	smtp.mu.Unlock()
	for _, want := range []string{"Subject: [mysite] ERROR 500: GET /panic", "To: \"Ann\" <ann@example.com>", "you asked for it", "Stack:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("mail lacks %q:\n%s", want, msg)
		}
	}
}
