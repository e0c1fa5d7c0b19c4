//go:build unix

package spawner

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// reportVar makes the test binary print what its start decided, and exit.
const reportVar = "SPAWNER_TEST_REPORT"

func TestMain(m *testing.M) {
	if os.Getenv(reportVar) != "" {
		fmt.Println(runtime.GOMAXPROCS(0), Parent())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A process started with a listening socket on fd 0 by a spawner that
// sends one request at a time runs with one P from the start of the
// program; any other keeps the runtime's default, and GOMAXPROCS in the
// environment wins.
func TestStart(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// report runs the test binary with stdin on fd 0, under a shell named
	// parent unless that is "", and returns what it printed.
	report := func(t *testing.T, parent string, stdin *os.File, env string) string {
		t.Helper()
		cmd := exec.Command(bin)
		if parent != "" {
			sh := filepath.Join(t.TempDir(), parent)
			if err := exec.Command("cp", "/bin/sh", sh).Run(); err != nil {
				t.Fatal(err)
			}
			// Not the last command: the shell stays the parent.
			cmd = exec.Command(sh, "-c", `"$0"; exit $?`, bin)
		}
		cmd.Env = []string{reportVar + "=1", "PATH=" + os.Getenv("PATH")}
		if env != "" {
			cmd.Env = append(cmd.Env, env)
		}
		cmd.Stdin = stdin
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// The runtime's default in a process of its own, whatever this one got.
	def, _, _ := strings.Cut(report(t, "", nil, ""), " ")
	if def == "1" {
		t.Skip("the runtime's default GOMAXPROCS is 1 here: one P cannot be told from it")
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "1.0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sock, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	for _, tc := range []struct {
		name   string
		parent string // the name of a shell the binary runs under; "" for this test
		stdin  *os.File
		env    string
		want   string
	}{
		{"spawned by apache2", "apache2", sock, "", "1 apache"},
		{"spawned by a spawner not known", "", sock, "", "1 unknown"},
		{"spawned by lighttpd", "lighttpd", sock, "", def + " lighttpd"},
		{"GOMAXPROCS in the environment", "apache2", sock, "GOMAXPROCS=2", "2 apache"},
		{"no socket on fd 0", "apache2", nil, "", def + " apache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := report(t, tc.parent, tc.stdin, tc.env); got != tc.want {
				t.Errorf("GOMAXPROCS and spawner %q, want %q", got, tc.want)
			}
		})
	}
}
