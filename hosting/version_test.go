package hosting

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A build stamped as make dist stamps it names that version in -version,
// whatever Go recorded of the checkout.
func TestStampedVersion(t *testing.T) {
	const stamp = "v1.4.2-3-gdeadbee-upload"
	bin := filepath.Join(t.TempDir(), "mysite.fcgi")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/fcgi-hosting/fcgi/hosting.stampedVersion="+stamp, "-o", bin, "../examples/hello")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -version: %v\n%s", bin, err, out)
	}
	if got := string(out); !strings.HasPrefix(got, "mysite "+stamp+" ") {
		t.Errorf("-version printed %q, want it to begin %q", got, "mysite "+stamp+" ")
	}
}
