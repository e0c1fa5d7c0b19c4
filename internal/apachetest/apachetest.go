// Package apachetest starts a throwaway Apache 2.4 from Debian's packages
// on 127.0.0.1 for the deploy tests, with its own ServerRoot, and stops it
// by its pidfile.
package apachetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// Apache is a running server.
type Apache struct {
	Root string // ServerRoot, removed at the end of the test
	WWW  string // DocumentRoot
	Base string // http://127.0.0.1:PORT
}

// Start runs Apache with the modules named (mod_NAME.so from Debian's
// module directory, beside mpm_event, authz_core and mime) and extra
// configuration; extra may use {{ROOT}} for the ServerRoot. prepare runs
// before Apache starts, with the DocumentRoot made. Apache runs its workers
// as www-data, so the test needs root; without root or Apache it skips,
// or fails under CI.
func Start(t *testing.T, modules []string, extra string, prepare func(a *Apache)) *Apache {
	t.Helper()
	bin := testenv.Require(t, "apache2", "apache2")
	for _, m := range modules {
		if _, err := os.Stat("/usr/lib/apache2/modules/mod_" + m + ".so"); err != nil {
			pkg := "apache2"
			if p, ok := modulePackages[m]; ok {
				pkg = p
			}
			if testenv.InCI() {
				t.Fatalf("mod_%s not installed: apt-get install -y %s", m, pkg)
			}
			t.Skipf("mod_%s not installed (apt-get install -y %s)", m, pkg)
		}
	}
	if os.Geteuid() != 0 {
		if testenv.InCI() {
			t.Fatal("the Apache tests run Apache as root with User www-data")
		}
		t.Skip("needs root to run Apache with User www-data")
	}
	root, err := os.MkdirTemp("", "apache-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	a := &Apache{Root: root, WWW: filepath.Join(root, "www")}
	for _, d := range []string{"conf", "logs", "run", "www"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	port := testenv.FreePort(t)
	conf := Conf(root, port, modules, extra)
	os.WriteFile(filepath.Join(root, "conf", "httpd.conf"), []byte(conf), 0o644)
	a.Base = fmt.Sprintf("http://127.0.0.1:%d", port)
	if prepare != nil {
		prepare(a)
	}
	a.Chown()
	// Registered first: a start that fails leaves its ServerRoot too.
	t.Cleanup(func() {
		if pid := a.pid(); pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
			// Gone before its ServerRoot is removed.
			for deadline := time.Now().Add(testenv.Patience); syscall.Kill(pid, 0) == nil && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(root, "logs", "error.log"))
			t.Logf("Apache error.log:\n%s", b)
		}
		os.RemoveAll(root)
	})
	start := func() ([]byte, error) {
		return exec.Command(bin, "-f", filepath.Join(root, "conf", "httpd.conf"), "-k", "start").CombinedOutput()
	}
	out, err := start()
	// Debian's mod_passenger 6.0.17 now and then aborts Apache as it
	// starts, on a busy machine ("double free or corruption" in
	// error.log, from the parent, before it detaches): started again, as
	// the host's would be.
	for try := 1; aborted(err) && try < 3; try++ {
		t.Logf("apache2 aborted as it started (%v); starting it again", err)
		out, err = start()
	}
	if err != nil {
		t.Fatalf("apache2: %v\n%s", err, out)
	}
	testenv.WaitFor(t, "Apache to write its pidfile", func() bool { return a.pid() != 0 })
	testenv.WaitListening(t, "Apache", port)
	return a
}

// aborted reports whether err is that of a process ended by SIGABRT.
func aborted(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGABRT
}

// modulePackages are the Debian packages of the modules apache2 lacks.
var modulePackages = map[string]string{"fcgid": "libapache2-mod-fcgid", "passenger": "libapache2-mod-passenger"}

