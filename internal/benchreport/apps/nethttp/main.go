// Command nethttp is the hello of the benchmarks served by net/http as plain
// HTTP/1.1: the upper bound for a server that hands out *http.Request values.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/fcgi-hosting/fcgi/internal/benchreport/apps/handler"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "host:port")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*listen, handler.New()))
}
