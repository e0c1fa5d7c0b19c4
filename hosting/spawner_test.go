package hosting

import "testing"

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
