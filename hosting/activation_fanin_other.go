//go:build !linux

package hosting

import (
	"errors"
	"net"
)

// newFanIn: systemd, the only thing that passes several sockets, runs on
// Linux alone.
func newFanIn([]net.Listener) (net.Listener, error) {
	return nil, errors.New("several activated sockets are served only on Linux; pass one")
}
