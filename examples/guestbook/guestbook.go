package main

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fcgi-hosting/fcgi/hosting"
)

//go:embed templates/*.html
var templateFiles embed.FS

var pageTemplate = template.Must(template.New("").Funcs(template.FuncMap{
	"url": hosting.URL,
}).ParseFS(templateFiles, "templates/*.html"))

const (
	pageSize       = 10
	maxNameLen     = 60
	maxMessageLen  = 1000
	maxFormBytes   = 16 << 10
	defaultDBFile  = "guestbook.db"
	databaseEnvVar = "DATABASE"
)

// site is the guestbook's handler. The database opens at the first
// request, when mysite.env has been read; if it cannot, each request
// answers 500 (the reason in mysite.log) and tries again, so fixing a
// permission or a path brings the site up without a restart.
type site struct {
	mu    sync.Mutex
	store *store
	mux   http.ServeMux
	now   func() time.Time
}

func newSite() http.Handler {
	s := &site{now: time.Now}
	s.mux.HandleFunc("GET /{$}", s.list)
	s.mux.HandleFunc("POST /{$}", s.post)
	s.mux.HandleFunc("/", hosting.NotFound)
	// Browsers say where a form was posted from (Sec-Fetch-Site, Origin):
	// posts from other sites are refused, which is what CSRF tokens did.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosting.Error(w, r, http.StatusForbidden, errors.New("cross-site form post refused"))
	}))
	return csrf.Handler(s)
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *site) db(ctx context.Context) (*store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store == nil {
		st, err := openStore(ctx, os.Getenv(databaseEnvVar))
		if err != nil {
			return nil, err
		}
		s.store = st
	}
	return s.store, nil
}

// form is what a visitor posts, with what is wrong with it.
type form struct {
	Name, Message string
	Errors        map[string]string
}

func (f *form) validate() bool {
	f.Name = strings.TrimSpace(f.Name)
	f.Message = strings.TrimSpace(strings.ReplaceAll(f.Message, "\r\n", "\n"))
	f.Errors = map[string]string{}
	check := func(field, v string, max int) {
		switch n := utf8.RuneCountInString(v); {
		case !utf8.ValidString(v):
			f.Errors[field] = "is not valid text"
		case n == 0:
			f.Errors[field] = "is required"
		case n > max:
			f.Errors[field] = "is " + strconv.Itoa(n) + " characters; at most " + strconv.Itoa(max)
		case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
			f.Errors[field] = "has control characters"
		}
	}
	check("Name", f.Name, maxNameLen)
	check("Message", f.Message, maxMessageLen)
	if strings.Contains(f.Name, "\n") {
		f.Errors["Name"] = "must be one line"
	}
	return len(f.Errors) == 0
}

type listPage struct {
	Entries      []entry
	Total        int
	Page, Pages  int
	Newer, Older string // links, empty on the first and last page
	Form         form
}

func (s *site) list(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, form{})
}

func (s *site) render(w http.ResponseWriter, r *http.Request, status int, f form) {
	st, err := s.db(r.Context())
	if err != nil {
		hosting.Error(w, r, http.StatusInternalServerError, err)
		return
	}
	n := 1
	if v := r.URL.Query().Get("page"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			hosting.NotFound(w, r)
			return
		}
	}
	entries, total, err := st.page(r.Context(), n, pageSize)
	if err != nil {
		hosting.Error(w, r, http.StatusInternalServerError, err)
		return
	}
	p := listPage{Entries: entries, Total: total, Page: n, Pages: max(1, (total+pageSize-1)/pageSize), Form: f}
	if n > p.Pages {
		hosting.NotFound(w, r)
		return
	}
	if n > 1 {
		p.Newer = hosting.URL(r, "/")
		if n > 2 {
			p.Newer = hosting.URL(r, "/?page="+strconv.Itoa(n-1))
		}
	}
	if n < p.Pages {
		p.Older = hosting.URL(r, "/?page="+strconv.Itoa(n+1))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTemplate.ExecuteTemplate(w, "index.html", struct {
		R *http.Request
		listPage
	}{r, p}); err != nil {
		hosting.Error(w, r, http.StatusInternalServerError, err)
	}
}

func (s *site) post(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		hosting.Error(w, r, http.StatusBadRequest, err)
		return
	}
	f := form{Name: r.PostForm.Get("name"), Message: r.PostForm.Get("message")}
	if !f.validate() {
		s.render(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	st, err := s.db(r.Context())
	if err == nil {
		err = st.add(r.Context(), f.Name, f.Message, s.now())
	}
	if err != nil {
		hosting.Error(w, r, http.StatusInternalServerError, err)
		return
	}
	// Post, redirect, get: a reload of the page does not post again.
	http.Redirect(w, r, hosting.URL(r, "/"), http.StatusSeeOther)
}
