package main

import (
	"errors"
	"io"
	"io/fs"
)

// remote is the site's directory on the host, reached over FTP, FTPS or
// SFTP. Paths are slash-separated and relative to that directory. Calls
// are made one at a time.
type remote interface {
	// sizes returns the size of each file directly in dir ("." for the
	// site's directory); a missing dir has none. A listing may leave dot
	// files out (FTP servers commonly do).
	sizes(dir string) (map[string]int64, error)
	// size returns the size of a file, or an error wrapping fs.ErrNotExist.
	size(name string) (int64, error)
	// read returns the file's bytes from offset on, at most limit of them
	// (limit < 0: all), or an error wrapping fs.ErrNotExist.
	read(name string, offset, limit int64) ([]byte, error)
	// store writes r to name, from offset on (0: the whole file, replacing
	// any); a running program cannot be stored over.
	store(name string, r io.Reader, offset int64) error
	// appendTo adds r at the end of name, creating it.
	appendTo(name string, r io.Reader) error
	// rename moves from over to, replacing to if the server allows it.
	rename(from, to string) error
	chmod(name string, mode fs.FileMode) error
	remove(name string) error
	// mkdirAll makes dir and its parents below the site's directory.
	mkdirAll(dir string) error
	close() error
}

// notExist reports whether err says a file is absent.
func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
