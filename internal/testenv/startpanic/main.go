// Command startpanic is a site that cannot start: two of its routes
// conflict, so building its handler panics before it serves, as a site
// with such a mistake does. The upload tests stage it to show that such a
// binary is refused and the old one keeps serving.
package main

import (
	"fmt"
	"net/http"

	"github.com/fcgi-hosting/fcgi/hosting"
)

func main() {
	hosting.Run(newMux())
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "post", r.PathValue("id"))
	})
	mux.HandleFunc("GET /posts/{slug}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "post", r.PathValue("slug"))
	})
	return mux
}
