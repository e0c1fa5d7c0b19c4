package emulate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// devSite lays out examples/hello with the shipped .htaccess and the
// shipped settings files, examples/hello/site/mysite.env and
// mysite.dev.env, and returns its directory.
func devSite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{"../../deploy/apache-fcgid/htaccess": ".htaccess", helloBin: "mysite.fcgi",
		"../../examples/hello/site/mysite.env": "mysite.env", "../../examples/hello/site/mysite.dev.env": "mysite.dev.env"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The shipped mysite.env says DEBUG=false, what the host must run with;
// locally the development file beside it turns DEBUG on, as long as the
// process environment does not say otherwise, and a mistake in it is
// reported with its own name and line.
func TestEmulator_DevSettings(t *testing.T) {
	shipped, err := os.ReadFile("../../examples/hello/site/mysite.env")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains("\n"+string(shipped), "\nDEBUG=false\n") {
		t.Fatalf("examples/hello/site/mysite.env does not say DEBUG=false:\n%s", shipped)
	}
	const debugPage = "you asked for it" // the panic's value, on the DEBUG page only
	for _, tc := range []struct {
		name     string
		dev      string // "" keeps the shipped mysite.dev.env; "-" removes it
		env      []string
		debug    bool
		greeting string
		logged   string
	}{
		{name: "the shipped development file turns DEBUG on", debug: true, greeting: "Hello from the local emulation (mysite.dev.env)\n"},
		{name: "without it, the shipped settings", dev: "-", greeting: "Hello from mysite.env\n"},
		{name: "what it does not set comes from mysite.env", dev: "DEBUG=on\n", debug: true, greeting: "Hello from mysite.env\n"},
		{name: "the environment wins over both", env: []string{"DEBUG=false", "GREETING=from the environment"},
			greeting: "from the environment\n"},
		{name: "a mistake in it names it and its line", dev: "# local\nDEBUG=yes please\n",
			logged: `mysite.dev.env:2: DEBUG: want true or false, got \"yes please\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := devSite(t)
			dev := filepath.Join(dir, "mysite.dev.env")
			switch tc.dev {
			case "":
			case "-":
				os.Remove(dev)
			default:
				os.WriteFile(dev, []byte(tc.dev), 0o644)
			}
			log := &syncWriter{}
			base := serveSite(t, &Emulator{Root: dir, Env: append([]string{"LOG_FILE=stderr"}, tc.env...), Log: log})
			code, body, err := testenv.Get(base + "/panic")
			if err != nil || code != 500 || strings.Contains(body, debugPage) != tc.debug {
				t.Errorf("GET /panic: %d %v, DEBUG page %v, want 500 and %v:\n%s", code, err, !tc.debug, tc.debug, body)
			}
			if tc.logged != "" {
				if !testenv.Eventually(func() bool { return strings.Contains(log.String(), tc.logged) }) {
					t.Errorf("the log does not say %s:\n%s", tc.logged, log.String())
				}
				return
			}
			if code, body, err := testenv.Get(base + "/"); code != 200 || body != tc.greeting {
				t.Errorf("GET /: %d %q %v, want %q", code, body, err, tc.greeting)
			}
		})
	}
}

// An edit of the development file reaches the running site, as an edit
// of mysite.env does.
func TestEmulator_DevSettingsReload(t *testing.T) {
	dir := devSite(t)
	base := serveSite(t, &Emulator{Root: dir, Env: []string{"LOG_FILE=stderr"}})
	if _, body, _ := testenv.Get(base + "/"); body != "Hello from the local emulation (mysite.dev.env)\n" {
		t.Fatalf("GET /: %q, want the development file's greeting", body)
	}
	if err := os.WriteFile(filepath.Join(dir, "mysite.dev.env"), []byte("GREETING=edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the edited greeting", func() bool {
		_, body, _ := testenv.Get(base + "/")
		return body == "edited\n"
	})
}
