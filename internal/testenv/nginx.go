package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartNginx runs Debian's nginx with site (server blocks, upstreams) in an
// http block of its own, everything it writes in a temporary directory:
// "listen 80;" becomes a free port on 127.0.0.1, and "include
// fastcgi_params;" or "include scgi_params;" Debian's files. It waits for
// the port, returns the base URL, and stops nginx by PID at the end of the
// test, showing its error log if the test failed.
func StartNginx(t *testing.T, site string) string {
	t.Helper()
	bin := Require(t, "nginx", "nginx-light")
	dir := t.TempDir()
	port := FreePort(t)
	site = strings.NewReplacer(
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"include fastcgi_params;", "include /etc/nginx/fastcgi_params;",
		"include scgi_params;", "include /etc/nginx/scgi_params;",
	).Replace(site)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    fastcgi_temp_path %[2]s/fastcgi;
    proxy_temp_path %[2]s/proxy;
    scgi_temp_path %[2]s/scgi;
    uwsgi_temp_path %[2]s/uwsgi;
    include /etc/nginx/mime.types;
%[3]s
}
`, user, dir, site)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	StartProcess(t, exec.Command(bin, "-p", dir, "-c", confPath), filepath.Join(dir, "error.log"))
	return WaitListening(t, "nginx", port)
}

// WaitListening waits for server to listen on port of 127.0.0.1 and
// returns its base URL.
func WaitListening(t *testing.T, server string, port int) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	WaitFor(t, server+" to listen on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "http://" + addr
}
