package hosting

import (
	"net"
	"testing"
)

// Only mod_fcgid's sockets, one per process, are taken for the process's
// own; a socket shared by an application's processes is not.
func TestFcgidSocket(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.UnixAddr{Name: "/var/lib/apache2/fcgid/sock/30129.0", Net: "unix"}, true},
		{&net.UnixAddr{Name: "/run/fcgidsock/7.12", Net: "unix"}, true},
		{&net.UnixAddr{Name: "/var/lib/apache2/fastcgi/dynamic/0c7d5b6ec4d1b0bf9e7a8a36c2b0cc18", Net: "unix"}, false}, // mod_fastcgi
		{&net.UnixAddr{Name: "/run/mysite.sock", Net: "unix"}, false},                                                  // spawn-fcgi
		{&net.UnixAddr{Name: "/tmp/30129.", Net: "unix"}, false},
		{&net.TCPAddr{Port: 9000}, false},
	} {
		if got := fcgidSocket(tc.addr); got != tc.want {
			t.Errorf("fcgidSocket(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
