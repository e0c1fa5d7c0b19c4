package hosting

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/fcgi-hosting/fcgi/responder"
)

type prefixKey struct{}

// scriptPrefix derives the URL prefix under which the site lives from the
// variables each web server sends (TestPrefix has what each one sends):
//
//   - FORCE_SCRIPT_NAME, when set, is the answer.
//   - Otherwise, when PATH_INFO is the tail of the requested path, the
//     prefix is what comes before it. This covers a rewrite to
//     mysite.fcgi/$1 (REQUEST_URI /app/sub, PATH_INFO /sub: prefix /app,
//     while SCRIPT_NAME says /app/mysite.fcgi), lighttpd and nginx.
//   - The same with REDIRECT_URL or SCRIPT_URL, for rewrites whose
//     REQUEST_URI is not the path the browser sees.
//   - Under nginx and mod_proxy_fcgi, which send the whole path as
//     SCRIPT_NAME, "".
//   - Without PATH_INFO, a request Apache rewrote (REDIRECT_URL set) to
//     the script, as the .htaccess template does: the script's directory
//     (REQUEST_URI /app/sub, SCRIPT_NAME /app/mysite.fcgi: prefix /app).
//   - Otherwise SCRIPT_NAME: the script was addressed directly
//     (/mysite.fcgi/sub), so links must go through it.
func scriptPrefix(r *http.Request, s *Settings) string {
	if s.ForceScriptNameSet {
		return s.ForceScriptName
	}
	param := func(name string) string { v, _ := responder.Param(r, name); return v }
	pathInfo := cleanPath(param("PATH_INFO"))
	if pathInfo != "" {
		// The request line may hold dot segments and doubled slashes
		// (//evil.example/%2e%2e/), which the web server resolved before
		// it made PATH_INFO: compared raw, they would become the prefix,
		// and links would point off the site.
		for _, candidate := range []string{r.URL.Path, param("REDIRECT_URL"), param("SCRIPT_URL")} {
			if candidate == "" {
				continue
			}
			if p, ok := strings.CutSuffix(cleanPath(candidate), pathInfo); ok {
				return strings.TrimRight(p, "/")
			}
		}
	}
	if strings.HasPrefix(param("SERVER_SOFTWARE"), "nginx/") || strings.HasPrefix(param("SCRIPT_FILENAME"), "proxy:") {
		// nginx's stock fastcgi_params and Apache's mod_proxy_fcgi send
		// the whole path as SCRIPT_NAME and no PATH_INFO; a proxied
		// location is not a script.
		return ""
	}
	if pathInfo == "" && param("REDIRECT_URL") != "" {
		// Without path info Apache neither walks the path again nor
		// makes a subrequest for PATH_TRANSLATED: a sixth of its work
		// per request through the rewrite.
		if dir, _ := path.Split(param("SCRIPT_NAME")); dir != "" {
			dir = strings.TrimRight(dir, "/")
			if p := cleanPath(r.URL.Path); p == dir || strings.HasPrefix(p, dir+"/") {
				return dir
			}
		}
	}
	return strings.TrimRight(param("SCRIPT_NAME"), "/")
}

// withPrefix gives the handler the path below the site's prefix, as
// http.StripPrefix does, and remembers the prefix for URL.
func withPrefix(s *Settings, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := scriptPrefix(r, s)
		if prefix != "" && (r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/")) {
			r2 := new(http.Request)
			*r2 = *r
			r2.URL = new(url.URL)
			*r2.URL = *r.URL
			r2.URL.Path = strings.TrimPrefix(r.URL.Path, prefix)
			if r2.URL.Path == "" {
				r2.URL.Path = "/"
			}
			if r.URL.RawPath != "" {
				if rp, ok := cutEscapedPrefix(r.URL.RawPath, prefix); ok {
					r2.URL.RawPath = rp
				} else {
					r2.URL.RawPath = ""
				}
			}
			r = r2
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), prefixKey{}, prefix)))
	})
}

func cutEscapedPrefix(raw, prefix string) (string, bool) {
	p, err := url.PathUnescape(raw)
	if err != nil || !strings.HasPrefix(p, prefix) {
		return "", false
	}
	// The prefix is made of path segments, so it ends where the raw path
	// has as many segments.
	n := strings.Count(prefix, "/")
	i := 0
	for ; i < len(raw) && n > 0; i++ {
		if raw[i] == '/' {
			n--
		}
	}
	j := strings.IndexByte(raw[i:], '/')
	if j < 0 {
		return "/", true
	}
	return raw[i+j:], true
}

// Prefix returns the URL prefix of the site for r: "" for a site at the
// root of its domain, "/app" for one in a subdirectory, "/mysite.fcgi" when
// the script is addressed directly. Handlers see paths below it.
func Prefix(r *http.Request) string {
	p, _ := r.Context().Value(prefixKey{}).(string)
	return p
}

// URL returns path (which starts with "/") as a link the browser can
// follow: below the site's prefix. It is always a path on the site: never
// scheme-relative (//host/...), whatever the request or path.
func URL(r *http.Request, path string) string {
	u := Prefix(r) + path
	if len(u) > 1 && (u[1] == '/' || u[1] == '\\') {
		u = "/" + strings.TrimLeft(u, "/\\")
	}
	return u
}

// cleanPath resolves dot segments and doubled slashes as web servers do
// before they map a request, keeping a trailing slash. A clean path, the
// usual one, comes back as it is, with no allocation: it runs for every
// request.
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if c != "/" && strings.HasSuffix(p, "/") {
		if strings.HasPrefix(p, c) && len(p) == len(c)+1 {
			return p
		}
		c += "/"
	}
	return c
}
