package emulate

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// The operating settings work locally as on the host: the status page
// answers only with its token, which the emulation passes on as Apache
// does with CGIPassAuth, and REQUEST_TIMEOUT answers a handler deaf to its
// context with 503 while the site serves on.
func TestEmulator_OperatingSettings(t *testing.T) {
	const token = "0123456789abcdef-token"
	dir := devSite(t)
	os.WriteFile(filepath.Join(dir, "mysite.dev.env"), []byte("STATUS_PATH=/status\nSTATUS_TOKEN="+token+"\nREQUEST_TIMEOUT=1s\n"), 0o644)
	base := serveSite(t, &Emulator{Root: dir, Env: []string{"LOG_FILE=stderr"}})
	if code, _, err := testenv.Get(base + "/status"); code != 404 || err != nil {
		t.Errorf("status page without the token: %d %v, want the site's 404", code, err)
	}
	req, _ := http.NewRequest("GET", base+"/status?format=openmetrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if page := string(b); err != nil || resp.StatusCode != 200 || !strings.HasSuffix(page, "# EOF\n") ||
		!strings.Contains(page, "fcgi_requests_total") || strings.Contains(page, token) {
		t.Errorf("status page with the token: %d %v:\n%s", resp.StatusCode, err, page)
	}
	resp.Body.Close()
	// The handler answers 200 when it wakes: a 503 is the time limit's.
	if code, _, err := testenv.Get(base + "/sleep?ms=3000"); code != 503 || err != nil {
		t.Errorf("a 3 s handler with REQUEST_TIMEOUT=1s: %d %v, want 503", code, err)
	}
	if code, body, err := testenv.Get(base + "/"); code != 200 || err != nil {
		t.Errorf("after the time limit: %d %q %v", code, body, err)
	}
}
