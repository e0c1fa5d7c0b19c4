package testenv

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// SMTPSink is an SMTP server on 127.0.0.1 that passes on each message it
// receives on Msgs (the first ten; later ones are dropped).
type SMTPSink struct {
	Host, Port string
	Msgs       chan string
	hold       chan struct{}
}

// StartSMTPSink starts a sink until the end of t. With hold not nil, the
// end of each message is answered only once hold is closed: a site must not
// wait for its mail.
func StartSMTPSink(t testing.TB, hold chan struct{}) *SMTPSink {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &SMTPSink{Msgs: make(chan string, 10), hold: hold}
	s.Host, s.Port, _ = net.SplitHostPort(l.Addr().String())
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return s
}

func (s *SMTPSink) session(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(Patience))
	br := bufio.NewReader(c)
	reply := func(line string) { io.WriteString(c, line+"\r\n") }
	reply("220 sink ESMTP")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "DATA"):
			reply("354 go on")
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
			select {
			case s.Msgs <- msg.String():
			default:
			}
			if s.hold != nil {
				<-s.hold
			}
			reply("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			reply("221 bye")
			return
		default:
			reply("250 ok")
		}
	}
}
