// Package logfile is the site's log file: appended to by every process of
// the site, rotated when it grows too large.
package logfile

import (
	"os"
	"strconv"
	"sync"
)

// backups is how many rotated files are kept (NAME.log.1 ... .3).
const backups = 3

// File appends to a file that is rotated once it grows past maxSize.
// Several processes of the same site (mod_fcgid runs a few) may share it:
// appends are atomic per line, and a process that finds the file renamed
// by another reopens it.
type File struct {
	mu      sync.Mutex
	path    string
	maxSize int64
	f       *os.File
	size    int64 // of f, as far as this process knows
	checked int64 // bytes written since the file was last stat'ed
	lost    int64 // lines that could not be written, not yet noted in the file
}

// Open opens path for appending, to be rotated past maxSize (0: never).
func Open(path string, maxSize int64) (*File, error) {
	l := &File{path: path, maxSize: maxSize}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.size, l.checked = f, fi.Size(), 0
	return nil
}

// Write never fails the caller's request: a full disk loses log lines, not
// responses. The first failure is reported once on stderr (the web
// server's error log), and the count of lines lost goes into the log once
// it can be written again.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost > 0 {
		note := strconv.AppendInt([]byte(`{"level":"warn","lost_lines":`), l.lost, 10)
		note = append(note, `,"message":"log lines lost while the log file could not be written"}`+"\n"...)
		if _, err := l.f.Write(note); err == nil {
			l.lost = 0
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	l.checked += int64(n)
	if err != nil {
		if l.lost == 0 {
			os.Stderr.WriteString("log file " + l.path + ": " + err.Error() + "; log lines are lost until it can be written again\n")
		}
		l.lost++
	}
	if l.maxSize > 0 && (l.size > l.maxSize || l.checked > 64<<10) {
		l.maybeRotate()
	}
	return len(p), nil
}

func (l *File) maybeRotate() {
	l.checked = 0
	cur, err := os.Stat(l.path)
	mine, ferr := l.f.Stat()
	if err != nil || ferr != nil || !os.SameFile(cur, mine) {
		l.open() // another process rotated it
		return
	}
	l.size = cur.Size()
	if l.size <= l.maxSize {
		return
	}
	for i := backups - 1; i >= 1; i-- {
		os.Rename(l.path+"."+strconv.Itoa(i), l.path+"."+strconv.Itoa(i+1))
	}
	os.Rename(l.path, l.path+".1")
	l.open()
}

func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
