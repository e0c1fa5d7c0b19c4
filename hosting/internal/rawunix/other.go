//go:build !linux

package rawunix

import "net"

// Wrap returns l: the raw path is Linux's.
func Wrap(l net.Listener) (net.Listener, error) { return l, nil }
