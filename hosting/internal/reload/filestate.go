package reload

import (
	"os"
	"syscall"
	"time"
)

// FileState is what tells a changed file: touch changes the mtime, an
// upload the size, a rename-replace the inode.
type FileState struct {
	exists bool
	size   int64
	mtime  time.Time
	ino    uint64
}

// StatFile is the state of path now; the zero FileState if it cannot be
// stat'ed.
func StatFile(path string) FileState {
	fi, err := os.Stat(path)
	if err != nil {
		return FileState{}
	}
	st := FileState{exists: true, size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = uint64(sys.Ino)
	}
	return st
}

// Exists reports whether the file existed.
func (st FileState) Exists() bool { return st.exists }

// Inode is the file's inode number.
func (st FileState) Inode() uint64 { return st.ino }
