package hosting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// errorPages renders the site's error pages: NAME.html beside the binary
// (500.html, 404.html) when present, else a minimal built-in page; with
// DEBUG on, a detailed page for 500s.
type errorPages struct {
	dir      string
	debug    bool
	log      zerolog.Logger
	settings func() []setting  // for the debug page, secrets masked
	mailer   *errorMailer      // nil without ADMINS and EMAIL_HOST
	redact   *strings.Replacer // the settings' secrets, which a handler's error may quote
}

// setting is a name and a value, shown on debug pages and by Describe.
type setting struct{ Name, Value string }

func (p *errorPages) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w, r: r}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			stack := debug.Stack()
			p.log.Error().Str("panic", fmt.Sprint(v)).Str("method", r.Method).Str("uri", r.RequestURI).
				Bytes("stack", stack).Msg("handler panicked")
			if tw.wrote {
				// Too late for a page: let the engine show the web server
				// a failed response rather than a short one.
				panic(http.ErrAbortHandler)
			}
			p.serve(w, r, http.StatusInternalServerError, fmt.Sprint(v), stack)
		}()
		next.ServeHTTP(tw, r)
		if err := context.Cause(r.Context()); err != nil && !errors.Is(err, errTimeLimit) { // the time limit logs its own
			// The engine cancelled the request: the web server aborted it
			// or the connection went. Worth knowing when pages are slow.
			p.log.Info().Str("method", r.Method).Str("uri", r.RequestURI).AnErr("cause", err).
				Msg("the client went away before the response was complete")
		}
	})
}

// serve writes the page for status. detail and stack show only with DEBUG.
func (p *errorPages) serve(w http.ResponseWriter, r *http.Request, status int, detail string, stack []byte) {
	if p.redact != nil {
		detail = p.redact.Replace(detail)
	}
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if status >= 500 {
		p.mailer.report(r, status, detail, stack)
	}
	if p.debug && status >= 500 {
		w.WriteHeader(status)
		writeDebugPage(w, r, status, detail, stack, p.settings())
		return
	}
	if page, err := os.ReadFile(filepath.Join(p.dir, fmt.Sprintf("%d.html", status))); err == nil {
		w.WriteHeader(status)
		w.Write(page)
		return
	}
	w.WriteHeader(status)
	writeBuiltinPage(w, status)
}

func maskedHeaders(h http.Header) []setting {
	var out []setting
	for _, k := range slices.Sorted(maps.Keys(h)) {
		v := strings.Join(h[k], ", ")
		if k == "Authorization" || k == "Cookie" || k == "Proxy-Authorization" {
			v = "********"
		}
		out = append(out, setting{k, v})
	}
	return out
}

// Error answers r with the site's error page for status (404.html,
// 500.html...) and, for 5xx, logs err. Use it instead of http.Error so
// visitors see the site's own page.
func Error(w http.ResponseWriter, r *http.Request, status int, err error) {
	s := siteOf(r)
	if s == nil {
		http.Error(w, http.StatusText(status), status)
		return
	}
	p := s.pages
	detail := ""
	if err != nil {
		detail = err.Error()
		if status >= 500 {
			p.log.Error().Err(err).Int("status", status).Str("uri", r.RequestURI).Msg("request failed")
		}
	}
	p.serve(w, r, status, detail, nil)
}

// NotFound answers r with the site's 404 page.
func NotFound(w http.ResponseWriter, r *http.Request) { Error(w, r, http.StatusNotFound, nil) }

// trackingWriter notes whether the response has started, and keeps the
// handler's redirects on the site.
type trackingWriter struct {
	http.ResponseWriter
	r     *http.Request // for the site's prefix, looked up on a redirect only
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		t.wrote = true
	}
	if code >= 300 && code < 400 {
		if prefix := Prefix(t.r); prefix != "" {
			t.prefixLocation(prefix)
		}
	}
	t.ResponseWriter.WriteHeader(code)
}

// prefixLocation puts the site's prefix before a redirect to a path
// without it. The handler sees its paths below the prefix, and so do the
// redirects it makes without hosting.URL: ServeMux's own, to a path with
// its final slash or cleaned, would otherwise send the visitor off a site
// in a subdirectory.
func (t *trackingWriter) prefixLocation(prefix string) {
	h := t.Header()
	loc := h.Get("Location")
	if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
		return // a URL, or relative to the request: the browser resolves it
	}
	if rest, ok := strings.CutPrefix(loc, prefix); ok && (rest == "" || rest[0] == '/' || rest[0] == '?' || rest[0] == '#') {
		return // already on the site, as hosting.URL makes it
	}
	h.Set("Location", prefix+loc)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	t.wrote = true
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the engine's writer.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Hijack is passed through for the CGI and local modes' net/http writers.
func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(t.ResponseWriter).Hijack()
}

// The built-in pages are written directly rather than through html/template:
// its reflection keeps every exported method of every reachable type in the
// binary, which nearly doubles the size, the start-up time and the RSS of a
// site that uses no templates itself.

func writeBuiltinPage(w io.Writer, status int) {
	text := http.StatusText(status)
	message := "The page you asked for is not here."
	if status >= 500 {
		message = "Something went wrong on our side. Please try again in a moment."
	}
	io.WriteString(w, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>`+strconv.Itoa(status)+" "+html.EscapeString(text)+`</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:4em auto;max-width:36em;color:#333}</style></head>
<body><h1>`+html.EscapeString(text)+"</h1><p>"+message+"</p></body></html>\n")
}

func writeDebugPage(w io.Writer, r *http.Request, status int, detail string, stack []byte, settings []setting) {
	var b strings.Builder
	esc := func(s string) { b.WriteString(html.EscapeString(s)) }
	title := strconv.Itoa(status) + " " + http.StatusText(status)
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>`)
	esc(title)
	b.WriteString(` (DEBUG)</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em;overflow:auto}
td{padding:0 1em 0 0;vertical-align:top;font-family:monospace}h1{color:#a00}</style></head>
<body><h1>`)
	esc(title)
	b.WriteString(`</h1>
<p>DEBUG is on: this page shows details a visitor should never see. Set DEBUG=false in the settings file before going live.</p>
<h2>Error</h2><pre>`)
	esc(detail)
	b.WriteString("</pre>\n")
	if len(stack) > 0 {
		b.WriteString("<h2>Stack</h2><pre>")
		esc(string(stack))
		b.WriteString("</pre>\n")
	}
	rows := func(list []setting) {
		for _, s := range list {
			b.WriteString("<tr><td>")
			esc(s.Name)
			b.WriteString("</td><td>")
			esc(s.Value)
			b.WriteString("</td></tr>\n")
		}
	}
	b.WriteString("<h2>Request</h2><table>\n")
	rows([]setting{{"Method", r.Method}, {"URL", r.RequestURI}, {"Prefix", Prefix(r)}})
	rows(maskedHeaders(r.Header))
	b.WriteString("</table>\n<h2>Settings</h2><table>\n")
	rows(settings)
	b.WriteString("</table>\n</body></html>\n")
	io.WriteString(w, b.String())
}
