package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

func TestParseMySQLURL(t *testing.T) {
	for _, tc := range []struct {
		raw                          string
		net, addr, user, pass, dbase string
	}{
		{"mysql://gb:pw@localhost/guestbook", "tcp", "localhost:3306", "gb", "pw", "guestbook"},
		{"mariadb://gb:pw@db.example.com:3307/gb_site", "tcp", "db.example.com:3307", "gb", "pw", "gb_site"},
		{"mysql://gb:pw@[::1]/gb", "tcp", "[::1]:3306", "gb", "pw", "gb"},
		{"mysql://gb@localhost/gb?socket=/var/run/mysqld/mysqld.sock", "unix", "/var/run/mysqld/mysqld.sock", "gb", "", "gb"},
		// What a host's password generator makes, percent-encoded where a
		// URL needs it; @ and : need not be.
		{"mysql://cp_gb:a@b:c%2Fd%3Fe%23f%25g%20h@localhost/cp_gb", "tcp", "localhost:3306", "cp_gb", "a@b:c/d?e#f%g h", "cp_gb"},
		// ... or as it was made, which every page answered 500 for.
		{"mysql://cp_user:2024#Summer@localhost/cp_db", "tcp", "localhost:3306", "cp_user", "2024#Summer", "cp_db"},
		{"mysql://cp_user:pw/x?y#z@w %q@db:3307/cp_db", "tcp", "db:3307", "cp_user", "pw/x?y#z@w %q", "cp_db"},
		{"mysql://cp_user:20242024@localhost/cp_db", "tcp", "localhost:3306", "cp_user", "20242024", "cp_db"},
	} {
		cfg, redacted, err := parseMySQLURL(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		got := []string{cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName}
		if want := []string{tc.net, tc.addr, tc.user, tc.pass, tc.dbase}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %q, want %q", tc.raw, got, want)
		}
		if tc.pass != "" && strings.Contains(redacted, "pw") {
			t.Errorf("%s: shown as %s", tc.raw, redacted)
		}
	}
	for raw, want := range map[string]string{
		"mysql://localhost/gb":                   "no user",
		"mysql://gb:s3cret@localhost":            "no database name",
		"mysql://gb:s3cret@localhost/":           "no database name",
		"mysql://gb:s3cret@localhost/gb#x":       "has a # after the host",
		"mysql://gb:s3cret@/gb":                  "no host",
		"mysql://gb:s3cret@localhost/gb?ssl=yes": `unknown parameter "ssl"`,
		"mysql://gb:s3cret@local host/gb":        "not a URL",
	} {
		_, _, err := parseMySQLURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", raw, err, want)
			continue
		}
		if strings.Contains(err.Error(), "s3") {
			t.Errorf("%s: the error shows the password: %v", raw, err)
		}
	}
}

// FuzzMySQLURL reads any DATABASE URL: no panic, and no part of the
// password in an error or in the URL shown in messages.
func FuzzMySQLURL(f *testing.F) {
	f.Add("pw", "localhost/gb")
	f.Add("a@b:c%2Fd", "[::1]:3307/gb?socket=/tmp/s")
	f.Add("x#y", "h/")
	f.Fuzz(func(t *testing.T, password, rest string) {
		const mark = "Zq9" // the password starts with it
		if strings.Contains(rest, mark) {
			return
		}
		cfg, redacted, err := parseMySQLURL("mysql://gb:" + mark + password + "@" + rest)
		if err != nil {
			if strings.Contains(err.Error(), mark) {
				t.Fatalf("the error shows the password: %v", err)
			}
			return
		}
		if strings.Contains(redacted, mark) {
			t.Fatalf("shown as %s", redacted)
		}
		if !strings.HasPrefix(cfg.Passwd, mark) || cfg.DBName == "" || cfg.Addr == "" {
			t.Fatalf("accepted as %+v", cfg)
		}
	})
}

