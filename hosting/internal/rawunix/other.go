//go:build !linux || 386

package rawunix

import "net"

// Wrap returns l: the raw path is Linux's (on 386, whose socket calls go
// through socketcall, not).
func Wrap(l net.Listener) (net.Listener, error) { return l, nil }
