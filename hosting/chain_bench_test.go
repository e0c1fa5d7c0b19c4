package hosting

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
)

// nullWriter is a ResponseWriter that keeps nothing, so a benchmark
// measures the chain alone.
type nullWriter struct{ h http.Header }

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nullWriter) WriteHeader(int)             {}

var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("Hello, world\n")) })

// operatingCases are the runtime's settings without and with every
// operating feature on (status page, slow requests, time limit, broken
// links); the chain must cost nothing more with them off.
var operatingCases = []struct {
	name string
	set  func(*Settings)
}{
	{"off", func(*Settings) {}},
	{"status+slow", func(s *Settings) {
		s.StatusPath, s.StatusToken, s.SlowRequest = "/status", "0123456789abcdef", 5*time.Second
	}},
	{"all on", func(s *Settings) {
		s.StatusPath, s.StatusToken, s.SlowRequest, s.RequestTimeout = "/status", "0123456789abcdef", 5*time.Second, 30*time.Second
		s.Managers, s.EmailHost = []string{"meg@example.com"}, "127.0.0.1"
	}},
}

func chainFor(tb testing.TB, set func(*Settings)) http.Handler {
	s := settings.Defaults()
	set(&s)
	rt := &Runtime{Handler: helloHandler, dir: tb.TempDir(), settings: s, log: zerolog.Nop(), mode: modeFastCGI}
	return rt.handler()
}

// BenchmarkHandlerChain is a hello request through the runtime's whole
// middleware chain: go test -run - -bench HandlerChain -benchmem ./hosting/
func BenchmarkHandlerChain(b *testing.B) {
	for _, tc := range operatingCases {
		b.Run(tc.name, func(b *testing.B) {
			h := chainFor(b, tc.set)
			req := httptest.NewRequest("GET", "/hello", nil)
			w := &nullWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
