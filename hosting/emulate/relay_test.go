package emulate

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/fcgi-hosting/fcgi/responder"
)

// TestRelay_OutputBuffer runs relay against an application on a pipe, on
// the fake clock of a bubble: what has reached the client while the
// application pauses is exact, not a matter of the machine's speed, and so
// is the time a piece was held, which the note in the log reports.
func TestRelay_OutputBuffer(t *testing.T) {
	for _, tc := range []struct {
		name         string
		buffer       int
		whilePausing []string // the pieces written to the client
		atEnd        []string
		note         string // in the log, "" for none
	}{
		{"held", 0, nil, []string{"line 1\nline 2\n"}, "14 bytes of the response to /stream were held 1.5 s"},
		{"streamed", -1, []string{"line 1\n"}, []string{"line 1\n", "line 2\n"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				app := &responder.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprint(w, "line 1\n")
					w.(http.Flusher).Flush()
					time.Sleep(1500 * time.Millisecond)
					fmt.Fprint(w, "line 2\n")
				})}
				l := testenv.NewPipeListener()
				go app.Serve(l)
				defer app.Close()
				ours := l.Dial()

				log := &syncWriter{}
				e := &Emulator{OutputBufferSize: tc.buffer, Log: log}
				w := &pieces{ResponseRecorder: httptest.NewRecorder()}
				relayed := make(chan struct{})
				go func() {
					defer close(relayed)
					e.relay(w, httptest.NewRequest("GET", "/stream", nil), &dirConfig{}, ours, map[string]string{"REQUEST_METHOD": "GET"}, nil)
				}()

				time.Sleep(time.Second) // the application is pausing
				synctest.Wait()
				if got, want := w.String(), strings.Join(tc.whilePausing, "|"); got != want {
					t.Errorf("while the application pauses, the client has %q, want %q", got, want)
				}
				<-relayed
				if got, want := w.String(), strings.Join(tc.atEnd, "|"); got != want {
					t.Errorf("at the end, the client has %q, want %q", got, want)
				}
				if got := log.String(); tc.note == "" && got != "" || !strings.Contains(got, tc.note) {
					t.Errorf("log %q, want %q", got, tc.note)
				}
			})
		})
	}
}

// pieces records each write to the client apart.
type pieces struct {
	*httptest.ResponseRecorder
	mu  sync.Mutex
	got []string
}

func (p *pieces) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, string(b))
	return p.ResponseRecorder.Write(b)
}

func (p *pieces) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.got, "|")
}
