package ftptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// PureFTPdDir is where CI extracts Debian's pure-ftpd package (apt-get
// download pure-ftpd; dpkg-deb -x): it conflicts with the vsftpd package,
// so the two cannot be installed side by side.
const PureFTPdDir = "/opt/pure-ftpd"

// pureFTPd finds the pure-ftpd binary: installed, or extracted into
// PureFTPdDir. Without it the test skips, or fails under CI.
func pureFTPd(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pure-ftpd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/pure-ftpd", filepath.Join(PureFTPdDir, "usr/sbin/pure-ftpd")} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	how := "apt-get download pure-ftpd && dpkg-deb -x pure-ftpd_*.deb " + PureFTPdDir
	if testenv.InCI() {
		t.Fatalf("pure-ftpd not found: CI must extract it (%s; it needs libsodium23)", how)
	}
	t.Skipf("pure-ftpd not found (%s)", how)
	return ""
}

// StartPureFTPd runs pure-ftpd (Debian 12: 1.0.50) for the account on a
// free port of 127.0.0.1, as cPanel hosts run it: system users with their
// passwords, chrooted to their home (paths are below it), no anonymous
// logins, the default umask (files arrive 0644), dot files hidden from
// listings but readable and writable, SITE CHMOD allowed; passive data
// connections on ports the kernel picks. extra are further options, such
// as "-x" (no dot files written). Only o.MaxRate is taken from o. It is
// stopped by PID at the end of the test, which shows its transfer log if
// it failed.
func StartPureFTPd(t *testing.T, a *Account, o Options, extra ...string) *Server {
	t.Helper()
	bin := pureFTPd(t)
	curl := testenv.Require(t, "curl", "curl")
	if o.TLS {
		t.Fatal("ftptest: StartPureFTPd serves plain FTP only")
	}
	dir := t.TempDir()
	port := testenv.FreePort(t)
	logPath := filepath.Join(dir, "transfers.log")
	args := []string{
		"-S", fmt.Sprintf("127.0.0.1,%d", port),
		"-l", "unix", // /etc/shadow: Debian's PAM file for it is in pure-ftpd-common
		"-E", "-A", "-H",
		"-f", "none", // no syslog on a test machine: the transfer log instead
		"-O", "clf:" + logPath,
	}
	if o.MaxRate > 0 {
		// -T is in KiB a second, uploads:downloads.
		args = append(args, "-T", fmt.Sprintf("%d:", max(1, o.MaxRate>>10)))
	}
	testenv.StartProcess(t, exec.Command(bin, append(args, extra...)...), logPath)
	testenv.WaitListening(t, "pure-ftpd", port)
	return &Server{base: fmt.Sprintf("ftp://%s:%s@127.0.0.1:%d/", a.Name, a.Password, port), curl: curl, port: port}
}
