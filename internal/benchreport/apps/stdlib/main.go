// Command stdlib is the hello of the benchmarks served by net/http/fcgi, the
// way a user would write it without this project: on fd 0 when spawned, or
// on -listen unix:/path.sock for a web server in front.
package main

import (
	"flag"
	"log"
	"net"
	"net/http/fcgi"
	"strings"

	"github.com/fcgi-hosting/fcgi/internal/benchreport/apps/handler"
)

func main() {
	listen := flag.String("listen", "", "unix:/path.sock; default: the socket on fd 0")
	flag.Parse()
	var l net.Listener
	if *listen != "" {
		var err error
		if l, err = net.Listen("unix", strings.TrimPrefix(*listen, "unix:")); err != nil {
			log.Fatal(err)
		}
	}
	log.Fatal(fcgi.Serve(l, handler.New()))
}
