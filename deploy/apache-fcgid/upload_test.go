package apachefcgid_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/ftptest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// sharedHost is a cPanel-style account on loopback: the site in
// ~user/public_html, served through mod_userdir by Apache + mod_fcgid,
// which runs it as the user through suEXEC, and vsftpd to upload to it.
type sharedHost struct {
	ftp  *ftptest.Server
	base string // http://127.0.0.1:PORT/~user
	site string // public_html
	log  string // the site's mysite.log
}

func startSharedHost(t *testing.T) *sharedHost {
	acct := ftptest.NewAccount(t)
	modules, conf := apachetest.Userdir(t, filepath.Dir(acct.Home))
	a := apachetest.Start(t, append([]string{"rewrite", "fcgid"}, modules...), `LogLevel warn fcgid:info
FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"
`+conf, nil)
	h := &sharedHost{ftp: ftptest.Start(t, acct), base: a.Base + "/~" + acct.Name, site: acct.PublicHTML()}
	h.log = filepath.Join(h.site, "mysite.log")
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		entries, _ := os.ReadDir(h.site)
		var names []string
		for _, e := range entries {
			info, _ := e.Info()
			names = append(names, fmt.Sprintf("%v %d %s", info.Mode(), info.Size(), e.Name()))
		}
		b, _ := os.ReadFile(h.log)
		t.Logf("public_html:\n%s\nmysite.log:\n%s\nsuexec.log, %s:\n%s", strings.Join(names, "\n"), b, acct.Name,
			suexecLog(acct.Name))
	})
	return h
}

// suexecLog returns the lines of suEXEC's own log about user: suEXEC
// writes why it refused a program there, never to the site's log.
func suexecLog(user string) string {
	b, _ := os.ReadFile("/var/log/apache2/suexec.log")
	var lines []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, user) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines[max(0, len(lines)-20):], "")
}

// version returns the build version the site's /info reports.
func (h *sharedHost) version() string {
	_, info, _ := testenv.Get(h.base + "/info")
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "version: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitLive waits until the site answers with version v and returns how
// long after since that took.
func (h *sharedHost) waitLive(t *testing.T, v string, since time.Time) float64 {
	t.Helper()
	testenv.WaitFor(t, "version "+v+" to serve", func() bool { return h.version() == v })
	return time.Since(since).Seconds()
}

// upload sends the local file to public_html/name, failing the test if
// the FTP server refuses it.
func (h *sharedHost) upload(t *testing.T, local, name string, args ...string) {
	t.Helper()
	if err := h.ftp.Upload(local, "public_html/"+name, args...); err != nil {
		t.Fatal(err)
	}
}

// sameFile reports whether the file at path holds what the file at want does.
func sameFile(path, want string) bool {
	a, errA := os.ReadFile(path)
	b, errB := os.ReadFile(want)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// startLoad starts 4 clients on the site's page; a request fails on a
// status other than 200 or a connection error.
func (h *sharedHost) startLoad(t *testing.T) *testenv.Load {
	load := testenv.StartLoad(testenv.GetWant(h.base+"/", func(string) bool { return true }))
	load.Await(t, 20)
	return load
}

// The site's own error pages, told apart from Apache's by their text.
const (
	site404 = "<h1>mysite: no such page</h1>\n"
	site500 = "<h1>mysite: something went wrong</h1>\n"
)

// distFolder lays out the site as `make dist` does (the binary, the
// .htaccess, settings, error pages, static files) in a new directory,
// with the examples/hello binary bin, and returns it and the files'
// paths, as an FTP client sends them.
func distFolder(t *testing.T, bin string) (string, []string) {
	dir := t.TempDir()
	ht, err := os.ReadFile("htaccess")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"mysite.fcgi": exe, ".htaccess": ht, "mysite.env": []byte("GREETING=Hello from the first upload\n"),
		"404.html": []byte(site404), "500.html": []byte(site500), "static/style.css": []byte("body{}")}
	os.Mkdir(filepath.Join(dir, "static"), 0o755)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, slices.Sorted(maps.Keys(files))
}

// versionsOf maps the PIDs with a "starting" line in the site log at path
// to the version their last one names: a process re-executed in place
// keeps its PID.
func versionsOf(path string) map[int]string {
	v := map[int]string{}
	for _, e := range testenv.ReadLog(path) {
		if e.Message == "starting" {
			v[e.PID] = e.Version
		}
	}
	return v
}

// rawLogLines returns the lines of the site log at path.
func rawLogLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(string(b), "\n")
}

