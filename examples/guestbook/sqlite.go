package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // pure Go: the binary stays static and cross-compiles
)

// sqliteMigrations bring the schema from version i (PRAGMA user_version)
// to i+1.
var sqliteMigrations = []string{
	`CREATE TABLE entries (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		message TEXT NOT NULL,
		created INTEGER NOT NULL
	)`,
	`CREATE INDEX entries_created ON entries (created DESC, id DESC)`,
	// The MySQL schema's name, which must not clash with other
	// applications' tables in a host's one database.
	`ALTER TABLE entries RENAME TO guestbook_entries`,
}

// openSQLite opens the file at path. mod_fcgid runs several processes of
// the site at once, all writing the same file: WAL lets readers and one
// writer proceed together, the busy timeout makes a writer wait for
// another instead of failing with "database is locked", and immediate
// transactions take the write lock up front, where waiting is safe.
func openSQLite(ctx context.Context, path string) (*store, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if err := migrateSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return &store{db: db}, nil
}

// migrateSQLite runs the migrations not yet applied, in one write
// transaction, so that processes starting together apply each exactly
// once.
func migrateSQLite(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if err := checkSchemaVersion(version, len(sqliteMigrations)); err != nil {
		return err
	}
	for i := version; i < len(sqliteMigrations); i++ {
		if _, err := tx.ExecContext(ctx, sqliteMigrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(sqliteMigrations))); err != nil {
		return err
	}
	return tx.Commit()
}
