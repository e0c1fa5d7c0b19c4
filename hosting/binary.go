package hosting

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"runtime"
)

var elfMachine = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "loong64": elf.EM_LOONGARCH,
}

// checkExecutable reports why path could not replace this process: not
// executable, not a program for this machine, or cut short (an upload
// still in progress or broken off).
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&0o100 == 0 {
		return fmt.Errorf("%s is not executable (chmod 755 it)", path)
	}
	if runtime.GOOS != "linux" {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a complete Linux program (upload unfinished, or uploaded in ASCII mode?): %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachine[runtime.GOARCH]; ok && f.Machine != want {
		return fmt.Errorf("%s is built for %v, this host needs %v (GOARCH=%s)", path, f.Machine, want, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Off+p.Filesz > uint64(fi.Size()) {
			return fmt.Errorf("%s is cut short: %d bytes, its program needs %d (upload unfinished?)", path, fi.Size(), p.Off+p.Filesz)
		}
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Offset+s.FileSize > uint64(fi.Size()) {
			return fmt.Errorf("%s is cut short: section %s ends past its %d bytes (upload unfinished?)", path, s.Name, fi.Size())
		}
	}
	if len(f.Progs) == 0 {
		return errors.New(path + " has no program to run")
	}
	return nil
}
