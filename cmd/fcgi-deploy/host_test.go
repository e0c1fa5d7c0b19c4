package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/ftptest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// tool is this command, built once by TestMain; the tests run it as a
// user does, in the site's module (this repository) with a deploy.env.
var tool string

func TestMain(m *testing.M) {
	bin, cleanup := testenv.MustBuild("../fcgi-deploy")
	tool = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// host is a cPanel-style account on loopback, as in deploy/apache-fcgid:
// the site in ~user/public_html, served through mod_userdir by Apache +
// mod_fcgid, which runs it as the user through suEXEC.
type host struct {
	acct *ftptest.Account
	base string // http://127.0.0.1:PORT/~user
	site string // public_html on this machine, to check what the tool says
}

func startHost(t *testing.T) *host {
	acct := ftptest.NewAccount(t)
	a := apachetest.StartShared(t, filepath.Dir(acct.Home))
	h := &host{acct: acct, base: a.Base + "/~" + acct.Name, site: acct.PublicHTML()}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(h.site, "mysite.log"))
			t.Logf("public_html: %v\nmysite.log:\n%s", h.names(), b)
		}
	})
	return h
}

// names lists public_html, dot files included.
func (h *host) names() []string {
	entries, _ := os.ReadDir(h.site)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// wantPage fails t unless the guestbook's page answers 200 with want.
func (h *host) wantPage(t *testing.T, want string) {
	t.Helper()
	if code, body, err := testenv.Get(h.base + "/"); code != 200 || !strings.Contains(body, want) {
		t.Errorf("the page: %d %v, want 200 and %q:\n%s", code, err, want, body)
	}
}

// startLoad starts 4 clients on the guestbook's page, which must answer
// 200 with the page, of any version.
func (h *host) startLoad(t *testing.T) *testenv.Load {
	load := testenv.StartLoad(testenv.GetWant(h.base+"/", func(body string) bool { return strings.Contains(body, "Sign the guestbook") }))
	load.Await(t, 20)
	return load
}

// deployEnv writes the deploy.env a user would, for the protocol and port
// (with the account's password but for sftp) and extra lines, and returns
// its path.
func (h *host) deployEnv(t *testing.T, protocol string, port int, extra ...string) string {
	env := filepath.Join(t.TempDir(), "deploy.env")
	lines := append([]string{"DEPLOY_PROTOCOL=" + protocol, "DEPLOY_HOST=127.0.0.1", "DEPLOY_PORT=" + strconv.Itoa(port),
		"DEPLOY_USER=" + h.acct.Name, "DEPLOY_DIR=public_html", "DEPLOY_SITE_URL=" + h.base + "/"}, extra...)
	if protocol != "sftp" {
		lines = append(lines, "DEPLOY_PASSWORD="+h.acct.Password)
	}
	if err := os.WriteFile(env, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return env
}

// guestbookModule lays out examples/guestbook as a user's own module: its
// sources, templates (embedded in the binary) and site/ folder, with a
// go.mod that requires this repository, replaced by its directory. The
// tests edit it between deploys.
func guestbookModule(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src, dir := filepath.Join(root, "examples", "guestbook"), t.TempDir()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		switch {
		case d.IsDir() && d.Name() == "testdata":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		case strings.HasSuffix(rel, "_test.go"):
			return nil
		}
		return copyFile(p, filepath.Join(dir, rel))
	})
	if err == nil {
		err = copyFile(filepath.Join(root, "go.sum"), filepath.Join(dir, "go.sum"))
	}
	if err != nil {
		t.Fatal(err)
	}
	// This repository's requirements, so that go.sum holds every module.
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod = bytes.Replace(mod, []byte("module github.com/fcgi-hosting/fcgi\n"), []byte("module example.com/mysite\n"), 1)
	mod = fmt.Appendf(mod, "\nrequire github.com/fcgi-hosting/fcgi v0.0.0\n\nreplace github.com/fcgi-hosting/fcgi => %s\n", root)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o644)
	}
	return err
}

// edit replaces old by new in the file name of dir, once, and returns a
// function that puts old back.
func edit(t *testing.T, dir, name, old, new string) (undo func()) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil || !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s: %v, or no %q in it", name, err, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// deployCmd is the tool run with args in dir, as a user runs it in the
// site's module.
func deployCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	return cmd
}

// result is a run of the tool.
type result struct {
	code   int
	out    string // stdout and stderr
	took   time.Duration
	secsUp float64 // "live ..., N s after its upload", -1 if not said
}

// runDeploy runs the tool to its end in this repository, whose
// examples it deploys.
func runDeploy(t *testing.T, args ...string) result {
	t.Helper()
	return runDeployIn(t, "../..", args...)
}

// runDeployIn runs the tool to its end in dir.
func runDeployIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := deployCmd(dir, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r := result{out: string(out), took: time.Since(start), secsUp: -1}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`is live at \S+, ([0-9.]+) s after its upload`).FindStringSubmatch(r.out); m != nil {
		r.secsUp, _ = strconv.ParseFloat(m[1], 64)
	}
	t.Logf("fcgi-deploy %s: exit %d in %.1f s\n%s", strings.Join(args, " "), r.code, r.took.Seconds(), r.out)
	return r
}

// mtimes are the modification times of public_html's files, dot files
// included, to tell whether a run wrote anything: but for the site's log
// and database.
func (h *host) mtimes() map[string]time.Time {
	m := map[string]time.Time{}
	filepath.Walk(h.site, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(fi.Name(), "mysite.log") && !strings.HasPrefix(fi.Name(), "guestbook.db") {
			m[p] = fi.ModTime()
		}
		return nil
	})
	return m
}

// killWhenStaged runs the tool in dir and kills it (SIGKILL, by PID) once the
// host holds more than from bytes of mysite.fcgi.new: a connection cut
// half-way through the upload of the binary. It returns the bytes there.
func (h *host) killWhenStaged(t *testing.T, dir string, from int64, args ...string) int64 {
	t.Helper()
	cmd := deployCmd(dir, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	size := h.stagedSize
	var ended error
	testenv.WaitFor(t, fmt.Sprintf("mysite.fcgi.new to pass %d bytes", from), func() bool {
		select {
		case ended = <-exited:
			t.Fatalf("the deploy ended (%v) before it was cut:\n%s", ended, out.String())
		default:
		}
		return size() > from
	})
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	t.Logf("fcgi-deploy %s: killed with %d bytes of mysite.fcgi.new on the host\n%s", strings.Join(args, " "), size(), out.String())
	return size()
}

// stagedSize is the size of mysite.fcgi.new on the host, 0 without one.
func (h *host) stagedSize() int64 {
	fi, err := os.Stat(filepath.Join(h.site, "mysite.fcgi.new"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// listed reports whether public_html has name.
func (h *host) listed(name string) bool { return slices.Contains(h.names(), name) }
