package caddy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// startCaddy runs Caddy with the Caddyfile template, its marked lines
// pointed at sock, a free port and root, and stops it (by PID) at the end.
func startCaddy(t *testing.T, template, sock, root string) string {
	bin := testenv.Require(t, "caddy", "caddy")
	dir := t.TempDir()
	port := testenv.FreePort(t)
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(
		"example.com {", fmt.Sprintf("{\n\tadmin off\n\tstorage file_system %s\n}\nhttp://127.0.0.1:%d {", dir, port),
		"/srv/mysite/public", root,
		"unix//run/mysite/mysite.sock", "unix/"+sock,
	).Replace(string(tmpl))
	if !strings.Contains(conf, "unix/"+sock) || !strings.Contains(conf, root) {
		t.Fatal("the Caddyfile's marked lines changed; update the test")
	}
	path := filepath.Join(dir, "Caddyfile")
	os.WriteFile(path, []byte(conf), 0o644)
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "PATH=/usr/bin:/bin"}
	testenv.StartProcess(t, cmd)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func TestCaddy(t *testing.T) {
	appDir, root := t.TempDir(), t.TempDir()
	sock := filepath.Join(appDir, "mysite.sock")
	os.MkdirAll(filepath.Join(root, "static"), 0o755)
	os.WriteFile(filepath.Join(root, "static", "style.css"), []byte("body{}"), 0o644)
	app := testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\n", "unix:"+sock)
	base := startCaddy(t, "Caddyfile", sock, root)
	testenv.WaitUp(t, base+"/")
	testenv.CheckHelloSite(t, base, "mode: external", "SERVER_SOFTWARE=Caddy/")
	testenv.CheckClientAbort(t, base, filepath.Join(appDir, "mysite.log"), false)

	// A SIGHUP hand-over under load loses nothing.
	testenv.ReloadUnderLoad(t, "Caddy", base+"/", "v1\n", app, filepath.Join(appDir, "mysite.log"))
}

// The hello site in /app/ with subdirectory.Caddyfile: the same suite, its
// links, cookies and redirects under /app.
func TestCaddy_Subdirectory(t *testing.T) {
	appDir, root := t.TempDir(), t.TempDir()
	sock := filepath.Join(appDir, "mysite.sock")
	os.MkdirAll(filepath.Join(root, "app", "static"), 0o755)
	os.WriteFile(filepath.Join(root, "app", "static", "style.css"), []byte("body{}"), 0o644)
	testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\n", "unix:"+sock)
	base := startCaddy(t, "subdirectory.Caddyfile", sock, root)
	testenv.WaitUp(t, base+"/app/")
	testenv.CheckHelloSite(t, base+"/app", "mode: external", "SCRIPT_NAME=/app\n", "PATH_INFO=/info\n")
}
