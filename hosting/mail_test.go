package hosting_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

func TestSpawned_ErrorMail(t *testing.T) {
	hold := make(chan struct{})
	smtp := testenv.StartSMTPSink(t, hold)
	s := newSite(t, fmt.Sprintf("ADMINS=Ann <ann@example.com>\nEMAIL_HOST=%s\nEMAIL_PORT=%s\nSERVER_EMAIL=site@example.com\n", smtp.Host, smtp.Port))
	s.spawn()
	// The response comes while the mail server still holds the mail.
	if code, _ := s.mustGet("/panic"); code != 500 {
		t.Fatalf("status %d", code)
	}
	var msg string
	select {
	case msg = <-smtp.Msgs:
	case <-time.After(hangBound):
		t.Fatalf("no mail; log:\n%s", s.log())
	}
	// Nor does the next error's, which is not mailed (TestErrorMailer_Interval).
	if code, _ := s.mustGet("/panic"); code != 500 {
		t.Fatalf("second panic: %d", code)
	}
	close(hold)
	for _, want := range []string{"Subject: [mysite] ERROR 500: GET /panic", "To: \"Ann\" <ann@example.com>", "you asked for it", "Stack:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("mail lacks %q:\n%s", want, msg)
		}
	}
}
