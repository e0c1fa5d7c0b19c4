package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fcgi-hosting/fcgi/internal/elfarch"
)

// stampVar is the variable the hosting runtime reports as its version, in
// the "starting" line of the site's log and in -version.
const stampVar = "github.com/fcgi-hosting/fcgi/hosting.stampedVersion"

// gitVersion is what make dist stamps: git describe of the module.
func gitVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "", fmt.Errorf("git describe --always --dirty: %v; deploy from a git checkout or pass -version", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// build compiles pkg as make dist does (static, trimmed, stripped, with
// the version stamped) for goos/goarch into out.
func build(ctx context.Context, pkg, goos, goarch, version, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+stampVar+"="+version, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s/%s: %v\n%s", pkg, goos, goarch, err, bytes.TrimSpace(b))
	}
	return nil
}

// packageDir is the directory of pkg, where its site/ folder would be.
func packageDir(ctx context.Context, pkg string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %v; run fcgi-deploy in the site's module", pkg, exitText(err))
	}
	return strings.TrimSpace(string(out)), nil
}

// moduleHtaccess is deploy/apache-fcgid/htaccess from the version of the
// fcgi module that pkg builds with, so the .htaccess matches the runtime.
func moduleHtaccess(ctx context.Context, pkg string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{with .Module}}{{.Dir}}{{end}}", "github.com/fcgi-hosting/fcgi/hosting")
	if dir, err := packageDir(ctx, pkg); err == nil {
		cmd.Dir = dir
	}
	out, err := cmd.Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return "", fmt.Errorf("cannot find the fcgi module the site builds with (%v); pass -htaccess FILE", exitText(err))
	}
	name := filepath.Join(strings.TrimSpace(string(out)), "deploy", "apache-fcgid", "htaccess")
	if _, err := os.Stat(name); err != nil {
		return "", fmt.Errorf("%v; pass -htaccess FILE", err)
	}
	return name, nil
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return strings.TrimSpace(string(ee.Stderr))
	}
	if err == nil {
		return "no module"
	}
	return err.Error()
}

// elfTarget reads GOOS and GOARCH from the first bytes of an ELF binary:
// the class, byte order, OS ABI and machine of its header.
func elfTarget(h []byte) (goos, goarch string, err error) {
	if len(h) < 20 || !bytes.HasPrefix(h, []byte("\x7fELF")) {
		return "", "", errors.New("not an ELF binary")
	}
	class64, little := h[4] == 2, h[5] == 1
	var bo binary.ByteOrder = binary.BigEndian
	if little {
		bo = binary.LittleEndian
	}
	switch h[7] { // EI_OSABI
	case 9:
		goos = "freebsd"
	case 12:
		goos = "openbsd"
	default:
		goos = "linux" // Go writes 0 (System V) for Linux
	}
	machine := bo.Uint16(h[18:])
	if goarch = elfarch.GOARCH(machine, class64, little); goarch == "" {
		return "", "", fmt.Errorf("an ELF binary for machine %d, which Go does not build for", machine)
	}
	return goos, goarch, nil
}
