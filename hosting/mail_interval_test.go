package hosting

import (
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// TestErrorMailer_Interval: at most one mail per mailInterval, the next
// saying how many errors were not mailed; report never waits for the mail
// server. In a bubble, time moves only when everything waits, so "not
// mailed" is checked once every goroutine is idle, not after a sleep.
func TestErrorMailer_Interval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{}) // the mail server takes the first mail only when closed
		var mails []string
		sendMail = func(q *mailQueue, msg []byte) error {
			if len(mails) == 0 {
				<-hold
			}
			mails = append(mails, string(msg))
			return nil
		}
		t.Cleanup(func() { sendMail = (*mailQueue).send })
		m := newErrorMailer(&Settings{Admins: []string{"ann@example.com"}, EmailHost: "mail.example.com"}, zerolog.Nop())
		defer close(m.q.queue) // ends run
		r := httptest.NewRequest("GET", "/panic", nil)

		m.report(r, 500, "first", nil) // returns while the mail server holds the mail
		synctest.Wait()
		m.report(r, 500, "second", nil)
		time.Sleep(mailInterval - time.Nanosecond)
		m.report(r, 500, "third", nil)
		close(hold)
		synctest.Wait()
		if len(mails) != 1 || !strings.Contains(mails[0], "first") {
			t.Fatalf("%d mails for three errors within %v, want the first only", len(mails), mailInterval)
		}

		time.Sleep(time.Nanosecond) // mailInterval since the first mail
		m.report(r, 502, "fourth", nil)
		synctest.Wait()
		if len(mails) != 2 || !strings.Contains(mails[1], "fourth") ||
			!strings.Contains(mails[1], "2 more errors since the last mail were not mailed") {
			t.Fatalf("want a second mail for the fourth error, counting the two not mailed; got %d:\n%s", len(mails), strings.Join(mails, "\n---\n"))
		}
	})
}
