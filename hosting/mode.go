package hosting

// startMode is how the process was started, found by Main.
type startMode int

const (
	modeUnknown   startMode = iota // from a shell: nothing served yet (flags decide)
	modeFastCGI                    // spawned by a web server with a listening socket on fd 0
	modeCGI                        // started as a CGI program for one request
	modeExternal                   // a server of its own on -listen
	modePassenger                  // a Phusion Passenger generic app: HTTP on 127.0.0.1:$PORT
)

// String is the mode as the start-up log line and Info.Mode name it.
func (m startMode) String() string {
	return [...]string{modeUnknown: "", modeFastCGI: "fastcgi", modeCGI: "cgi", modeExternal: "external", modePassenger: "passenger"}[m]
}
