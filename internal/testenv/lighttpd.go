package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// StartLighttpd runs Debian's lighttpd in the foreground serving root on a
// free port of 127.0.0.1, with site (mod_fastcgi, mod_scgi... lines)
// included. It waits for the port, returns the base URL and the process,
// and stops lighttpd by PID at the end of the test, showing its error log
// and the files in logs if the test failed.
func StartLighttpd(t *testing.T, root, site string, logs ...string) (string, *exec.Cmd) {
	t.Helper()
	bin := Require(t, "lighttpd", "lighttpd")
	dir := t.TempDir()
	port := FreePort(t)
	main := fmt.Sprintf(`server.document-root = %q
server.port = %d
server.bind = "127.0.0.1"
server.errorlog = %q
server.pid-file = %q
mimetype.assign = (".css" => "text/css")
include %q
`, root, port, filepath.Join(dir, "error.log"), filepath.Join(dir, "lighttpd.pid"), filepath.Join(dir, "site.conf"))
	os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644)
	if err := os.WriteFile(filepath.Join(dir, "lighttpd.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-D", "-f", filepath.Join(dir, "lighttpd.conf"))
	StartProcess(t, cmd, append([]string{filepath.Join(dir, "error.log")}, logs...)...)
	return WaitListening(t, "lighttpd", port), cmd
}
