package emulate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/sitecheck"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// serveSite runs the emulator on a fresh site and stops it at the end,
// checking that no spawned process is left.
func serveSite(t *testing.T, e *Emulator) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if ps := processesUnder(e.Root); len(ps) > 0 {
			t.Errorf("processes left after the emulator stopped: %v", ps)
		}
	})
	return "http://" + l.Addr().String()
}

func processesUnder(dir string) []string {
	var out []string
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range exes {
		if exe, err := os.Readlink(p); err == nil && strings.HasPrefix(exe, dir+"/") {
			out = append(out, p+" -> "+exe)
		}
	}
	return out
}

// TestEmulator_Site runs the suite that also runs against Apache.
func TestEmulator_Site(t *testing.T) {
	dir := t.TempDir()
	sitecheck.Layout(t, dir, helloBin, "../../deploy/apache-fcgid/htaccess")
	log := &syncWriter{}
	e := &Emulator{Root: dir, Log: log}
	base := serveSite(t, e)
	sitecheck.Run(t, base)
	if !strings.Contains(log.String(), "FcgidMaxRequestLen") {
		t.Errorf("the refused upload is not explained in the log:\n%s", log.String())
	}
}

// A stream is held as mod_fcgid holds it (deploy/apache-fcgid proves
// Apache does): its first piece is the whole of it; with the buffer off,
// as FcgidOutputBufferSize 0, a line comes while the next is hours away.
// TestRelay_OutputBuffer checks the note in the log, on a fake clock.
func TestEmulator_OutputBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
		path   string
		first  string
	}{
		{"held", 0, "/stream?n=2&pause=500", "line 1\nline 2\n"},
		{"streamed", -1, "/stream?n=2&pause=3600000", "line 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sitecheck.Layout(t, dir, helloBin, "../../deploy/apache-fcgid/htaccess")
			base := serveSite(t, &Emulator{Root: dir, OutputBufferSize: tc.buffer})
			if got := firstChunk(t, base, tc.path); got != tc.first {
				t.Errorf("first piece of the response %q, want %q", got, tc.first)
			}
		})
	}
}

// firstChunk requests path and returns the first piece of the body as the
// server sent it: one HTTP chunk, however the network delivers it.
func firstChunk(t *testing.T, base, path string) string {
	t.Helper()
	resp, br := rawGet(t, base, path)
	if resp.StatusCode != 200 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("%d %v, want 200 and a chunked body", resp.StatusCode, resp.TransferEncoding)
	}
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	size, err := strconv.ParseInt(strings.TrimSpace(line), 16, 32)
	if err != nil {
		t.Fatalf("chunk size %q: %v", line, err)
	}
	chunk := make([]byte, size)
	if _, err := io.ReadFull(br, chunk); err != nil {
		t.Fatal(err)
	}
	return string(chunk)
}

// TestEmulator_CGIScript serves a script that is not Go: a shell CGI
// program, as hosts still run.
func TestEmulator_CGIScript(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".htaccess"), []byte("Options +ExecCGI\nAddHandler cgi-script .cgi\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hi.cgi"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nscript=%s info=%s query=%s\\n' \"$SCRIPT_NAME\" \"$PATH_INFO\" \"$QUERY_STRING\"\n"), 0o755)
	base := serveSite(t, &Emulator{Root: dir})
	resp, err := http.Get(base + "/hi.cgi/x/y?z=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "script=/hi.cgi info=/x/y query=z=1\n" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

// A process that refuses a connect (one that is stopping, say) is not
// tried again: the request goes to another process, however long the
// first one takes to exit.
func TestEmulator_ConnectRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".htaccess"), []byte("Options +ExecCGI\nAddHandler fcgid-script .fcgi\n"), 0o644)
	hello, err := os.ReadFile(helloBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "hello"), hello, 0o755)
	// The first process closes its socket and stays; the next are hello.
	os.WriteFile(filepath.Join(dir, "mysite.fcgi"), []byte("#!/bin/sh\nmkdir first 2>/dev/null && exec sleep 3600 <&-\nexec ./hello\n"), 0o755)
	e := &Emulator{Root: dir}
	if err := e.init(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := e.pool.classFor(filepath.Join(e.Root, "mysite.fcgi"))
	first, err := e.pool.acquire(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		conn, err := first.dial()
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the first process still takes connects")
		}
	}
	c.release(first) // idle and alive: the next request is offered it first

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/mysite.fcgi/", nil))
	if rec.Code != 200 || rec.Body.String() != "Hello, world\n" {
		t.Fatalf("%d %q, want the greeting from another process", rec.Code, rec.Body.String())
	}
}

func TestEmulator_Warnings(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".htaccess"), []byte(`Options +ExecCGI
AddHandler fcgid-script .fcgi
<IfModule mod_rewrite.c>
RewriteEngine On
RewriteRule ^old$ new [R=301,L,XYZ]
</IfModule>
php_value upload_max_filesize 10M
<Limit GET>
Require all denied
</Limit>
`), 0o644)
	w := (&Emulator{Root: dir}).Warnings()
	joined := strings.Join(w, "\n")
	for _, want := range []string{".htaccess:5: RewriteRule flag XYZ is not emulated", ".htaccess:7: php_value is not emulated",
		".htaccess:8: <limit> sections are not emulated"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
}

