// Command hello is the reference site: upload it first to see that a host
// works. Build it, upload it as mysite.fcgi beside a .htaccess, and browse:
//
//	/             the GREETING setting (default "Hello, world")
//	/info         how the process was started; parameters and settings with DEBUG on
//	/echo         the request body, back
//	/form         the fields of a posted form, one per line
//	/stream?n=N   N lines, each flushed at once (&pause=MS between them)
//	/slow?ms=N    logs the request, answers after N ms unless it is cancelled first
//	/sleep?ms=N   sleeps N ms deaf to cancellation, as a handler stuck in a call does
//	/panic        panics, to show the error page
//	/headers/...  the path, the X-Test header and the cookies it got; sets a cookie
//	/go           redirects to /info, under the script prefix
//	/private/...  the user the authorizer let through (see authorize)
//
// Configured as the web server's FastCGI authorizer (deploy/apache-authnz-fcgi,
// deploy/lighttpd/authorizer.conf, deploy/apache-fcgid/htaccess-authorizer),
// the same binary guards a location, pages and static files alike.
package main

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fcgi-hosting/fcgi/hosting"
	"github.com/fcgi-hosting/fcgi/responder"
)

func main() {
	rt := &hosting.Runtime{Handler: newMux(), Authorizer: http.HandlerFunc(authorize)}
	os.Exit(rt.Main(os.Args[1:]))
}

// authorize asks for HTTP Basic credentials with the password in the
// setting PRIVATE_PASSWORD, any user name: without them a 401 that makes
// the browser ask, with a wrong password a 403. A 200 passes the user name
// on as the variable SITE_USER.
func authorize(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="hello private"`)
		http.Error(w, "Log in to see "+r.URL.Path, http.StatusUnauthorized)
		return
	}
	want := os.Getenv("PRIVATE_PASSWORD")
	if want == "" || subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 {
		http.Error(w, "Wrong password for "+user, http.StatusForbidden)
		return
	}
	responder.SetVariable(w, "SITE_USER", user)
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		greeting := os.Getenv("GREETING")
		if greeting == "" {
			greeting = "Hello, world"
		}
		fmt.Fprintln(w, greeting)
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		info := hosting.Describe(r)
		fmt.Fprintf(w, "mode: %s\npid: %d\nversion: %s\nprefix: %q\npath: %s\nrequest_uri: %s\nlink_to_echo: %s\n",
			info.Mode, info.PID, info.Version, info.Prefix, r.URL.Path, r.RequestURI, hosting.URL(r, "/echo"))
		if !info.Debug {
			fmt.Fprintln(w, "(parameters and settings show with DEBUG=true)")
			return
		}
		fmt.Fprintln(w, "\nparameters:")
		for _, p := range info.Params {
			fmt.Fprintf(w, "  %s=%s\n", p.Name, p.Value)
		}
		fmt.Fprintln(w, "\nsettings:")
		for _, s := range info.Settings {
			fmt.Fprintf(w, "  %s=%s\n", s.Name, s.Value)
		}
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(r.PostForm)) {
			fmt.Fprintf(w, "%s=%s\n", k, strings.Join(r.PostForm[k], ","))
		}
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		pause, _ := strconv.Atoi(r.URL.Query().Get("pause"))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Accel-Buffering", "no")
		for i := 1; i <= min(n, 100000); i++ {
			if i > 1 && pause > 0 {
				select {
				case <-time.After(time.Duration(pause) * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "line %d\n", i)
			if err := http.NewResponseController(w).Flush(); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		// The log shows the request in the application, in progress.
		log.Printf("slow request %s: answering in %d ms", r.RequestURI, ms)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			fmt.Fprintf(w, "slept %d ms\n", ms)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("GET /sleep", sleep)
	mux.HandleFunc("GET /headers/", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1", Path: hosting.URL(r, "/")})
		w.Header().Set("X-Echo", r.Header.Get("X-Test"))
		fmt.Fprintf(w, "path: %s\nx-test: %s\n", r.URL.Path, r.Header.Get("X-Test"))
		for _, c := range r.Cookies() {
			fmt.Fprintf(w, "cookie: %s=%s\n", c.Name, c.Value)
		}
	})
	mux.HandleFunc("GET /go", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hosting.URL(r, "/info"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		panic("you asked for it")
	})
	mux.HandleFunc("GET /private/", func(w http.ResponseWriter, r *http.Request) {
		user, _ := responder.Param(r, "SITE_USER")
		fmt.Fprintf(w, "private page %s for %q\n", r.URL.Path, user)
	})
	mux.HandleFunc("/", hosting.NotFound)
	return mux
}

// sleep is a named function so that a stack (SLOW_REQUEST's log line, the
// time limit's) shows it as the handler.
func sleep(w http.ResponseWriter, r *http.Request) {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	time.Sleep(time.Duration(min(ms, 60000)) * time.Millisecond)
	fmt.Fprintf(w, "slept %d ms\n", ms)
}