// mariadbSite makes a database and a user on a fresh MariaDB and returns
// the DATABASE URL for it, over TCP, with a password that needs
// percent-encoding, as hosts' generated passwords do.
func mariadbSite(t *testing.T, m *testenv.MariaDB) (dsn, password string) {
	password = "Gb#p@ss:w/rd?%1"
	m.Exec(t, "CREATE DATABASE guestbook",
		"CREATE USER 'gb'@'127.0.0.1' IDENTIFIED BY '"+password+"'",
		"CREATE USER 'gb'@'localhost' IDENTIFIED BY '"+password+"'",
		"GRANT ALL ON guestbook.* TO 'gb'@'127.0.0.1'",
		"GRANT ALL ON guestbook.* TO 'gb'@'localhost'")
	return fmt.Sprintf("mysql://%s@127.0.0.1:%d/guestbook", url.UserPassword("gb", password), m.Port), password
}

func TestStore_MySQL(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn, _ := mariadbSite(t, m)
	ctx := context.Background()

	// Processes starting together: each migration runs once.
	var wg sync.WaitGroup
	stores := make([]*store, 8)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = openStore(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	if v := m.Count(t, "SELECT version FROM guestbook.guestbook_schema"); v != len(mysqlMigrations) {
		t.Errorf("schema version %d, want %d", v, len(mysqlMigrations))
	}
	if n := m.Count(t, "SELECT count(*) FROM guestbook.guestbook_schema"); n != 1 {
		t.Errorf("%d schema version rows, want 1", n)
	}

	// Text beyond the Basic Multilingual Plane needs utf8mb4.
	s := stores[0]
	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for i := range 25 {
		if err := stores[i%len(stores)].add(ctx, "Zoë 👋", fmt.Sprintf("message %d 🎉", i+1), base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	entries, total, err := s.page(ctx, 3, 10)
	if err != nil || total != 25 || len(entries) != 5 {
		t.Fatalf("page 3: %d entries of %d, %v", len(entries), total, err)
	}
	if e := entries[0]; e.Name != "Zoë 👋" || e.Message != "message 5 🎉" || !e.Created.Equal(base.Add(4*time.Second)) {
		t.Errorf("page 3 starts with %+v", e)
	}

	t.Run("through the socket", func(t *testing.T) {
		s, err := openStore(ctx, "mysql://root@localhost/guestbook?socket="+url.QueryEscape(m.Socket))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, total, err := s.page(ctx, 1, 10); err != nil || total != 25 {
			t.Errorf("%d entries, %v", total, err)
		}
	})
	t.Run("a newer schema", func(t *testing.T) {
		m.Exec(t, "UPDATE guestbook.guestbook_schema SET version = 99")
		defer m.Exec(t, fmt.Sprintf("UPDATE guestbook.guestbook_schema SET version = %d", len(mysqlMigrations)))
		if _, err := openStore(ctx, dsn); err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") {
			t.Errorf("%v", err)
		}
	})
	t.Run("a wrong password", func(t *testing.T) {
		_, err := openStore(ctx, fmt.Sprintf("mysql://gb:wrong-s3cret@127.0.0.1:%d/guestbook", m.Port))
		if err == nil || !strings.Contains(err.Error(), "Access denied for user 'gb'") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v", err)
		}
	})
	t.Run("no server there", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = openStore(ctx, "mysql://gb:s3cret@"+addr+"/guestbook")
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "?socket=") ||
			strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v", err)
		}
	})
}

// The site on MariaDB in the local emulation: several processes post at
// once and every post is a row; the password is in no log.
func TestSite_MariaDB(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn, password := mariadbSite(t, m)
	dir := t.TempDir()
	layout(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "mysite.env"), []byte("DATABASE="+dsn+"\nDEBUG=true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, emulation := startEmulation(t, dir)
	checkSite(t, base)
	postConcurrently(t, base, 8, 15)
	if rows, shown := m.Count(t, "SELECT count(*) FROM guestbook.guestbook_entries"), messageCount(t, base); rows != shown || rows != 1+8*15 {
		t.Errorf("%d rows, %d shown; want %d", rows, shown, 1+8*15)
	}
	siteLog, _ := os.ReadFile(filepath.Join(dir, "mysite.log"))
	if n := strings.Count(string(siteLog), `"message":"starting"`); n < 2 {
		t.Errorf("%d processes served the concurrent posts; want several, as mod_fcgid runs", n)
	}
	for _, shown := range []string{password, url.UserPassword("gb", password).String()} {
		if strings.Contains(string(siteLog)+emulation(), shown[3:8]) {
			t.Errorf("the password is in a log")
		}
	}
	if t.Failed() {
		t.Logf("mysite.log:\n%s\nemulation:\n%s", siteLog, emulation())
	}
}
