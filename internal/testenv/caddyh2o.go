package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartCaddy runs Caddy with the Caddyfile template (a path), its marked
// lines pointed at sock (the site's socket), a free port of 127.0.0.1 and
// root (the static files), returns the base URL and stops Caddy (by PID)
// at the end of the test.
func StartCaddy(t *testing.T, template, sock, root string) string {
	t.Helper()
	bin := Require(t, "caddy", "caddy")
	dir := t.TempDir()
	port := FreePort(t)
	conf := fillTemplate(t, template,
		"example.com {", fmt.Sprintf("{\n\tadmin off\n\tstorage file_system %s\n}\nhttp://127.0.0.1:%d {", dir, port),
		"/srv/mysite/public", root,
		"unix//run/mysite/mysite.sock", "unix/"+sock)
	if !strings.Contains(conf, "unix/"+sock) || !strings.Contains(conf, root) {
		t.Fatal("the Caddyfile's marked lines changed; update the test")
	}
	path := filepath.Join(dir, "Caddyfile")
	os.WriteFile(path, []byte(conf), 0o644)
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "PATH=/usr/bin:/bin"}
	StartProcess(t, cmd)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// StartH2O runs H2O with template (a path), its marked lines pointed at a
// free port of 127.0.0.1, static (the static files) and binary (the site
// H2O spawns), returns the base URL and stops H2O (by PID) at the end of
// the test.
func StartH2O(t *testing.T, template, static, binary string) string {
	t.Helper()
	bin := Require(t, "h2o", "h2o")
	dir := t.TempDir()
	port := FreePort(t)
	conf := fillTemplate(t, template,
		"  port: 80\n", fmt.Sprintf("  host: 127.0.0.1\n  port: %d\n", port),
		"/srv/mysite/static", static,
		"/srv/mysite/mysite.fcgi", binary)
	if !strings.Contains(conf, binary) || !strings.Contains(conf, static) || strings.Contains(conf, "port: 80\n") {
		t.Fatal(template + "'s marked lines changed; update the test")
	}
	conf = fmt.Sprintf("pid-file: %s/h2o.pid\nerror-log: %s/error.log\n", dir, dir) + conf
	if os.Geteuid() == 0 {
		conf = "user: root\n" + conf // else H2O drops to nobody, who cannot write the log
	}
	path := filepath.Join(dir, "h2o.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	StartProcess(t, exec.Command(bin, "-c", path), filepath.Join(dir, "error.log"))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// fillTemplate is the configuration file template with each old string of
// oldnew replaced by the new one after it.
func fillTemplate(t *testing.T, template string, oldnew ...string) string {
	t.Helper()
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(oldnew...).Replace(string(tmpl))
}