// TestApacheFcgid_FTPUpload is a site's life on a cPanel-style host as its
// owner lives it with an FTP client (issue 18), from Debian's packages on
// loopback: Apache + mod_fcgid + suEXEC + userdir with cPanel's limited
// overrides, vsftpd with the umask of real hosts, and curl's FTP client.
// Each step after the first runs under 4 clients requesting the site, and
// logs a line with its figures: requests, failures, seconds to go live.
func TestApacheFcgid_FTPUpload(t *testing.T) {
	h := startSharedHost(t)
	v1 := testenv.BuildStamped(t, "../../examples/hello", "v1")
	ok := t.Run("1 first upload", func(t *testing.T) {
		dist, files := distFolder(t, v1)
		for _, name := range files {
			h.upload(t, filepath.Join(dist, name), name)
		}
		fi, err := os.Stat(filepath.Join(h.site, "mysite.fcgi"))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("mysite.fcgi arrived as %v %v, want 0644 as vsftpd's umask 022 gives", fi.Mode(), err)
		}
		// suEXEC refuses a program without the execute bit: Apache's own
		// page, and nothing in mysite.log.
		before, _, _ := testenv.Get(h.base + "/")
		if before != 500 {
			t.Errorf("before SITE CHMOD 755: %d, want suEXEC's refusal as a 500", before)
		}
		h.ftp.Quote(t, "SITE CHMOD 755 public_html/mysite.fcgi")
		secs := h.waitLive(t, "v1", time.Now())
		for path, want := range map[string]int{"/": 200, "/static/style.css": 200, "/mysite.env": 403, "/no/such/page": 404} {
			if code, body, err := testenv.Get(h.base + path); code != want || err != nil || (want == 404 && body != site404) {
				t.Errorf("%s: %d %q %v, want %d", path, code, body, err, want)
			}
		}
		t.Logf("step 1 (first upload of the dist folder, mysite.fcgi arrived %04o): %d before SITE CHMOD 755, live %.1f s after it",
			fi.Mode().Perm(), before, secs)
	})
	if !ok {
		return
	}
	ok = t.Run("2a upload over the running binary", func(t *testing.T) {
		load := h.startLoad(t)
		testenv.WaitFor(t, "a process of the site", func() bool { return len(siteProcesses(h.site)) > 0 })
		// What FileZilla does, and why updates are staged: the FTP server
		// opens the running program for writing, which Linux refuses
		// (ETXTBSY).
		err := h.ftp.Upload(v1, "public_html/mysite.fcgi")
		if err == nil || !strings.Contains(err.Error(), "553") {
			t.Errorf("uploading over the running mysite.fcgi: %v, want the server's 553", err)
		}
		if !sameFile(filepath.Join(h.site, "mysite.fcgi"), v1) {
			t.Error("the refused upload changed mysite.fcgi")
		}
		load.Await(t, 20)
		load.Stop(t, "in step 2a (STOR over the running mysite.fcgi refused with 553, the file unchanged)")
	})
	if !ok {
		return
	}
	ok = t.Run("3 settings edited", func(t *testing.T) {
		load := h.startLoad(t)
		env := filepath.Join(t.TempDir(), "mysite.env")
		os.WriteFile(env, []byte("GREETING=Edited over FTP\n"), 0o644)
		h.upload(t, env, "mysite.env")
		start := time.Now()
		testenv.WaitFor(t, "the edited greeting", func() bool { _, body, _ := testenv.Get(h.base + "/"); return body == "Edited over FTP\n" })
		secs := time.Since(start).Seconds()
		load.Await(t, 20)
		load.Stop(t, fmt.Sprintf("in step 3 (mysite.env edited over FTP, live %.1f s after its upload)", secs))
	})
	if !ok {
		return
	}
	t.Run("staged uploads", func(t *testing.T) {
		testStagedUploads(t, h)
	})
}

