package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/ftptest"
	"github.com/fcgi-hosting/fcgi/internal/sshtest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// TestDeploy_FTP is issue 19's proof over FTP (vsftpd with the umask of
// real hosts) to Apache + mod_fcgid + suEXEC + userdir on loopback.
func TestDeploy_FTP(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	ftp := ftptest.Start(t, h.acct)
	// A second server for the same account, slow enough to cut an upload
	// of the binary half-way.
	slow := ftptest.StartWith(t, h.acct, ftptest.Options{MaxRate: 1 << 20})
	testDeploys(t, h, h.deployEnv(t, "ftp", ftp.Port()), "-config", h.deployEnv(t, "ftp", slow.Port()))
}

// TestDeploy_PureFTPd is the same over FTP with pure-ftpd, as cPanel hosts
// run it: chrooted, dot files hidden from listings. Its resumed uploads go
// to a temporary name and are renamed back when they end.
func TestDeploy_PureFTPd(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	ftp := ftptest.StartPureFTPd(t, h.acct, ftptest.Options{})
	slow := ftptest.StartPureFTPd(t, h.acct, ftptest.Options{MaxRate: 1 << 20})
	testDeploys(t, h, h.deployEnv(t, "ftp", ftp.Port()), "-config", h.deployEnv(t, "ftp", slow.Port()))
}

