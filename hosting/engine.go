package hosting

import (
	"context"
	"net"
	"os"
)

// engine is what serveLoop needs of a server: the FastCGI responder.Server,
// or net/http's for -protocol http.
type engine interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
	HandoffFunc(ctx context.Context, pass func(*os.File)) error
	ServeConn(net.Conn) error // a connection HandoffFunc passed on (before Serve, for -protocol http)
}
