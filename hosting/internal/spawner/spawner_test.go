package spawner

import "testing"

func TestSpawnerOf(t *testing.T) {
	for _, tc := range []struct {
		comm, cmdline string
		want          Kind
		idleExit, one bool
	}{
		{"apache2", "/usr/sbin/apache2\x00-k\x00start\x00", Apache, true, true},
		{"httpd", "/usr/sbin/httpd\x00", Apache, true, true},
		{"lighttpd", "/usr/sbin/lighttpd\x00-D\x00", Lighttpd, false, false},
		// H2O 2.2 as Debian runs fastcgi.spawn: it never respawns, so an
		// idle exit would take the site down until H2O restarts.
		{"perl", "perl\x00-x\x00/usr/share/h2o/kill-on-close\x00--rm\x00/tmp/h2o.fcgisock.x\x00--\x00/bin/sh\x00-c\x00exec ./mysite.fcgi\x00", H2O, false, false},
		{"h2o", "h2o\x00-c\x00h2o.conf\x00", H2O, false, false},
		{"perl", "perl\x00spawner.pl\x00", Unknown, true, true},
		{"fcgi-bench", "fcgi-bench\x00-spawn\x00", Unknown, true, true},
	} {
		asked := false
		got := Of(tc.comm, func() string { asked = true; return tc.cmdline })
		if got != tc.want || got.ExitWhenIdle() != tc.idleExit || got.OneRequestAtATime() != tc.one {
			t.Errorf("Of(%q, %q) = %v (exits when idle %v, one request at a time %v); want %v (%v, %v)",
				tc.comm, tc.cmdline, got, got.ExitWhenIdle(), got.OneRequestAtATime(), tc.want, tc.idleExit, tc.one)
		}
		if asked != (tc.comm == "perl") {
			t.Errorf("Of(%q, ...) read the arguments: %v; only perl's tell anything", tc.comm, asked)
		}
	}
}
