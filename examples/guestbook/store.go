package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// An entry is one message in the guestbook.
type entry struct {
	ID      int64
	Name    string
	Message string
	Created time.Time
}

// store keeps the entries in SQLite (sqlite.go) or MySQL/MariaDB
// (mysql.go). The queries are the same for both; only opening the
// database and migrating its schema differ.
type store struct{ db *sql.DB }

// openStore opens the database DATABASE names: a mysql:// (or mariadb://)
// URL, or else the path of an SQLite file, relative to the binary as
// LOG_FILE is.
func openStore(ctx context.Context, database string) (*store, error) {
	if strings.HasPrefix(database, "mysql://") || strings.HasPrefix(database, "mariadb://") {
		return openMySQL(ctx, database)
	}
	if database == "" {
		database = defaultDBFile
	}
	if !filepath.IsAbs(database) {
		if exe, err := os.Executable(); err == nil {
			database = filepath.Join(filepath.Dir(exe), database)
		}
	}
	return openSQLite(ctx, database)
}

// checkSchemaVersion refuses a schema a newer program has migrated: an
// older binary uploaded over a newer one must not write to it.
func checkSchemaVersion(version, known int) error {
	if version > known {
		return fmt.Errorf("schema version %d is newer than this program knows (%d): was a newer version deployed before?", version, known)
	}
	return nil
}

func (s *store) add(ctx context.Context, name, message string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO guestbook_entries (name, message, created) VALUES (?, ?, ?)", name, message, now.UnixMilli())
	return err
}

// page returns the entries of page n (from 1), newest first, and the
// number of entries in all.
func (s *store) page(ctx context.Context, n, size int) ([]entry, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM guestbook_entries").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id, name, message, created FROM guestbook_entries ORDER BY created DESC, id DESC LIMIT ? OFFSET ?", size, (n-1)*size)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var entries []entry
	for rows.Next() {
		var e entry
		var created int64
		if err := rows.Scan(&e.ID, &e.Name, &e.Message, &created); err != nil {
			return nil, 0, err
		}
		e.Created = time.UnixMilli(created).UTC()
		entries = append(entries, e)
	}
	return entries, total, rows.Err()
}

func (s *store) Close() error { return s.db.Close() }
