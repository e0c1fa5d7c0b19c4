//go:build unix

package hosting

import "syscall"

// stdinListens reports whether fd 0 is a listening socket: how mod_fcgid,
// mod_fastcgi, lighttpd and spawn-fcgi hand the application its socket.
func stdinListens() bool {
	v, err := syscall.GetsockoptInt(0, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	return err == nil && v == 1
}