// Conf is the configuration Start runs Apache with: listening on
// 127.0.0.1:port from the ServerRoot root (with conf, logs, run and www),
// the modules named loaded beside mpm_event, authz_core and mime, its
// workers running as www-data, the DocumentRoot root/www open to .htaccess
// overrides; then extra, in which {{ROOT}} stands for root.
func Conf(root string, port int, modules []string, extra string) string {
	var load strings.Builder
	for _, m := range append([]string{"mpm_event", "authz_core", "mime"}, modules...) {
		fmt.Fprintf(&load, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	return fmt.Sprintf(`ServerRoot "%[1]s"
DefaultRuntimeDir "%[1]s/run"
PidFile "%[1]s/run/httpd.pid"
Mutex file:%[1]s/run default
Listen 127.0.0.1:%[2]d
ServerName 127.0.0.1
%[3]sUser www-data
Group www-data
ErrorLog "%[1]s/logs/error.log"
LogLevel warn
TypesConfig /etc/mime.types
DocumentRoot "%[1]s/www"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "%[1]s/www">
    Options FollowSymLinks
    AllowOverride All
    Require all granted
</Directory>
%[4]s
`, root, port, load.String(), strings.ReplaceAll(extra, "{{ROOT}}", root))
}

func (a *Apache) pid() int {
	b, _ := os.ReadFile(filepath.Join(a.Root, "run", "httpd.pid"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// Graceful restarts Apache gracefully (SIGUSR1, apachectl graceful): the
// children finish the requests they serve, and mod_fcgid stops the
// application processes.
func (a *Apache) Graceful() error {
	return syscall.Kill(a.pid(), syscall.SIGUSR1)
}

// WWWData is the user Apache runs the site as.
func WWWData() (int, int) {
	u, err := user.Lookup("www-data")
	if err != nil {
		return 33, 33 // Debian's fixed ids
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid
}

// Chown gives the site and the run directory to www-data, as an upload
// over FTP by the site's owner would be.
func (a *Apache) Chown() {
	uid, gid := WWWData()
	filepath.Walk(a.WWW, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
	os.Chown(filepath.Join(a.Root, "run"), uid, gid)
}

// SuEXEC is Debian's suEXEC wrapper (apache2-suexec-pristine).
const SuEXEC = "/usr/lib/apache2/suexec"

// Userdir returns the modules and configuration, for Start, of a
// cPanel-style shared host: mod_userdir serves ~user/public_html for the
// home directories below homes, Apache runs the site's programs as that
// user through suEXEC (which runs nothing outside /var/www and
// public_html), and the site's .htaccess may override only what cPanel
// lets it. Without suEXEC the test skips, or fails under CI.
func Userdir(t *testing.T, homes string) (modules []string, conf string) {
	t.Helper()
	out, err := exec.Command(SuEXEC, "-V").CombinedOutput()
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("%s -V: %v: CI must install it (apt-get install -y apache2-suexec-pristine)", SuEXEC, err)
		}
		t.Skipf("no suEXEC at %s (apt-get install -y apache2-suexec-pristine): %v", SuEXEC, err)
	}
	if !strings.Contains(string(out), `AP_USERDIR_SUFFIX="public_html"`) {
		t.Fatalf("%s was built for another userdir than public_html:\n%s", SuEXEC, out)
	}
	return []string{"suexec", "userdir"}, fmt.Sprintf(`UserDir public_html
<Directory "%s/*/public_html">
    AllowOverride AuthConfig FileInfo Indexes Limit Options=ExecCGI,Indexes,IncludesNOEXEC,MultiViews,SymLinksIfOwnerMatch
    Options MultiViews Indexes SymLinksIfOwnerMatch IncludesNoExec
    Require all granted
</Directory>
`, homes)
}

// StartShared starts the cPanel-style shared host of Userdir for the home
// directories below homes: Apache with mod_rewrite and mod_fcgid (its
// sockets and shared memory under the ServerRoot), userdir and suEXEC. A
// site is then ~user/public_html, served at Base + "/~user/".
func StartShared(t *testing.T, homes string) *Apache {
	t.Helper()
	modules, conf := Userdir(t, homes)
	return Start(t, append([]string{"rewrite", "fcgid"}, modules...), `LogLevel warn fcgid:info
FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"
`+conf, nil)
}
