// Package testenv finds the real servers and tools integration tests drive.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// server is a failure, not a reason to skip.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Require returns the path of the program name, looked up in PATH and
// then in /usr/sbin (where Debian puts nginx and apache2). Without it the
// test is skipped, or failed in CI; the message names the Debian package.
func Require(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
			return "/usr/sbin/" + name
		}
		if InCI() {
			t.Fatalf("%s not found: CI must install it (apt-get install -y %s)", name, debianPackage)
		}
		t.Skipf("%s not found (apt-get install -y %s)", name, debianPackage)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// MustBuild builds the Go package at pkgDir into a temporary directory
// for a TestMain, and returns the binary and a function that removes it.
// A failed build ends the test binary with the compiler's output.
func MustBuild(pkgDir string) (bin string, cleanup func()) {
	dir, err := os.MkdirTemp("", "testbin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, filepath.Base(pkgDir))
	if out, err := exec.Command("go", "build", "-o", bin, pkgDir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkgDir, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	return bin, func() { os.RemoveAll(dir) }
}

// BuildStamped builds the Go package at pkgDir as `make dist` does
// (static, trimmed) with version stamped, which the site's "starting" log
// line and hosting.Describe show, into a temporary directory of t.
func BuildStamped(t testing.TB, pkgDir, version string) string {
	t.Helper()
	return BuildStampedAsync(t, pkgDir, version)(t)
}

// BuildStampedAsync starts BuildStamped's build, which may take long on a
// busy machine, and returns at once: the function it returns waits for
// the build and returns the binary, failing the test it is given (t or a
// subtest) if the build failed. The build overlaps what t does meanwhile.
func BuildStampedAsync(t testing.TB, pkgDir, version string) func(testing.TB) string {
	bin := filepath.Join(t.TempDir(), filepath.Base(pkgDir)+"-"+version)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags",
		"-X github.com/fcgi-hosting/fcgi/hosting.stampedVersion="+version, "-o", bin, pkgDir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out []byte
	var err error
	done := make(chan struct{})
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	t.Cleanup(func() { <-done }) // before the directory is removed
	return func(t testing.TB) string {
		t.Helper()
		<-done
		if err != nil {
			t.Fatalf("building %s: %v\n%s", pkgDir, err, out)
		}
		return bin
	}
}

// MainWithHello is a TestMain for packages two levels below the root that
// drive examples/hello: it builds the site into *bin, runs the tests and
// removes the build.
func MainWithHello(m *testing.M, bin *string) { MainWithSite(m, "../../examples/hello", bin) }

// MainWithSite is a TestMain that builds the site at pkgDir into *bin,
// runs the tests and removes the build.
func MainWithSite(m *testing.M, pkgDir string, bin *string) {
	b, cleanup := MustBuild(pkgDir)
	*bin = b
	code := m.Run()
	cleanup()
	os.Exit(code)
}
