// Package sshtest gives a test a shared host's SFTP access: OpenSSH's sshd
// on a free port of 127.0.0.1 from a throwaway configuration, key
// authentication only, with OpenSSH's sftp-server, for an account of
// ftptest. It is stopped by its PID at the end of the test.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/fcgi-hosting/fcgi/internal/ftptest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// Server is a running sshd.
type Server struct {
	Port int
	// Key is a private key file (OpenSSH format, no passphrase) that logs
	// in as the account.
	Key string
	// KnownHosts is a known_hosts file that holds the server's key.
	KnownHosts string
}

// Start runs sshd for the account a: its key (Key) goes into
// ~a/.ssh/authorized_keys, as a host's control panel puts it. Without
// sshd the test skips, or fails under CI.
func Start(t *testing.T, a *ftptest.Account) *Server {
	t.Helper()
	sshd := testenv.Require(t, "sshd", "openssh-server")
	sftpServer := "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(sftpServer); err != nil {
		if testenv.InCI() {
			t.Fatalf("%s: %v: CI must install it (apt-get install -y openssh-sftp-server)", sftpServer, err)
		}
		t.Skipf("no %s (apt-get install -y openssh-sftp-server)", sftpServer)
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := testenv.FreePort(t)
	s := &Server{Port: port, Key: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}

	hostKey, hostPub := newKey(t)
	hostKeyPath := filepath.Join(dir, "host_ed25519")
	writeFile(t, hostKeyPath, hostKey, 0o600)
	writeFile(t, s.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(hostPub))), 0o600)

	userKey, userPub := newKey(t)
	writeFile(t, s.Key, userKey, 0o600)
	dotSSH := filepath.Join(a.Home, ".ssh")
	if err := os.Mkdir(dotSSH, 0o700); err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dotSSH, "authorized_keys")
	writeFile(t, authorized, ssh.MarshalAuthorizedKey(userPub), 0o600)
	os.Chown(dotSSH, a.UID, a.GID)
	os.Chown(authorized, a.UID, a.GID)

	logPath := filepath.Join(dir, "sshd.log")
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers %s
UsePAM no
StrictModes yes
Subsystem sftp %s
LogLevel VERBOSE
`, port, hostKeyPath, a.Name, sftpServer)
	confPath := filepath.Join(dir, "sshd_config")
	writeFile(t, confPath, []byte(conf), 0o600)
	// -D: in the foreground, so its PID is the one to stop; -E: its log.
	testenv.StartProcess(t, exec.Command(sshd, "-D", "-f", confPath, "-E", logPath), logPath)
	testenv.WaitListening(t, "sshd", port)
	return s
}

// newKey returns a new ed25519 private key in OpenSSH's PEM format and its
// public key.
func newKey(t *testing.T) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sshPub
}

func writeFile(t *testing.T, name string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
}