// testStagedUploads is steps 2, 4 and 5 of TestApacheFcgid_FTPUpload: new
// binaries uploaded as mysite.fcgi.new beside the running v1 (mode 0644,
// as FTP leaves them), which the running site proves and adopts.
func testStagedUploads(t *testing.T, h *sharedHost) {
	v2 := testenv.BuildStamped(t, "../../examples/hello", "v2")
	v3 := testenv.BuildStamped(t, "../../examples/hello", "v3")
	bad := testenv.BuildStamped(t, "../../internal/testenv/startpanic", "v-bad")
	bin := filepath.Join(h.site, "mysite.fcgi")
	listed := func(name string) bool { return slices.Contains(h.ftp.List(t, "public_html"), name) }

	load := h.startLoad(t)
	h.upload(t, v2, "mysite.fcgi.new")
	secs := h.waitLive(t, "v2", time.Now())
	testenv.WaitFor(t, "every process of the site to run v2", func() bool {
		pids, versions := siteProcesses(h.site), versionsOf(h.log)
		return len(pids) > 0 && !slices.ContainsFunc(pids, func(pid int) bool { return versions[pid] != "v2" })
	})
	if !sameFile(bin, v2) || listed("mysite.fcgi.new") {
		t.Error("mysite.fcgi is not the staged v2, or mysite.fcgi.new is still there")
	}
	load.Await(t, 20)
	load.Stop(t, fmt.Sprintf("in step 2 (v2 staged as mysite.fcgi.new, live %.1f s after its upload)", secs))

	load = h.startLoad(t)
	half := filepath.Join(t.TempDir(), "half")
	full, _ := os.ReadFile(v3)
	os.WriteFile(half, full[:len(full)/2], 0o644)
	mark := len(rawLogLines(h.log))
	h.upload(t, half, "mysite.fcgi.new")
	// Only once the site has looked at the settled half can its absence
	// from the log and from mysite.fcgi show that it was passed over.
	testenv.WaitFor(t, "mysite.log to say the half-uploaded mysite.fcgi.new is incomplete", func() bool {
		return slices.ContainsFunc(rawLogLines(h.log)[mark:], func(l string) bool {
			return strings.Contains(l, "mysite.fcgi.new") && strings.Contains(l, "cut short")
		})
	})
	if !sameFile(bin, v2) || listed("mysite.fcgi.rejected") || slices.Contains(slices.Collect(maps.Values(versionsOf(h.log))), "v3") {
		t.Fatal("the half-uploaded v3 was taken: mysite.fcgi changed, it was rejected, or it started")
	}
	// The FTP client resumes the upload where it stopped (SIZE, then APPE).
	h.upload(t, v3, "mysite.fcgi.new", "-C", "-")
	secs = h.waitLive(t, "v3", time.Now())
	if !sameFile(bin, v3) || listed("mysite.fcgi.rejected") {
		t.Error("mysite.fcgi is not the resumed v3, or a file was rejected")
	}
	load.Await(t, 20)
	load.Stop(t, fmt.Sprintf("in step 4 (v3 staged half, then resumed, live %.1f s after the resumed upload)", secs))

	load = h.startLoad(t)
	h.upload(t, bad, "mysite.fcgi.new")
	start := time.Now()
	testenv.WaitFor(t, "mysite.fcgi.rejected in the FTP listing", func() bool { return listed("mysite.fcgi.rejected") })
	secs = time.Since(start).Seconds()
	if v := h.version(); v != "v3" || !sameFile(bin, v3) || listed("mysite.fcgi.new") {
		t.Errorf("after the refusal the site serves %q, or mysite.fcgi changed, or mysite.fcgi.new is left", v)
	}
	if !testenv.Logged(h.log, func(e testenv.LogEntry) bool {
		return strings.HasPrefix(e.Message, "refused mysite.fcgi.new") && strings.Contains(e.Output, "conflicts with pattern")
	}) {
		t.Error(`mysite.log has no "refused mysite.fcgi.new" line with the binary's panic in its output`)
	}
	load.Await(t, 20)
	load.Stop(t, fmt.Sprintf("in step 5 (a binary that panics at start staged, refused %.1f s after its upload)", secs))
}

