package hosting

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestErrorPages(t *testing.T) {
	withPage := t.TempDir()
	os.WriteFile(filepath.Join(withPage, "500.html"), []byte("<h1>Our own 500</h1>"), 0o644)
	settings := func() []setting {
		return []setting{{"DEBUG", "true"}, {"EMAIL_HOST_PASSWORD", "********"}, {"GREETING", "<b>hi</b>"}}
	}
	panics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("bad <script>x</script>") })
	notFound := http.HandlerFunc(NotFound)
	tests := []struct {
		name    string
		debug   bool
		dir     string
		handler http.Handler
		status  int
		want    []string
		notWant []string
	}{
		{"panic, built-in page", false, t.TempDir(), panics, 500,
			[]string{"<title>500 Internal Server Error</title>", "Something went wrong on our side"},
			[]string{"script", "goroutine"}},
		{"panic, the site's 500.html", false, withPage, panics, 500, []string{"<h1>Our own 500</h1>"}, nil},
		{"panic with DEBUG on", true, withPage, panics, 500,
			[]string{"500 Internal Server Error (DEBUG)", "bad &lt;script&gt;x&lt;/script&gt;", "<h2>Stack</h2>",
				"<td>URL</td><td>/x?a=1&amp;b=2</td>", "<td>Authorization</td><td>********</td>",
				"<td>GREETING</td><td>&lt;b&gt;hi&lt;/b&gt;</td>", "<td>EMAIL_HOST_PASSWORD</td><td>********</td>"},
			[]string{"<script>", "Basic c2VjcmV0", "Our own 500"}},
		{"404, built-in page", true, t.TempDir(), notFound, 404,
			[]string{"<title>404 Not Found</title>", "<h1>Not Found</h1>", "The page you asked for is not here."},
			[]string{"DEBUG"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &errorPages{dir: tc.dir, debug: tc.debug, log: zerolog.Nop(), settings: settings}
			req := httptest.NewRequest("GET", "/x?a=1&b=2", nil)
			req.Header.Set("Authorization", "Basic c2VjcmV0")
			rec := httptest.NewRecorder()
			s := &site{pages: p}
			s.middleware(p.middleware(tc.handler)).ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page shows %q:\n%s", w, body)
				}
			}
		})
	}
}

// An error that quotes a secret of the settings (a DSN wrapped by a
// handler) reaches neither the debug page nor the log in clear.
func TestErrorPages_SecretsRedacted(t *testing.T) {
	const dsn = "cp_user:S3CRET@tcp(localhost:3306)/cp_db"
	var logged strings.Builder
	redact := strings.NewReplacer("S3CRET", "********")
	log := zerolog.New(redactingWriter{&logged, redact})
	p := &errorPages{dir: t.TempDir(), debug: true, log: log, settings: func() []setting { return nil }, redact: redact}
	s := &site{pages: p}
	h := s.middleware(p.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Error(w, r, 500, errors.New("open "+dsn+": connection refused"))
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for where, text := range map[string]string{"debug page": rec.Body.String(), "log": logged.String()} {
		if strings.Contains(text, "S3CRET") || !strings.Contains(text, "cp_user:********@tcp(localhost:3306)") {
			t.Errorf("%s: %s", where, text)
		}
	}
}
