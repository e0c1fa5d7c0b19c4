package hosting

import (
	"net"
	"testing"
)

func TestSpawnerOf(t *testing.T) {
	for _, tc := range []struct {
		comm, cmdline string
		want          spawner
		idleExit, one bool
	}{
		{"apache2", "/usr/sbin/apache2\x00-k\x00start\x00", spawnerApache, true, true},
		{"httpd", "/usr/sbin/httpd\x00", spawnerApache, true, true},
		{"lighttpd", "/usr/sbin/lighttpd\x00-D\x00", spawnerLighttpd, false, false},
		// H2O 2.2 as Debian runs fastcgi.spawn: it never respawns, so an
		// idle exit would take the site down until H2O restarts.
		{"perl", "perl\x00-x\x00/usr/share/h2o/kill-on-close\x00--rm\x00/tmp/h2o.fcgisock.x\x00--\x00/bin/sh\x00-c\x00exec ./mysite.fcgi\x00", spawnerH2O, false, false},
		{"h2o", "h2o\x00-c\x00h2o.conf\x00", spawnerH2O, false, false},
		{"perl", "perl\x00spawner.pl\x00", spawnerUnknown, true, true},
		{"fcgi-bench", "fcgi-bench\x00-spawn\x00", spawnerUnknown, true, true},
	} {
		got := spawnerOf(tc.comm, tc.cmdline)
		if got != tc.want || got.exitWhenIdle() != tc.idleExit || got.oneRequestAtATime() != tc.one {
			t.Errorf("spawnerOf(%q, %q) = %v (exits when idle %v, one request at a time %v); want %v (%v, %v)",
				tc.comm, tc.cmdline, got, got.exitWhenIdle(), got.oneRequestAtATime(), tc.want, tc.idleExit, tc.one)
		}
	}
}

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
