package caddy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

func TestCaddy(t *testing.T) {
	appDir, root := t.TempDir(), t.TempDir()
	sock := filepath.Join(appDir, "mysite.sock")
	os.MkdirAll(filepath.Join(root, "static"), 0o755)
	os.WriteFile(filepath.Join(root, "static", "style.css"), []byte("body{}"), 0o644)
	app := testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\n", "unix:"+sock)
	base := testenv.StartCaddy(t, "Caddyfile", sock, root)
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
	base := testenv.StartCaddy(t, "subdirectory.Caddyfile", sock, root)
	testenv.WaitUp(t, base+"/app/")
	testenv.CheckHelloSite(t, base+"/app", "mode: external", "SCRIPT_NAME=/app\n", "PATH_INFO=/info\n")
}
