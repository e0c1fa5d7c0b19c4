package hosting

import (
	"net/http"
	"os"
	"sync/atomic"

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
	info.Mode, info.Version, info.Debug = rt.mode, rt.Version, rt.settings.Debug
	if info.Debug {
		for k, v := range responder.Params(r) {
			info.Params = append(info.Params, setting{k, maskSecret(k, v)})
		}
		info.Settings = rt.maskedSettings()
	}
	return info
}
