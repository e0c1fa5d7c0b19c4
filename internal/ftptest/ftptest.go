// Package ftptest gives a test what a shared host's customer has: a
// system account whose home holds public_html (which Apache's userdir
// serves and suEXEC runs as that user), and Debian's vsftpd to upload to
// it, started from a throwaway configuration on 127.0.0.1 and stopped by
// its PID. Uploads go through curl's FTP client, as a FileZilla user's do:
// STOR writes in place and the file gets the server's umask (0644).
package ftptest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// Account is a throwaway system user with a password and a home directory
// holding public_html.
type Account struct {
	Name, Password string
	Home           string
	UID, GID       int
}

// PublicHTML is the directory userdir serves as /~Name/.
func (a *Account) PublicHTML() string { return filepath.Join(a.Home, "public_html") }

// NewAccount creates the user (a random name and password, a home in a new
// temporary directory that www-data can traverse) and removes it, and its
// home, at the end of the test, once none of its processes runs. It needs
// root; without root the test skips, or fails under CI.
func NewAccount(t *testing.T) *Account {
	t.Helper()
	if os.Geteuid() != 0 {
		if testenv.InCI() {
			t.Fatal("creating the site's system user needs root")
		}
		t.Skip("needs root to create the site's system user")
	}
	name, password := "fcgi"+randomHex(t, 3), randomHex(t, 8)
	parent, err := os.MkdirTemp("", "home-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(parent, 0o755)
	a := &Account{Name: name, Password: password, Home: filepath.Join(parent, name)}
	// A system account: suEXEC runs uids and gids from 100 up, and PAM (which
	// vsftpd asks) wants a shell listed in /etc/shells.
	if out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", a.Home, "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		os.RemoveAll(parent)
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		// mod_fcgid's processes run as the user and end a little after
		// Apache; userdel refuses a user whose processes run.
		if !testenv.Eventually(func() bool { return !runsAs(a.UID) }) {
			t.Errorf("processes of %s still run after %v", name, testenv.Patience)
		}
		if out, err := exec.Command("userdel", "--force", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
		os.RemoveAll(parent)
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	a.UID, _ = strconv.Atoi(u.Uid)
	a.GID, _ = strconv.Atoi(u.Gid)
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v\n%s", err, out)
	}
	for _, d := range []string{a.Home, a.PublicHTML()} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, a.UID, a.GID)
	}
	return a
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// runsAs reports whether a process of uid runs.
func runsAs(uid int) bool {
	statuses, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, s := range statuses {
		b, _ := os.ReadFile(s)
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				return true
			}
		}
	}
	return false
}

// Server is a running vsftpd.
type Server struct {
	base string // ftp://name:password@127.0.0.1:port/, the account's home
	curl string
	port int
	tls  bool
}

// Port is the port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Options change the server's configuration for StartWith.
type Options struct {
	// MaxRate bounds each transfer to this many bytes a second (vsftpd's
	// local_max_rate), so that a test can cut an upload half-way; 0: no
	// bound.
	MaxRate int
	// TLS requires explicit FTPS (AUTH TLS) for logins and data, with a
	// throwaway self-signed certificate, as hosts offer it.
	TLS bool
}

// Start runs vsftpd for local users on a free port of 127.0.0.1, with
// uploads allowed and the umask of real hosts (022: files arrive 0644),
// not chrooted: paths are below the home the user lands in. It is
// stopped by PID at the end of the test, which shows its log if it failed.
// Without vsftpd or curl the test skips, or fails under CI.
func Start(t *testing.T, a *Account) *Server {
	t.Helper()
	return StartWith(t, a, Options{})
}

// StartWith is Start with the options o.
func StartWith(t *testing.T, a *Account, o Options) *Server {
	t.Helper()
	bin := testenv.Require(t, "vsftpd", "vsftpd")
	curl := testenv.Require(t, "curl", "curl")
	dir := t.TempDir()
	port := testenv.FreePort(t)
	logPath := filepath.Join(dir, "vsftpd.log")
	conf := fmt.Sprintf(`listen=YES
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chmod_enable=YES
connect_from_port_20=NO
pam_service_name=vsftpd
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=%s
`, port, logPath)
	if o.MaxRate > 0 {
		conf += fmt.Sprintf("local_max_rate=%d\n", o.MaxRate)
	}
	if o.TLS {
		cert, key := selfSigned(t, dir)
		conf += fmt.Sprintf(`ssl_enable=YES
force_local_logins_ssl=YES
force_local_data_ssl=YES
rsa_cert_file=%s
rsa_private_key_file=%s
`, cert, key)
	}
	confPath := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.StartProcess(t, exec.Command(bin, confPath), logPath)
	testenv.WaitListening(t, "vsftpd", port)
	return &Server{base: fmt.Sprintf("ftp://%s:%s@127.0.0.1:%d/", a.Name, a.Password, port), curl: curl, port: port, tls: o.TLS}
}

// run runs curl on the URL of path, below the home, with args before it.
func (s *Server) run(path string, args ...string) (string, error) {
	args = append([]string{"-sS", "--ftp-create-dirs"}, args...)
	if s.tls {
		// The throwaway certificate verifies against nothing.
		args = append([]string{"--ssl-reqd", "--insecure"}, args...)
	}
	out, err := exec.Command(s.curl, append(args, s.base+path)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("curl %s %s: %v: %s", strings.Join(args, " "), path, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Upload sends the local file to path (below the home, such as
// public_html/mysite.fcgi), creating directories, with curl's further
// args (-C - resumes). The error holds the server's answer, such as
// "553" when the file cannot be written.
func (s *Server) Upload(local, path string, args ...string) error {
	_, err := s.run(path, append(args, "-T", local)...)
	return err
}

// Quote sends an FTP command whose paths are below the home, such as
// "SITE CHMOD 755 public_html/mysite.fcgi" (an FTP client's "File
// permissions...") or "DELE public_html/mysite.fcgi".
func (s *Server) Quote(t *testing.T, command string) {
	t.Helper()
	if _, err := s.run("", "-o", os.DevNull, "-Q", command); err != nil {
		t.Fatal(err)
	}
}

// List returns the names in dir (below the home) as the server lists
// them (NLST: dot files left out).
func (s *Server) List(t *testing.T, dir string) []string {
	t.Helper()
	out, err := s.run(strings.TrimSuffix(dir, "/")+"/", "--list-only")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}
