package hosting_test

import (
	"fmt"
	"net/http"
	"os"

	"github.com/fcgi-hosting/fcgi/hosting"
	"github.com/fcgi-hosting/fcgi/responder"
)

// Guard /private/ with the site's own check, which the web server asks
// before it serves anything there, static files included (see deploy/ for
// the web server's side). The same binary and process serve the site and
// answer the web server's Authorizer requests.
func ExampleRuntime_authorizer() {
	site := http.NewServeMux()
	site.HandleFunc("GET /private/", func(w http.ResponseWriter, r *http.Request) {
		user, _ := responder.Param(r, "SITE_USER") // passed on by the authorizer
		fmt.Fprintln(w, "Hello,", user)
	})
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok || password != os.Getenv("PRIVATE_PASSWORD") {
			// Sent to the client as it is.
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			http.Error(w, "Log in to see "+r.URL.Path, http.StatusUnauthorized)
			return
		}
		responder.SetVariable(w, "SITE_USER", user) // and a 200: let it through
	})
	rt := &hosting.Runtime{Handler: site, Authorizer: auth}
	os.Exit(rt.Main(os.Args[1:]))
}
