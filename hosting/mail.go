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

// mailInterval is the least time between two mails of one kind: a broken
// site must not flood the admins, nor get the host's mail account blocked.
const mailInterval = time.Minute

// mailQueue sends mails to one list of recipients through EMAIL_HOST, in
// the background: a response never waits for the mail server.
type mailQueue struct {
	s     *Settings
	to    []string
	what  string // "error mail to ADMINS", for the log line of a failure
	log   zerolog.Logger
	queue chan []byte
}

func newMailQueue(s *Settings, to []string, what string, log zerolog.Logger) *mailQueue {
	q := &mailQueue{s: s, to: to, what: what, log: log, queue: make(chan []byte, 1)}
	go q.run()
	return q
}

// put queues msg, or drops it while another is being sent: the senders
// limit themselves to one mail per mailInterval, so only a mail server
// slower than that loses one, and the log has what it was about.
func (q *mailQueue) put(msg []byte) {
	select {
	case q.queue <- msg:
	default:
	}
}

// compose makes a plain-text mail to the queue's recipients.
func (q *mailQueue) compose(subject, body string, now time.Time) []byte {
	return fmt.Appendf(nil, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		q.s.ServerEmail, strings.Join(q.to, ", "), headerSafe(q.s.EmailSubjectPrefix+subject), now.Format(time.RFC1123Z),
		strings.ReplaceAll(body, "\n", "\r\n"))
}

// sendMail delivers one mail: (*mailQueue).send, or a test's fake.
var sendMail = (*mailQueue).send

func (q *mailQueue) run() {
	for msg := range q.queue {
		if err := sendMail(q, msg); err != nil {
			q.log.Error().Err(err).Str("host", q.s.EmailHost).Msg(q.what + " not sent")
		}
	}
}

func (q *mailQueue) send(msg []byte) error {
	addr := net.JoinHostPort(q.s.EmailHost, strconv.Itoa(q.s.EmailPort))
	var auth smtp.Auth
	if q.s.EmailUser != "" {
		auth = smtp.PlainAuth("", q.s.EmailUser, q.s.EmailPassword, q.s.EmailHost)
	}
	to := make([]string, len(q.to))
	for i, a := range q.to {
		to[i] = bareAddress(a)
	}
	// SendMail upgrades with STARTTLS whenever the server offers it.
	return smtp.SendMail(addr, auth, bareAddress(q.s.ServerEmail), to, msg)
}

// bareAddress is the address of "Name <addr>".
func bareAddress(a string) string {
	if lt := strings.LastIndexByte(a, '<'); lt >= 0 {
		return strings.TrimSuffix(a[lt+1:], ">")
	}
	return a
}

func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// errorMailer sends a mail about server errors to ADMINS, as Django does:
// at most one per mailInterval; the next says how many errors were not
// mailed.
type errorMailer struct {
	q *mailQueue

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newErrorMailer(s *Settings, log zerolog.Logger) *errorMailer {
	if len(s.Admins) == 0 || s.EmailHost == "" {
		return nil
	}
	return &errorMailer{q: newMailQueue(s, s.Admins, "error mail to ADMINS", log)}
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

	var body bytes.Buffer
	fmt.Fprintf(&body, "%s\n\nRequest: %s %s\nHost: %s\nFrom: %s\nUser-Agent: %s\nTime: %s\n",
		detail, r.Method, r.RequestURI, r.Host, r.RemoteAddr, r.UserAgent(), now.UTC().Format(time.RFC3339))
	if suppressed > 0 {
		fmt.Fprintf(&body, "\n%d more errors since the last mail were not mailed (at most one mail a minute); see the log.\n", suppressed)
	}
	if len(stack) > 0 {
		fmt.Fprintf(&body, "\nStack:\n%s\n", stack)
	}
	m.q.put(m.q.compose(fmt.Sprintf("ERROR %d: %s %s", status, r.Method, r.RequestURI), body.String(), now))
}
