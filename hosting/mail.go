package hosting

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/smtp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// mailInterval is the least time between two error mails: a broken site
// must not flood the admins, nor get the host's mail account blocked.
const mailInterval = time.Minute

// errorMailer sends a mail about server errors to ADMINS through
// EMAIL_HOST, as Django does, in the background: a response never waits
// for it. At most one mail per mailInterval; the next says how many errors
// were not mailed.
type errorMailer struct {
	s   *Settings
	log zerolog.Logger

	mu         sync.Mutex
	last       time.Time
	suppressed int
	queue      chan []byte
}

func newErrorMailer(s *Settings, log zerolog.Logger) *errorMailer {
	if len(s.Admins) == 0 || s.EmailHost == "" {
		return nil
	}
	m := &errorMailer{s: s, log: log, queue: make(chan []byte, 1)}
	go m.run()
	return m
}

func (m *errorMailer) report(r *http.Request, status int, detail string, stack []byte) {
	if m == nil {
		return
	}
	m.mu.Lock()
	now := time.Now()
	if !m.last.IsZero() && now.Sub(m.last) < mailInterval {
		m.suppressed++
		m.mu.Unlock()
		return
	}
	suppressed := m.suppressed
	m.last, m.suppressed = now, 0
	m.mu.Unlock()

	subject := fmt.Sprintf("%sERROR %d: %s %s", m.s.EmailSubjectPrefix, status, r.Method, r.RequestURI)
	var body bytes.Buffer
	fmt.Fprintf(&body, "%s\n\nRequest: %s %s\nHost: %s\nFrom: %s\nUser-Agent: %s\nTime: %s\n",
		detail, r.Method, r.RequestURI, r.Host, r.RemoteAddr, r.UserAgent(), now.UTC().Format(time.RFC3339))
	if suppressed > 0 {
		fmt.Fprintf(&body, "\n%d more errors since the last mail were not mailed (at most one mail a minute); see the log.\n", suppressed)
	}
	if len(stack) > 0 {
		fmt.Fprintf(&body, "\nStack:\n%s\n", stack)
	}
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		m.s.ServerEmail, strings.Join(m.s.Admins, ", "), headerSafe(subject), now.Format(time.RFC1123Z),
		strings.ReplaceAll(body.String(), "\n", "\r\n"))
	select {
	case m.queue <- []byte(msg):
	default: // one is being sent; this one is dropped, and the log has it
	}
}

func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// sendMail delivers one mail: (*errorMailer).send, or a test's fake.
var sendMail = (*errorMailer).send

func (m *errorMailer) run() {
	for msg := range m.queue {
		if err := sendMail(m, msg); err != nil {
			m.log.Error().Err(err).Str("host", m.s.EmailHost).Msg("error mail to ADMINS not sent")
		}
	}
}

func (m *errorMailer) send(msg []byte) error {
	addr := net.JoinHostPort(m.s.EmailHost, strconv.Itoa(m.s.EmailPort))
	var auth smtp.Auth
	if m.s.EmailUser != "" {
		auth = smtp.PlainAuth("", m.s.EmailUser, m.s.EmailPassword, m.s.EmailHost)
	}
	to := make([]string, len(m.s.Admins))
	for i, a := range m.s.Admins {
		to[i] = a
		if lt := strings.LastIndexByte(a, '<'); lt >= 0 {
			to[i] = strings.TrimSuffix(a[lt+1:], ">")
		}
	}
	from := m.s.ServerEmail
	if lt := strings.LastIndexByte(from, '<'); lt >= 0 {
		from = strings.TrimSuffix(from[lt+1:], ">")
	}
	// SendMail upgrades with STARTTLS whenever the server offers it.
	return smtp.SendMail(addr, auth, from, to, msg)
}
