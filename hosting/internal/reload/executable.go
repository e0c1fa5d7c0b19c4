package reload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/fcgi-hosting/fcgi/internal/elfarch"
)

// CheckExecutable reports why path could not replace this process: not
// executable, not a program for this machine, or cut short (an upload
// still in progress or broken off).
func CheckExecutable(path string) error {
	return checkFile(path, true)
}

// CheckProgram is CheckExecutable with the mode aside: for a staged upload,
// which arrives 0644 and is given its mode once complete.
func CheckProgram(path string) error {
	return checkFile(path, false)
}

func checkFile(path string, wantExecutable bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if wantExecutable && fi.Mode()&0o100 == 0 {
		return fmt.Errorf("%s is not executable (chmod 755 it)", path)
	}
	if runtime.GOOS != "linux" {
		return nil
	}
	if err := checkELF(f, fi.Size(), runtime.GOARCH); err != nil {
		return fmt.Errorf("%s %w", path, err)
	}
	return nil
}

var errNotELF = errors.New("is not a complete Linux program (upload unfinished, or uploaded in ASCII mode?)")

// checkELF reads just enough of an ELF file to know that it is for goarch
// and that everything its headers point at lies within its size: an upload
// cut short loses the section headers Go writes at the end, or part of a
// segment. (debug/elf would do, at 200 KiB more in every binary.)
func checkELF(r io.ReaderAt, size int64, goarch string) error {
	var h [64]byte
	if n, _ := r.ReadAt(h[:], 0); n < 52 || string(h[:4]) != "\x7fELF" {
		return errNotELF
	}
	var bo binary.ByteOrder
	switch h[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return errNotELF
	}
	machine, class64, little := bo.Uint16(h[18:]), h[4] == 2, h[5] == 1
	if got := elfarch.GOARCH(machine, class64, little); got != goarch {
		return fmt.Errorf("is built for %s, this host needs %s (GOARCH=%s)", elfarch.Describe(machine, class64, little), goarch, goarch)
	}
	// Offsets of the fields, ELF32 then ELF64.
	type layout struct {
		phoff, shoff, phentsize, phnum, shentsize, shnum int // in the file header
		pOffset, pFilesz, shOffset, shSize               int // in the table entries
		word, phsize, shsize                             int // field and entry sizes
	}
	var l layout
	switch h[4] {
	case 1:
		l = layout{28, 32, 42, 44, 46, 48, 4, 16, 16, 20, 4, 32, 40}
	case 2:
		l = layout{32, 40, 54, 56, 58, 60, 8, 32, 24, 32, 8, 56, 64}
	default:
		return errNotELF
	}
	word := func(b []byte) uint64 {
		if l.word == 4 {
			return uint64(bo.Uint32(b))
		}
		return bo.Uint64(b)
	}
	end := uint64(size)
	// table reads one entry after another of a header table, checking
	// that the table and what each entry points at fit in the file.
	table := func(off uint64, entsize, minsize, num int, entry func(e []byte) error) error {
		if num == 0 {
			return nil
		}
		if entsize < minsize {
			return errNotELF
		}
		if off > end || uint64(entsize)*uint64(num) > end-off {
			return fmt.Errorf("is cut short: %d bytes, its headers need more (upload unfinished?)", size)
		}
		e := make([]byte, entsize)
		for i := range num {
			if _, err := r.ReadAt(e, int64(off)+int64(i*entsize)); err != nil {
				return errNotELF
			}
			if err := entry(e); err != nil {
				return err
			}
		}
		return nil
	}
	cutShort := func(need uint64) error {
		return fmt.Errorf("is cut short: %d bytes, its program needs %d (upload unfinished?)", size, need)
	}
	const ptLoad, shtNobits = 1, 8
	phnum := int(bo.Uint16(h[l.phnum:]))
	if phnum == 0 {
		return errors.New("has no program to run")
	}
	err := table(word(h[l.phoff:]), int(bo.Uint16(h[l.phentsize:])), l.phsize, phnum, func(e []byte) error {
		off, n := word(e[l.pOffset:]), word(e[l.pFilesz:])
		if bo.Uint32(e) == ptLoad && (off > end || n > end-off) {
			return cutShort(off + n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return table(word(h[l.shoff:]), int(bo.Uint16(h[l.shentsize:])), l.shsize, int(bo.Uint16(h[l.shnum:])), func(e []byte) error {
		off, n := word(e[l.shOffset:]), word(e[l.shSize:])
		if bo.Uint32(e[4:]) != shtNobits && (off > end || n > end-off) {
			return cutShort(off + n)
		}
		return nil
	})
}