// TestDeploy_PureFTPdRefusals runs the tool against pure-ftpd configured
// against what it needs: dot files (-X: not read, -x: not written) and
// renames (-G). It stops with a word on the setting, and the site's files
// stay as they were.
func TestDeploy_PureFTPdRefusals(t *testing.T) {
	t.Parallel()
	acct := ftptest.NewAccount(t)
	h := &host{acct: acct, base: "http://127.0.0.1:1/~" + acct.Name, site: acct.PublicHTML()}
	htaccess := filepath.Join(h.site, ".htaccess")
	if err := os.WriteFile(htaccess, []byte("# the site's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(htaccess, acct.UID, acct.GID)
	for _, tc := range []struct{ flag, want string }{
		{"-X", "ProhibitDotFilesRead"},
		{"-x", "ProhibitDotFilesWrite"},
		{"-G", "NoRename"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			s := ftptest.StartPureFTPd(t, acct, ftptest.Options{}, tc.flag)
			r := runDeploy(t, "-config", h.deployEnv(t, "ftp", s.Port()), "-version", "v1", "-no-wait", "./examples/hello")
			if r.code != 1 || !strings.Contains(r.out, tc.want) {
				t.Errorf("exit %d, want 1 and %q", r.code, tc.want)
			}
			if b, _ := os.ReadFile(htaccess); string(b) != "# the site's\n" {
				t.Errorf(".htaccess is now %q", b)
			}
			if h.listed("mysite.fcgi") || h.listed("mysite.fcgi.new") {
				t.Error("a binary was uploaded")
			}
		})
	}
}

// TestDeploy_FTPS is the same over FTP with explicit TLS (vsftpd requiring
// AUTH TLS and PROT P, a throwaway self-signed certificate). A certificate
// that does not verify stops the tool before it logs in, unless
// DEPLOY_INSECURE_TLS says to accept it, which it warns about. The server
// reads at 8 MB/s, so megabytes of an upload are still in flight when the
// tool closes the data connection: over TLS 1.3 a close that reset the
// connection lost them (vsftpd: "426 Failure reading network stream").
func TestDeploy_FTPS(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	ftps := ftptest.StartWith(t, h.acct, ftptest.Options{TLS: true, MaxRate: 8 << 20})
	strict := runDeploy(t, "-config", h.deployEnv(t, "ftps", ftps.Port()), "-version", "v0", "./examples/hello")
	if strict.code != 1 || !strings.Contains(strict.out, "certificate") || h.listed("mysite.fcgi") {
		t.Fatalf("a self-signed certificate: exit %d, want 1 and a word on the certificate, nothing uploaded", strict.code)
	}
	env := h.deployEnv(t, "ftps", ftps.Port(), "DEPLOY_INSECURE_TLS=true")
	testDeploys(t, h, env, "-config", env, "-limit-rate", "1M")
}

// TestDeploy_SFTP is the same over SFTP: OpenSSH's sshd and sftp-server,
// key authentication, the host's key checked against a known_hosts file.
// The cut upload is slowed down by the tool's own -limit-rate.
func TestDeploy_SFTP(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	s := sshtest.Start(t, h.acct)
	env := h.deployEnv(t, "sftp", s.Port, "DEPLOY_SSH_KEY="+s.Key, "DEPLOY_KNOWN_HOSTS="+s.KnownHosts)
	testDeploys(t, h, env, "-config", env, "-limit-rate", "1M")
}

// testDeploys runs a site's life through the tool, with deploy settings
// env, and the settings slow (flags) for an upload slow enough to cut. The
// site is the guestbook in a module of the user's (guestbookModule): a
// first deploy; a new template and the code it calls, and a new
// stylesheet, under 4 clients; a deploy with nothing changed; code that
// panics at start; and a deploy cut half-way then run again. Each step
// logs its figures: requests, failures, seconds to live.
func testDeploys(t *testing.T, h *host, env string, slow ...string) {
	mod := guestbookModule(t)
	settings := filepath.Join(t.TempDir(), "mysite.env")
	os.WriteFile(settings, []byte("DATABASE=guestbook.db\n"), 0o644)
	deployArgs := func(version string, extra ...string) []string {
		return append([]string{"-config", env, "-version", version}, extra...)
	}
	const firstFooter, secondFooter = "<footer>Served by a Go binary", "<footer>Second edition: served by a Go binary"

	ok := t.Run("1 first deploy", func(t *testing.T) {
		r := runDeployIn(t, mod, deployArgs("v1", "-settings", settings)...)
		if r.code != 0 || !strings.Contains(r.out, "v1 is live") {
			t.Fatalf("exit %d, want 0 and v1 live", r.code)
		}
		// The report is true: live when the tool says so, not later.
		h.wantPage(t, firstFooter)
		if code, body, _ := testenv.Get(h.base + "/static/style.css"); code != 200 || !strings.Contains(body, "form.sign") {
			t.Errorf("/static/style.css: %d %q, want site/static/style.css", code, body)
		}
		for _, secret := range []string{"/mysite.env", "/" + manifestName, "/mysite.log", "/guestbook.db"} {
			if code, _, _ := testenv.Get(h.base + secret); code != 403 {
				t.Errorf("%s: %d, want 403 from the .htaccess", secret, code)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(h.site, "mysite.env")); string(b) != "DATABASE=guestbook.db\n" {
			t.Errorf("mysite.env on the host: %q, want the one given with -settings, not site/mysite.env", b)
		}
		fi, err := os.Stat(filepath.Join(h.site, "mysite.fcgi"))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("mysite.fcgi: %v %v, want mode 755", fi.Mode(), err)
		}
		if strings.Contains(r.out, h.acct.Password) {
			t.Error("the output shows the password")
		}
		t.Logf("step 1 (first deploy): live %.1f s after the upload, %.1f s in all", r.secsUp, r.took.Seconds())
	})
	if !ok {
		return
	}

	ok = t.Run("2 new template and code under load", func(t *testing.T) {
		// The templates are embedded: a new one comes with a new binary.
		edit(t, mod, "templates/layout.html", "<footer>Served by", "<footer>{{edition}}: served by")
		edit(t, mod, "guestbook.go", `"url": hosting.URL,`, `"url": hosting.URL, "edition": func() string { return "Second edition" },`)
		edit(t, mod, "site/static/style.css", "}", "}\nfooter { color: gray; }")
		load := h.startLoad(t)
		r := runDeployIn(t, mod, deployArgs("v2")...)
		if r.code != 0 || !strings.Contains(r.out, "v2 is live") {
			t.Fatalf("exit %d, want 0 and v2 live", r.code)
		}
		h.wantPage(t, secondFooter)
		if _, body, _ := testenv.Get(h.base + "/static/style.css"); !strings.Contains(body, "footer { color: gray; }") {
			t.Errorf("static/style.css: %q, want the new one", body)
		}
		for _, want := range []string{"uploaded static/style.css (", "uploaded mysite.fcgi as mysite.fcgi.new"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		if strings.Contains(r.out, "uploaded 404.html") || h.listed("mysite.fcgi.new") {
			t.Error("an unchanged file was uploaded, or mysite.fcgi.new is left")
		}
		load.Await(t, 20)
		load.Stop(t, fmt.Sprintf("in step 2 (v2: a new template, the code it calls and a new stylesheet deployed, live %.1f s after the upload, %.1f s in all)", r.secsUp, r.took.Seconds()))
	})
	if !ok {
		return
	}

	ok = t.Run("3 nothing changed", func(t *testing.T) {
		before := h.mtimes()
		r := runDeployIn(t, mod, deployArgs("v2")...)
		if r.code != 0 || !strings.Contains(r.out, "nothing uploaded") {
			t.Errorf("exit %d, want 0 and nothing uploaded", r.code)
		}
		after := h.mtimes()
		for p, m := range after {
			if !before[p].Equal(m) {
				t.Errorf("%s was written", p)
			}
		}
		if len(after) != len(before) {
			t.Errorf("files on the host: %d before, %d after", len(before), len(after))
		}
		t.Logf("step 3 (nothing changed): nothing uploaded, %.1f s", r.took.Seconds())
	})
	if !ok {
		return
	}

	ok = t.Run("4 code that panics at start", func(t *testing.T) {
		// The same route twice: http.ServeMux panics as the site starts.
		undo := edit(t, mod, "guestbook.go", `s.mux.HandleFunc("POST /{$}", s.post)`, `s.mux.HandleFunc("POST /{$}", s.post)
	s.mux.HandleFunc("GET /{$}", s.list)`)
		load := h.startLoad(t)
		r := runDeployIn(t, mod, deployArgs("v-bad")...)
		undo()
		if r.code != 1 {
			t.Errorf("exit %d, want 1", r.code)
		}
		for _, want := range []string{"REFUSED", "previous version keeps serving", "conflicts with pattern", "mysite.fcgi.rejected"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		h.wantPage(t, secondFooter)
		load.Await(t, 20)
		load.Stop(t, fmt.Sprintf("in step 4 (code that panics at start, refused; the tool said so %.1f s after it began)", r.took.Seconds()))
	})
	if !ok {
		return
	}

	t.Run("5 cut half-way, then again", func(t *testing.T) {
		edit(t, mod, "guestbook.go", `"Second edition"`, `"Third edition"`)
		load := h.startLoad(t)
		n := h.killWhenStaged(t, mod, 1<<20, append(append([]string{}, slow...), "-version", "v3")...)
		if !h.listed("mysite.fcgi.new") {
			t.Error("no partial mysite.fcgi.new is on the host after the cut")
		}
		h.wantPage(t, secondFooter)
		partial := h.stagedSize()
		start := time.Now()
		r := runDeployIn(t, mod, deployArgs("v3")...)
		if r.code != 0 || !strings.Contains(r.out, "v3 is live") {
			t.Fatalf("exit %d, want 0 and v3 live", r.code)
		}
		// The rerun resumes the partial file: it sends what is missing.
		if !strings.Contains(r.out, ", resumed at ") {
			t.Errorf("%d bytes of mysite.fcgi.new were on the host before the rerun, which sent the whole file", partial)
		}
		h.wantPage(t, "<footer>Third edition: served by")
		if h.listed("mysite.fcgi.rejected") {
			t.Error("the resumed binary was refused")
		}
		load.Await(t, 20)
		load.Stop(t, fmt.Sprintf("in step 5 (cut once %d bytes of mysite.fcgi.new had arrived; the rerun resumed it, live %.1f s after its upload, %.1f s after the rerun began)",
			n, r.secsUp, time.Since(start).Seconds()))
	})
}
