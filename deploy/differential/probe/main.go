// Command probe is the differential test's plain program: go-httpbin's
// handler served by Go's standard library alone (net/http/cgi,
// net/http/fcgi, net/http), none of this project. What a web server does
// to its answers it does to any program: the test's explanations are
// proven by sending the same request to the probe on the same server.
//
// Named NAME.cgi it answers one request as a CGI script; named NAME.fcgi
// it is a FastCGI program spawned by the web server (mod_fcgid: the
// listening socket on fd 0). With -listen ADDR it serves FastCGI
// (-protocol fcgi, the default) or HTTP (-protocol http) there, ADDR being
// host:port or unix:PATH. Either way the path up to and including /NAME
// (its own name) is cut off before the handler sees it.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/fcgi"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

func main() {
	listen := flag.String("listen", "", "serve on `addr` (host:port or unix:PATH), not as spawned")
	protocol := flag.String("protocol", "fcgi", "what to serve on -listen: fcgi or http")
	flag.Parse()
	name := "/" + filepath.Base(os.Args[0])
	h := below(name, httpbin.New(httpbin.WithMaxBodySize(8<<20)))
	var err error
	switch {
	case *listen != "":
		err = serve(*listen, *protocol, h)
	case strings.HasSuffix(name, ".cgi"):
		err = cgi.Serve(h)
	default:
		err = fcgi.Serve(nil, h)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve(addr, protocol string, h http.Handler) error {
	network := "tcp"
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", path
		os.Remove(path)
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	if network == "unix" {
		os.Chmod(addr, 0o666) // for the web server's workers
	}
	if protocol == "http" {
		return http.Serve(l, h)
	}
	return fcgi.Serve(l, h)
}

// below serves h with the path cut after name, where the probe is, and
// the request's header as net/http would have it from the request line
// the server passed: the length of a body put back (net/http/cgi and
// net/http/fcgi keep it only in ContentLength), and one Content-Type
// where they make two of the CONTENT_TYPE variable and an
// HTTP_CONTENT_TYPE copy (nginx and Caddy send both).
func below(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := *r.URL
		if i := strings.Index(u.Path, name); i >= 0 {
			u.Path = u.Path[i+len(name):]
		}
		if i := strings.Index(u.RawPath, name); i >= 0 {
			u.RawPath = u.RawPath[i+len(name):]
		}
		r2 := *r
		r2.URL = &u
		r2.Header = r.Header.Clone()
		if r.ContentLength > 0 && r.Header.Get("Content-Length") == "" {
			r2.Header.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		}
		if ct := r.Header.Values("Content-Type"); len(ct) == 2 && ct[0] == ct[1] {
			r2.Header.Set("Content-Type", ct[0])
		}
		h.ServeHTTP(w, &r2)
	})
}
