// Command engine is the hello of the benchmarks served by a bare
// responder.Server with no body limit, for the 1 GiB transfers.
package main

import (
	"log"
	"net"
	"os"

	"github.com/fcgi-hosting/fcgi/internal/benchreport/apps/handler"
	"github.com/fcgi-hosting/fcgi/responder"
)

func main() {
	l, err := net.FileListener(os.Stdin)
	if err != nil {
		log.Fatal("want a listening socket on fd 0: ", err)
	}
	s := &responder.Server{Handler: handler.New(), MaxRequestBodyBytes: -1}
	log.Fatal(s.Serve(l))
}
