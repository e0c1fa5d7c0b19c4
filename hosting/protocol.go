package hosting

import "slices"

// protocol is what the web server speaks to an external server (-protocol).
type protocol int

const (
	protoFastCGI protocol = iota
	protoSCGI
	protoAJP
	protoHTTP // plain HTTP behind a reverse proxy
)

// protocolFlags are the values of -protocol, by protocol.
var protocolFlags = [...]string{protoFastCGI: "fcgi", protoSCGI: "scgi", protoAJP: "ajp", protoHTTP: "http"}

// parseProtocol is the protocol a -protocol value names.
func parseProtocol(flag string) (protocol, bool) {
	i := slices.Index(protocolFlags[:], flag)
	return protocol(i), i >= 0
}

// name is the protocol's name in the log.
func (p protocol) name() string {
	return [...]string{protoFastCGI: "FastCGI", protoSCGI: "SCGI", protoAJP: "AJP13", protoHTTP: "HTTP"}[p]
}
