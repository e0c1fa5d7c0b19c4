package hosting

// The start modes, as the start-up log line and Info.Mode name them.
const (
	fastcgiMode  = "fastcgi"  // spawned by a web server with a listening socket on fd 0
	cgiMode      = "cgi"      // started as a CGI program for one request
	externalMode = "external" // a server of its own on -listen
)
