package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlMigrations bring the schema from version i (the one row of
// guestbook_schema) to i+1. MySQL commits each DDL statement at once, so
// the version is recorded after each.
var mysqlMigrations = []string{
	`CREATE TABLE guestbook_entries (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(60) NOT NULL,
		message TEXT NOT NULL,
		created BIGINT NOT NULL,
		INDEX guestbook_entries_created (created, id)
	) CHARACTER SET utf8mb4`,
}

// parseMySQLURL reads DATABASE=mysql://user:password@host[:port]/name,
// with ?socket=/path for a server reached through a unix socket. The
// password runs to the last @ and may hold any character (control panels
// generate ones with # / ? @); percent-encoding is undone where it is
// valid. It also returns the URL with the password masked, for messages:
// an error never shows the password.
func parseMySQLURL(raw string) (*mysql.Config, string, error) {
	const want = "want mysql://user:password@host/database"
	scheme, rest, ok := strings.Cut(raw, "://")
	at := strings.LastIndexByte(rest, '@')
	if !ok || at < 0 {
		return nil, "", errors.New("DATABASE: no user@ before the host; " + want)
	}
	user, password, _ := strings.Cut(rest[:at], ":")
	user, password = unescape(user), unescape(password)
	if user == "" {
		return nil, "", errors.New("DATABASE: no user@ before the host; " + want)
	}
	redacted := scheme + "://" + user + "@" + rest[at+1:]
	if password != "" {
		redacted = scheme + "://" + user + ":xxxxx@" + rest[at+1:]
	}
	u, err := url.Parse(scheme + "://" + rest[at+1:])
	if err != nil {
		return nil, "", fmt.Errorf("DATABASE %s: not a URL after the @; %s", redacted, want)
	}
	cfg := mysql.NewConfig()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	switch {
	case u.Fragment != "":
		return nil, "", fmt.Errorf("DATABASE %s: has a # after the host", redacted)
	case cfg.DBName == "" || strings.Contains(cfg.DBName, "/"):
		return nil, "", fmt.Errorf("DATABASE %s: no database name after the host; %s", redacted, want)
	}
	cfg.User, cfg.Passwd = user, password
	q := u.Query()
	for name := range q {
		if name != "socket" {
			return nil, "", fmt.Errorf("DATABASE %s: unknown parameter %q; the one known is socket=/path/to/mysqld.sock", redacted, name)
		}
	}
	if socket := q.Get("socket"); socket != "" {
		cfg.Net, cfg.Addr = "unix", socket
	} else if u.Hostname() == "" {
		return nil, "", fmt.Errorf("DATABASE %s: no host; %s, or ?socket=/path/to/mysqld.sock", redacted, want)
	} else {
		port := u.Port()
		if port == "" {
			port = "3306"
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(u.Hostname(), port)
	}
	// A dead server gives the visitor a 500 within seconds, not a hang.
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 30*time.Second, 30*time.Second
	// One round trip per query instead of prepare, execute and close; safe
	// with the driver's utf8mb4 connection charset.
	cfg.InterpolateParams = true
	cfg.Logger = driverLog{}
	return cfg, redacted, nil
}

// driverLog sends the driver's own complaints (a connection lost
// mid-query) to the standard logger, which hosting writes into the site's
// log file, instead of the web server's error log.
type driverLog struct{}

func (driverLog) Print(v ...any) { log.Print(append([]any{"mysql: "}, v...)...) }

func openMySQL(ctx context.Context, raw string) (*store, error) {
	cfg, redacted, err := parseMySQLURL(raw)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", redacted, err)
	}
	db := sql.OpenDB(connector)
	// Hosts cap connections per user (max_user_connections, often 10 to
	// 30) across all the processes mod_fcgid runs, and each of those
	// serves one request at a time; idle connections are given back
	// before the server's wait_timeout drops them.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	db.SetConnMaxLifetime(3 * time.Minute)
	if err := migrateMySQL(ctx, db); err != nil {
		db.Close()
		if errors.Is(err, syscall.ECONNREFUSED) && cfg.Net == "tcp" {
			err = fmt.Errorf("%w (if the host's MySQL takes only local socket connections, add ?socket=/path/to/mysqld.sock; phpinfo() shows the path as mysqli.default_socket)", err)
		}
		return nil, fmt.Errorf("database %s: %w", redacted, err)
	}
	return &store{db: db}, nil
}

// migrateMySQL runs the migrations not yet applied. Processes starting
// together take turns through a named lock, held by one connection.
func migrateMySQL(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Named locks are server-wide: the database's name keeps sites on one
	// shared server apart.
	var locked sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT('guestbook.migrate.', DATABASE()), 30)").Scan(&locked); err != nil {
		return err
	}
	if locked.Int64 != 1 {
		return errors.New("another process held the schema lock for 30 s; try again")
	}
	defer conn.ExecContext(context.Background(), "DO RELEASE_LOCK(CONCAT('guestbook.migrate.', DATABASE()))")
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS guestbook_schema (version INT NOT NULL)"); err != nil {
		return err
	}
	var version int
	switch err := conn.QueryRowContext(ctx, "SELECT version FROM guestbook_schema").Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := conn.ExecContext(ctx, "INSERT INTO guestbook_schema (version) VALUES (0)"); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if err := checkSchemaVersion(version, len(mysqlMigrations)); err != nil {
		return err
	}
	for i := version; i < len(mysqlMigrations); i++ {
		if _, err := conn.ExecContext(ctx, mysqlMigrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := conn.ExecContext(ctx, "UPDATE guestbook_schema SET version = ?", i+1); err != nil {
			return err
		}
	}
	return nil
}

// unescape undoes percent-encoding where it is valid: a password written
// encoded, as URLs want, and one written as the control panel made it
// (with a bare %), both work.
func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
