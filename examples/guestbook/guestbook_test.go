package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestSite serves a guestbook on a fresh database.
func newTestSite(t *testing.T) (http.Handler, string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "guestbook.db")
	t.Setenv(databaseEnvVar, db)
	return newSite(), db
}

func serve(h http.Handler, method, target string, form url.Values, header map[string]string) (int, http.Header, string) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.String()
}

func post(h http.Handler, name, message string) (int, http.Header, string) {
	return serve(h, "POST", "/", url.Values{"name": {name}, "message": {message}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
}

func TestGuestbook_PostAndList(t *testing.T) {
	h, _ := newTestSite(t)
	if code, _, body := serve(h, "GET", "/", nil, nil); code != 200 || !strings.Contains(body, "No messages yet") {
		t.Fatalf("empty guestbook: %d\n%s", code, body)
	}
	code, hdr, _ := post(h, "  Ann  ", "Hello <script>alert(1)</script>\r\nsecond line")
	if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Fatalf("post: %d, Location %q; want 303 to /", code, hdr.Get("Location"))
	}
	_, _, body := serve(h, "GET", "/", nil, nil)
	for _, want := range []string{"1 message<", "Hello &lt;script&gt;alert(1)&lt;/script&gt;\nsecond line", "<p class=\"by\">Ann, "} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a message's HTML reached the page unescaped")
	}
}

func TestGuestbook_Validation(t *testing.T) {
	h, _ := newTestSite(t)
	for _, tc := range []struct {
		name, message, want string
	}{
		{"", "hi", "Name is required"},
		{"Ann", "   ", "Message is required"},
		{strings.Repeat("n", 61), "hi", "Name is 61 characters; at most 60"},
		{"Ann", strings.Repeat("é", 1001), "Message is 1001 characters; at most 1000"},
		{"Ann\nBob", "hi", "Name must be one line"},
		{"Ann", "bell\a", "Message has control characters"},
	} {
		code, _, body := post(h, tc.name, tc.message)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("post(%q, %q): %d, want 422 with %q", tc.name, tc.message, code, tc.want)
		}
	}
	// What was typed comes back in the form, escaped.
	if _, _, body := post(h, `<i>Ann</i>`, ""); !strings.Contains(body, `value="&lt;i&gt;Ann&lt;/i&gt;"`) {
		t.Errorf("the name typed is not kept:\n%s", body)
	}
	if _, _, body := serve(h, "GET", "/", nil, nil); !strings.Contains(body, "0 messages") {
		t.Errorf("a rejected post was stored")
	}
}

// Posts from another site (a CSRF attack) are refused; the browser says
// where a post comes from.
func TestGuestbook_CrossSitePostRefused(t *testing.T) {
	h, _ := newTestSite(t)
	for _, header := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		code, _, _ := serve(h, "POST", "http://guestbook.example/", url.Values{"name": {"x"}, "message": {"y"}}, header)
		if code != http.StatusForbidden {
			t.Errorf("%v: %d, want 403", header, code)
		}
	}
	if _, _, body := serve(h, "GET", "/", nil, nil); !strings.Contains(body, "0 messages") {
		t.Errorf("a cross-site post was stored")
	}
}

func TestGuestbook_Pages(t *testing.T) {
	h, _ := newTestSite(t)
	for i := 1; i <= 25; i++ {
		if code, _, _ := post(h, "Ann", fmt.Sprintf("message %d.", i)); code != http.StatusSeeOther {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	for _, tc := range []struct {
		target       string
		code         int
		entries      int
		first, last  string
		newer, older string
	}{
		{"/", 200, 10, "message 25.", "message 16.", "", "/?page=2"},
		{"/?page=2", 200, 10, "message 15.", "message 6.", `href="/" rel="prev"`, "/?page=3"},
		{"/?page=3", 200, 5, "message 5.", "message 1.", "/?page=2", ""},
		{"/?page=4", 404, 0, "", "", "", ""},
		{"/?page=0", 404, 0, "", "", "", ""},
		{"/?page=x", 404, 0, "", "", "", ""},
	} {
		code, _, body := serve(h, "GET", tc.target, nil, nil)
		if code != tc.code {
			t.Errorf("%s: %d, want %d", tc.target, code, tc.code)
			continue
		}
		if code != 200 {
			continue
		}
		i, j := strings.Index(body, tc.first), strings.Index(body, tc.last)
		if i < 0 || j < i || strings.Count(body, `class="entry"`) != tc.entries {
			t.Errorf("%s: entries not from %q to %q, newest first", tc.target, tc.first, tc.last)
		}
		for _, link := range []string{tc.newer, tc.older} {
			if link != "" && !strings.Contains(body, link) {
				t.Errorf("%s lacks the link %s", tc.target, link)
			}
		}
		if tc.older == "" && strings.Contains(body, `rel="next"`) {
			t.Errorf("%s: a link past the last page", tc.target)
		}
	}
}

func TestGuestbook_NotFound(t *testing.T) {
	h, _ := newTestSite(t)
	if code, _, _ := serve(h, "GET", "/nope", nil, nil); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}

// A database that cannot be opened answers 500 with the reason (logged by
// hosting) and is tried again at the next request.
func TestGuestbook_DatabaseUnavailable(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(databaseEnvVar, filepath.Join(dir, "missing", "guestbook.db"))
	h := newSite()
	if code, _, _ := serve(h, "GET", "/", nil, nil); code != 500 {
		t.Fatalf("no database: %d, want 500", code)
	}
	t.Setenv(databaseEnvVar, filepath.Join(dir, "guestbook.db"))
	if code, _, _ := serve(h, "GET", "/", nil, nil); code != 200 {
		t.Fatalf("after the fix: %d, want 200", code)
	}
}

func TestStore_Migrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guestbook.db")
	ctx := context.Background()
	for range 2 { // the second open finds the schema current
		s, err := openStore(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.add(ctx, "Ann", "hi", time.Now()); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	s, _ := openStore(ctx, path)
	if _, total, err := s.page(ctx, 1, 10); err != nil || total != 2 {
		t.Errorf("after reopening: %d entries, %v", total, err)
	}
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := openStore(ctx, path); err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Errorf("a newer schema: %v", err)
	}
}

// A database an earlier version made (schema 2, the table named entries)
// keeps its entries through the rename to guestbook_entries.
func TestStore_MigratesEarlierSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guestbook.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(sqliteMigrations[:2:2], "INSERT INTO entries (name, message, created) VALUES ('Ann', 'from before', 1)", "PRAGMA user_version = 2") {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err := openStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if entries, total, err := s.page(context.Background(), 1, 10); err != nil || total != 1 || entries[0].Message != "from before" {
		t.Errorf("after the migration: %+v, %d, %v", entries, total, err)
	}
}