// TestApacheFcgid_BrokenUploadShowsSite500: when the program cannot run at
// all (uploaded but not yet chmod 755, deleted before a re-upload, cut
// short), Apache answers 500 itself. The .htaccess makes that the site's
// own 500.html (ErrorDocument 500, with the path of the directory it is
// in), at the root of ~user, in a subdirectory, and at a domain's root,
// while the application's own 500 pages pass unchanged. Without the line
// that answers 500 for a missing mysite.fcgi/, the front-controller
// rewrite loops until Apache gives up with a 500 no ErrorDocument serves.
func TestApacheFcgid_BrokenUploadShowsSite500(t *testing.T) {
	paths := []string{"", "some/page?x=1", "caf%C3%A9/a%20b%2B?q=%26%20"}
	t.Run("~user over FTP", func(t *testing.T) {
		h := startSharedHost(t)
		v1 := testenv.BuildStamped(t, "../../examples/hello", "v1")
		dist, files := distFolder(t, v1)
		tmp := t.TempDir()
		half, app500, debug := filepath.Join(tmp, "half"), filepath.Join(tmp, "500.html"), filepath.Join(tmp, "mysite.env")
		full, _ := os.ReadFile(v1)
		os.WriteFile(half, full[:len(full)/2], 0o644)
		os.WriteFile(app500, []byte("<h1>app: something went wrong</h1>\n"), 0o644)
		os.WriteFile(debug, []byte("DEBUG=true\n"), 0o644)
		for _, dir := range []string{"", "app/"} {
			for _, name := range files {
				h.upload(t, filepath.Join(dist, name), dir+name)
			}
			page := site500
			if dir != "" {
				h.upload(t, app500, dir+"500.html")
				page = "<h1>app: something went wrong</h1>\n"
			}
			bin := "public_html/" + dir + "mysite.fcgi"
			expect := func(state string) {
				t.Helper()
				for _, path := range paths {
					if code, body, err := testenv.Get(h.base + "/" + dir + path); code != 500 || body != page {
						t.Errorf("mysite.fcgi %s, /%s%s: %d %q %v; want 500 with the site's 500.html", state, dir, path, code, body, err)
					}
				}
			}
			expect("uploaded, not yet chmod 755")
			h.ftp.Quote(t, "DELE "+bin)
			expect("deleted")
			h.upload(t, half, dir+"mysite.fcgi")
			h.ftp.Quote(t, "SITE CHMOD 755 "+bin)
			expect("cut short")
			h.upload(t, v1, dir+"mysite.fcgi")
			h.ftp.Quote(t, "SITE CHMOD 755 "+bin)
			h.upload(t, debug, dir+"mysite.env")
			testenv.WaitFor(t, "the application's own DEBUG 500 page at /"+dir+"panic", func() bool {
				code, body, _ := testenv.Get(h.base + "/" + dir + "panic")
				return code == 500 && strings.Contains(body, "you asked for it")
			})
		}
	})
	// A domain's DocumentRoot, without suEXEC, and a subdirectory whose
	// name needs escaping in a URL (not a space: mod_fcgid splits the
	// program's path there); POST and HEAD get the page too.
	t.Run("domain root", func(t *testing.T) {
		a := startApache(t)
		const sub = "été/"
		a.installSite(sub)
		pages := [][2]string{{"", site500}, {sub, "<h1>été: something went wrong</h1>\n"}}
		for _, p := range pages {
			os.WriteFile(filepath.Join(a.www, p[0], "500.html"), []byte(p[1]), 0o644)
			os.WriteFile(filepath.Join(a.www, p[0], "mysite.env"), []byte("DEBUG=true\n"), 0o644)
		}
		full, err := os.ReadFile(helloBin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pages {
			dir, page := p[0], p[1]
			base := a.base + (&url.URL{Path: "/" + dir}).EscapedPath()
			bin := filepath.Join(a.www, dir, "mysite.fcgi")
			// A new file each time, as an upload makes: mod_fcgid never
			// runs it with a process of the one it replaces.
			put := func(b []byte, mode os.FileMode) {
				tmp := bin + ".part"
				os.WriteFile(tmp, b, mode)
				os.Chmod(tmp, mode)
				if err := os.Rename(tmp, bin); err != nil {
					t.Fatal(err)
				}
			}
			expect := func(state string) {
				t.Helper()
				a.chown()
				for _, path := range paths {
					if code, body, err := testenv.Get(base + path); code != 500 || body != page {
						t.Errorf("mysite.fcgi %s, GET /%s%s: %d %q %v; want 500 with the site's 500.html", state, dir, path, code, body, err)
					}
				}
				resp, err := http.Post(base+"form", "application/x-www-form-urlencoded", strings.NewReader("name=ann&text=hi"))
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 500 || string(b) != page {
						t.Errorf("mysite.fcgi %s, POST /%sform: %d %q; want 500 with the site's 500.html", state, dir, resp.StatusCode, b)
					}
				} else {
					t.Error(err)
				}
				if resp, err := http.Head(base); err != nil {
					t.Error(err)
				} else if resp.Body.Close(); resp.StatusCode != 500 {
					t.Errorf("mysite.fcgi %s, HEAD /%s: %d, want 500", state, dir, resp.StatusCode)
				}
			}
			put(full, 0o644)
			expect("mode 0644")
			os.Remove(bin)
			expect("missing")
			// Addressed directly: mod_rewrite ignores a rewrite to the
			// file the path already names (the emulation does the same).
			if code, _, err := testenv.Get(base + "mysite.fcgi/x"); code != 404 {
				t.Errorf("mysite.fcgi missing, GET /%smysite.fcgi/x: %d %v; want 404", dir, code, err)
			}
			put(full[:len(full)/2], 0o755)
			expect("cut short")
			put(full, 0o755)
			a.chown()
			testenv.WaitFor(t, "the application's own DEBUG 500 page at /"+dir+"panic", func() bool {
				code, body, _ := testenv.Get(base + "panic")
				return code == 500 && strings.Contains(body, "you asked for it")
			})
		}
	})
}
