package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // pure Go: the binary stays static and cross-compiles
)

// An entry is one message in the guestbook.
type entry struct {
	ID      int64
	Name    string
	Message string
	Created time.Time
}

// store keeps the entries in SQLite. mod_fcgid runs several processes of
// the site at once, all writing the same file: WAL lets readers and one
// writer proceed together, the busy timeout makes a writer wait for
// another instead of failing with "database is locked", and immediate
// transactions take the write lock up front, where waiting is safe.
type store struct{ db *sql.DB }

// migrations bring the schema from version i (PRAGMA user_version) to i+1.
var migrations = []string{
	`CREATE TABLE entries (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		message TEXT NOT NULL,
		created INTEGER NOT NULL
	)`,
	`CREATE INDEX entries_created ON entries (created DESC, id DESC)`,
}

func openStore(ctx context.Context, path string) (*store, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	s := &store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return s, nil
}

// migrate runs the migrations not yet applied, in one write transaction,
// so that processes starting together apply each exactly once.
func (s *store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this program knows (%d): was a newer version deployed before?", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *store) add(ctx context.Context, name, message string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO entries (name, message, created) VALUES (?, ?, ?)", name, message, now.UnixMilli())
	return err
}

// page returns the entries of page n (from 1), newest first, and the
// number of entries in all.
func (s *store) page(ctx context.Context, n, size int) ([]entry, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM entries").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id, name, message, created FROM entries ORDER BY created DESC, id DESC LIMIT ? OFFSET ?", size, (n-1)*size)
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
