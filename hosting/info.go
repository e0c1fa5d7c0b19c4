package hosting

import (
	"context"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
	"github.com/fcgi-hosting/fcgi/internal/cgivar"
	"github.com/fcgi-hosting/fcgi/responder"
)

// site is what the handlers of a request may ask of the runtime serving
// it, through Error, NotFound and Describe; it travels in the request's
// context, the one way the runtime's settings reach them.
type site struct {
	pages   *errorPages
	mode    startMode
	version string
}

type siteKey struct{}

func (s *site) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), siteKey{}, s)))
	})
}

// siteOf is the site serving r, nil outside the runtime's handler.
func siteOf(r *http.Request) *site {
	s, _ := r.Context().Value(siteKey{}).(*site)
	return s
}

// Info describes how the process serving a request was started.
type Info struct {
	Mode    string // "fastcgi", "cgi", "external", "passenger" or "local"
	PID     int
	Version string
	Prefix  string // the site's URL prefix (see Prefix)
	Debug   bool
	// With DEBUG on only: the CGI variables of the request, and the
	// settings file's names with secret-looking values masked.
	Params   []Setting
	Settings []Setting
}

// Setting is a name and its value.
type Setting = setting

// Describe returns how the process serving r runs.
func Describe(r *http.Request) Info {
	info := Info{PID: os.Getpid(), Prefix: Prefix(r), Mode: "none"}
	s := siteOf(r)
	if s == nil {
		return info
	}
	info.Mode, info.Version, info.Debug = s.mode.String(), s.version, s.pages.debug
	if info.Debug {
		for _, v := range cgiVariables(r) {
			info.Params = append(info.Params, setting{v.Name, settings.MaskSecret(v.Name, v.Value)})
		}
		info.Settings = s.pages.settings()
	}
	return info
}

// cgiVariables are the CGI variables the web server sent with r or, for a
// request over plain HTTP, those a web server would have made of it.
func cgiVariables(r *http.Request) []setting {
	var vars []setting
	for k, v := range responder.Params(r) {
		vars = append(vars, setting{k, v})
	}
	if vars != nil {
		return vars
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	vars = []setting{{"REQUEST_METHOD", r.Method}, {"REQUEST_URI", r.RequestURI}, {"QUERY_STRING", r.URL.RawQuery},
		{"SERVER_PROTOCOL", r.Proto}, {"REMOTE_ADDR", host}}
	if r.TLS != nil {
		vars = append(vars, setting{"HTTPS", "on"})
	}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		vars = append(vars, setting{cgivar.FromHeader(k), strings.Join(r.Header[k], ", ")})
	}
	return vars
}
