//go:build !linux

package reload

import "net"

// StopAccepting does nothing here: whether a listening socket shut for
// reading refuses connect() and keeps its queue is Linux's behaviour.
func StopAccepting(net.Listener) []net.Conn { return nil }
