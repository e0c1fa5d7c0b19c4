//go:build !unix

package responder

import "net"

func kernelInputPending(net.Conn) bool { return false }