func TestEmulator_Escapes(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	os.MkdirAll(site, 0o755)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("outside"), 0o644)
	os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(site, "link.txt"))
	os.WriteFile(filepath.Join(site, "ok.txt"), []byte("inside"), 0o644)
	base := serveSite(t, &Emulator{Root: site})
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/ok.txt", 200},
		{"/link.txt", 403},
		{"/../secret.txt", 400},
		{"/%2e%2e/secret.txt", 400},
		{"/a%2F..%2Fsecret.txt", 404},
	} {
		if resp, _ := rawGet(t, base, tc.path); resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
	}
}

// rawGet sends path exactly as given, as a hostile client would, and
// returns the response with its body unread in the reader, as sent.
func rawGet(t *testing.T, base, path string) (*http.Response, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second)) // bounds a hang only
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, br
}

type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// As on the host (deploy/apache-fcgid's TestApacheFcgid_BrokenUploadShowsSite500):
// with the shipped .htaccess, a program that cannot run (mode 0644,
// missing, cut short) gets the site's own 500.html, at the root and in a
// subdirectory, for GET, POST and HEAD; the application's own 500 pages
// pass unchanged, and it sees its paths below its directory.
func TestEmulator_BrokenProgramShowsSite500(t *testing.T) {
	dir := t.TempDir()
	sitecheck.Layout(t, dir, helloBin, "../../deploy/apache-fcgid/htaccess")
	pages := [][2]string{{"", "<h1>mysite: something went wrong</h1>\n"}, {"été/", "<h1>été: something went wrong</h1>\n"}}
	os.Rename(filepath.Join(dir, "app"), filepath.Join(dir, "été"))
	for _, p := range pages {
		os.WriteFile(filepath.Join(dir, p[0], "500.html"), []byte(p[1]), 0o644)
	}
	full, err := os.ReadFile(helloBin)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncWriter{}
	e := &Emulator{Root: dir, Log: log}
	if w := e.Warnings(); len(w) > 0 {
		t.Errorf("warnings on the shipped .htaccess: %q", w)
	}
	base := serveSite(t, e)
	for _, p := range pages {
		dir, page := filepath.Join(dir, p[0]), p[1]
		url := base + "/" + strings.ReplaceAll(p[0], "é", "%C3%A9")
		bin := filepath.Join(dir, "mysite.fcgi")
		put := func(b []byte, mode os.FileMode) {
			os.WriteFile(bin+".part", b, mode)
			if err := os.Rename(bin+".part", bin); err != nil {
				t.Fatal(err)
			}
		}
		expect := func(state, logged string) {
			t.Helper()
			mark := len(log.String())
			for _, path := range []string{"", "some/page?x=1", "caf%C3%A9/a%20b%2B?q=%26%20"} {
				if code, body, err := testenv.Get(url + path); code != 500 || body != page {
					t.Errorf("mysite.fcgi %s, GET /%s%s: %d %q %v; want 500 with the site's 500.html", state, p[0], path, code, body, err)
				}
			}
			if resp, err := http.Post(url+"form", "text/plain", strings.NewReader("hi")); err != nil {
				t.Error(err)
			} else if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 500 || string(b) != page {
				t.Errorf("mysite.fcgi %s, POST /%sform: %d %q; want 500 with the site's 500.html", state, p[0], resp.StatusCode, b)
			}
			if resp, err := http.Head(url); err != nil || resp.StatusCode != 500 {
				t.Errorf("mysite.fcgi %s, HEAD /%s: %v %v; want 500", state, p[0], resp, err)
			}
			if !testenv.Eventually(func() bool { return strings.Contains(log.String()[mark:], logged) }) {
				t.Errorf("mysite.fcgi %s: the log does not say %q:\n%s", state, logged, log.String()[mark:])
			}
		}
		put(full, 0o644)
		expect("mode 0644", "give it mode 755")
		os.Remove(bin)
		expect("missing", "-> 500")
		// Addressed directly, as Apache answers it: mod_rewrite ignores a
		// rewrite to the file the path already names.
		if code, _, err := testenv.Get(url + "mysite.fcgi/x"); code != 404 {
			t.Errorf("mysite.fcgi missing, GET /%smysite.fcgi/x: %d %v; want 404", p[0], code, err)
		}
		put(full[:len(full)/2], 0o755)
		expect("cut short", "upload it again")
		put(full, 0o755)
		code, body, err := testenv.Get(url + "panic")
		if code != 500 || !strings.Contains(body, "you asked for it") {
			t.Errorf("GET /%spanic: %d %v, want the application's DEBUG page:\n%s", p[0], code, err, body)
		}
		want := fmt.Sprintf("prefix: %q\npath: /info\n", strings.TrimSuffix("/"+p[0], "/"))
		if _, body, _ := testenv.Get(url + "info"); !strings.Contains(body, want) {
			t.Errorf("GET /%sinfo: no %q:\n%s", p[0], want, body)
		}
	}
}
