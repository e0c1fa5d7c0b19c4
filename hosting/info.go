package hosting

import (
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
	"github.com/fcgi-hosting/fcgi/internal/cgivar"
	"github.com/fcgi-hosting/fcgi/responder"
)

// current is the Runtime serving this process, for Describe.
var current atomic.Pointer[Runtime]

// Info describes how the process serving a request was started.
type Info struct {
	Mode    string // "fastcgi", "cgi", "external" or "local"
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
	rt := current.Load()
	if rt == nil {
		return info
	}
	info.Mode, info.Version, info.Debug = rt.mode.String(), rt.Version, rt.settings.Debug
	if info.Debug {
		for _, v := range cgiVariables(r) {
			info.Params = append(info.Params, setting{v.Name, settings.MaskSecret(v.Name, v.Value)})
		}
		info.Settings = rt.maskedSettings()
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
