package testenv

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a throwaway server from Debian's mariadb-server: a data
// directory of its own, a unix socket and a port on 127.0.0.1.
type MariaDB struct {
	Socket string
	Port   int
	root   *sql.DB // root, without a password, over the socket
}

// StartMariaDB starts a MariaDB server for t and stops it, by PID, when t
// ends. Without mariadb-server the test is skipped, or failed in CI.
func StartMariaDB(t *testing.T) *MariaDB {
	t.Helper()
	server := Require(t, "mariadbd", "mariadb-server")
	installDB := Require(t, "mariadb-install-db", "mariadb-server")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	m := &MariaDB{Socket: filepath.Join(dir, "mysqld.sock"), Port: FreePort(t)}
	var asRoot []string
	if os.Geteuid() == 0 {
		asRoot = []string{"--user=root"} // mariadbd refuses root otherwise
	}
	install := exec.Command(installDB, append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, asRoot...)...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	errLog := filepath.Join(dir, "error.log")
	StartProcess(t, exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + m.Socket, "--port=" + strconv.Itoa(m.Port), "--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(dir, "mariadbd.pid"), "--log-error=" + errLog,
		"--innodb-buffer-pool-size=16M", "--skip-name-resolve"}, asRoot...)...), errLog)
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", m.Socket
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.root = sql.OpenDB(connector)
	t.Cleanup(func() { m.root.Close() })
	WaitFor(t, "mariadbd to take connections", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // an attempt; the next follows
		defer cancel()
		return m.root.PingContext(ctx) == nil
	})
	return m
}

// Exec runs statements as root, failing t at the first that fails.
func (m *MariaDB) Exec(t testing.TB, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if _, err := m.root.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Count returns the single number a query as root gives.
func (m *MariaDB) Count(t testing.TB, query string) int {
	t.Helper()
	var n int
	if err := m.root.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
