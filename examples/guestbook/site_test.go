package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fcgi-hosting/fcgi/hosting/emulate"
	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var siteBin string

func TestMain(m *testing.M) {
	bin, cleanup := testenv.MustBuild("../guestbook")
	siteBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// layout uploads the guestbook into dir as make site does.
func layout(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "static"), 0o755)
	for src, dst := range map[string]string{
		"../../deploy/apache-fcgid/htaccess": ".htaccess",
		"site/mysite.env":                    "mysite.env",
		"site/404.html":                      "404.html",
		"site/500.html":                      "500.html",
		"site/static/style.css":              "static/style.css",
		siteBin:                              "mysite.fcgi",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if dst == "mysite.fcgi" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// sqliteFiles are the database's files beside the binary.
var sqliteFiles = []string{"guestbook.db", "guestbook.db-wal"}

// noRedirect lets the tests see the 303 after a post.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func fetch(t *testing.T, method, u string, form url.Values) (int, http.Header, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "POST" {
		resp, err = noRedirect.PostForm(u, form)
	} else {
		resp, err = noRedirect.Get(u)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// checkSite is what a visitor does, at base (the site's URL, ending in /).
// The settings, the log and the files named in secrets must be refused.
func checkSite(t *testing.T, base string, secrets ...string) {
	prefix := strings.TrimSuffix(mustPath(base), "/")
	code, _, body := fetch(t, "GET", base, nil)
	if code != 200 || !strings.Contains(body, `href="`+prefix+`/static/style.css"`) || !strings.Contains(body, `action="`+prefix+`/"`) {
		t.Fatalf("GET %s: %d, links not under %q:\n%s", base, code, prefix+"/", body)
	}
	if code, _, css := fetch(t, "GET", base+"static/style.css", nil); code != 200 || !strings.Contains(css, "pre-wrap") {
		t.Errorf("the stylesheet: %d", code)
	}
	code, hdr, _ := fetch(t, "POST", base, url.Values{"name": {"Ann"}, "message": {"Hello from " + base}})
	if code != http.StatusSeeOther || hdr.Get("Location") != prefix+"/" {
		t.Errorf("post: %d to %q, want 303 to %q", code, hdr.Get("Location"), prefix+"/")
	}
	if _, _, body := fetch(t, "GET", base, nil); !strings.Contains(body, "Hello from "+base) {
		t.Errorf("the message posted is not listed")
	}
	if code, _, body := fetch(t, "POST", base, url.Values{"name": {""}, "message": {"x"}}); code != 422 || !strings.Contains(body, "Name is required") {
		t.Errorf("an invalid post: %d", code)
	}
	req, _ := http.NewRequest("POST", base, strings.NewReader("name=x&message=y"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("a cross-site post: %v %v, want 403", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	if code, _, body := fetch(t, "GET", base+"no/such/page", nil); code != 404 || !strings.Contains(body, "no such page in this guestbook") {
		t.Errorf("404 page: %d\n%s", code, body)
	}
	for _, secret := range append(secrets, "mysite.env", "mysite.log") {
		if code, _, _ := fetch(t, "GET", base+secret, nil); code != 403 {
			t.Errorf("%s served with %d, want 403", secret, code)
		}
	}
}

// checkInBrowser has headless Chromium load the guestbook, sign it through
// the form (the browser sends the cross-site headers the site checks) and
// find the entry on the page it is sent back to, styled by the stylesheet
// the web server serves.
func checkInBrowser(t *testing.T, base string) {
	b := testenv.StartBrowser(t)
	b.Navigate(base)
	if got := b.Eval(`[...document.styleSheets].some(s => s.href.endsWith("/static/style.css") && s.cssRules.length > 0)`); got != "true" {
		t.Errorf("the page at %s is not styled by static/style.css", base)
	}
	message := "Signed in Chromium at " + base
	b.Eval(`(() => {
		const f = document.querySelector("form.sign");
		f.querySelector("[name=name]").value = "Chromium";
		f.querySelector("[name=message]").value = ` + strconv.Quote(message) + `;
		f.querySelector("button[type=submit]").click();
		return true;
	})()`)
	b.WaitFor("the new entry", `document.readyState === "complete" && document.body.innerText.includes(`+strconv.Quote(message)+`)`)
	if got := b.Eval(`location.href`); got != base {
		t.Errorf("after signing, the browser is at %s, want %s", got, base)
	}
	png := b.Screenshot()
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot: %d bytes, not a PNG", len(png))
	}
	t.Logf("signed the guestbook at %s in Chromium; screenshot %d bytes", base, len(png))
}

func mustPath(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return p.Path
}

// postConcurrently posts clients×each messages at once and checks that
// every one was stored, however many processes served them.
func postConcurrently(t *testing.T, base string, clients, each int) {
	before := messageCount(t, base)
	var wg sync.WaitGroup
	errs := make(chan string, clients*each)
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				resp, err := noRedirect.PostForm(base, url.Values{"name": {fmt.Sprint("client ", c)}, "message": {fmt.Sprint("message ", i)}})
				if err != nil {
					errs <- err.Error()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther {
					errs <- fmt.Sprintf("%d %.200s", resp.StatusCode, b)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 3 {
			t.Errorf("concurrent post: %s", e)
		}
	}
	if got := messageCount(t, base); got != before+clients*each {
		t.Errorf("%d messages after %d concurrent posts to %d, want %d", got, clients*each, before, before+clients*each)
	}
}

var countLine = regexp.MustCompile(`(\d+) messages?`)

// messageCount is the count of messages the guestbook's page shows.
func messageCount(t *testing.T, base string) int {
	t.Helper()
	_, _, body := fetch(t, "GET", base, nil)
	m := countLine.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no message count on the page:\n%s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// startEmulation serves the upload in dir in the local emulation until t
// ends; it returns the site's URL and what the emulation logged so far.
func startEmulation(t *testing.T, dir string) (base string, emulation func() string) {
	var log strings.Builder
	var mu sync.Mutex
	e := &emulate.Emulator{Root: dir, Log: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return log.Write(p)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + l.Addr().String() + "/", func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
}

func TestSite_LocalEmulation(t *testing.T) {
	dir := t.TempDir()
	layout(t, dir)
	base, emulation := startEmulation(t, dir)
	checkSite(t, base, sqliteFiles...)
	checkInBrowser(t, base)
	postConcurrently(t, base, 8, 15)
	siteLog, _ := os.ReadFile(filepath.Join(dir, "mysite.log"))
	if n := strings.Count(string(siteLog), `"message":"starting"`); n < 2 {
		t.Errorf("%d processes served the concurrent posts; want several, as mod_fcgid runs", n)
	}
	if strings.Contains(string(siteLog), "locked") {
		t.Errorf("the database was found locked:\n%s", siteLog)
	}
	if t.Failed() {
		t.Logf("emulation:\n%s", emulation())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// The same through the real Apache + mod_fcgid, at the root and in a
// subdirectory.
func TestSite_ApacheFcgid(t *testing.T) {
	a := apachetest.Start(t, []string{"rewrite", "fcgid"}, `LogLevel warn fcgid:info
FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"`, func(a *apachetest.Apache) {
		layout(t, a.WWW)
		layout(t, filepath.Join(a.WWW, "sub"))
		a.Chown()
	})
	checkSite(t, a.Base+"/", sqliteFiles...)
	checkSite(t, a.Base+"/sub/", sqliteFiles...)
	checkInBrowser(t, a.Base+"/sub/")
	postConcurrently(t, a.Base+"/sub/", 8, 15)
	b, _ := os.ReadFile(filepath.Join(a.WWW, "sub", "mysite.log"))
	t.Logf("%d processes of sub/mysite.fcgi served", strings.Count(string(b), `"message":"starting"`))
	if t.Failed() {
		t.Logf("sub/mysite.log:\n%s", b)
	}
}
