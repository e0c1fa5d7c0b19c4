package emulate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
)

// apacheAnswers are requests, sent exactly as written, and what Apache
// 2.4 with Debian's stock configuration (debianStock) and the shipped
// .htaccess answers for the site of layoutAnswers. Apache normalises the
// path before it maps it (dot segments, %-escaped unreserved characters,
// double slashes), refuses one that climbs above the root, redirects a
// directory named without its slash (mod_dir, with the query, even where
// a rule sends the rest to the application), and refuses a protected
// name however it is spelt. mod_rewrite refuses to rewrite a path with
// an encoded question mark (403); one no rule rewrites is served. The
// application answers the rest; it sees the request-target as sent, so
// its own router redirects /static/.. .
var apacheAnswers = []struct {
	path     string
	status   int
	location string
}{
	{path: "/static/../404.html", status: 200},
	{path: "/static/%2e%2e/404.html", status: 200},
	{path: "/static/./style.css", status: 200},
	{path: "//static//style.css", status: 200},
	{path: "/st%61tic/style.css", status: 200},
	{path: "/../404.html", status: 400},
	{path: "/%2e%2e/404.html", status: 400},
	{path: "/a/../../404.html", status: 400},
	{path: "/docs", status: 301, location: "http://localhost/docs/"},
	{path: "/docs?x=1&y=%20", status: 301, location: "http://localhost/docs/?x=1&y=%20"},
	{path: "/empty?q", status: 301, location: "http://localhost/empty/?q"},
	{path: "/app", status: 301, location: "http://localhost/app/"},
	{path: "/static/../docs", status: 301, location: "http://localhost/docs/"},
	{path: "/docs/", status: 404},
	{path: "/static/..", status: 307, location: "/"},
	{path: "/mysite.fcgi/x/../y", status: 307, location: "/mysite.fcgi/y"}, // the router's redirect, below the script
	{path: "/mysite.env", status: 403},
	{path: "/mysite.env?x=1", status: 403},
	{path: "/mysite.env/", status: 403},
	{path: "/mysite.env/x", status: 403},
	{path: "/mysite%2eenv", status: 403},
	{path: "/%6dysite.env", status: 403},
	{path: "/./mysite.env", status: 403},
	{path: "/%2e/mysite.env", status: 403},
	{path: "//mysite.env", status: 403},
	{path: "/app/../mysite.env", status: 403},
	{path: "/nodir/../mysite.env", status: 403},
	{path: "/a/b/../../mysite.env", status: 403},
	{path: "/mysite.fcgi/../mysite.env", status: 403},
	{path: "/app/%2e%2e/mysite.log", status: 403},
	{path: "/static/.htaccess", status: 403},
	{path: "/.mysite.env.swp", status: 403},
	{path: "/mysite.env.1", status: 403},
	{path: "/app/mysite.env~", status: 403},
	{path: "/.pureftpd-upload.5f3a9c1e.mysite.fcgi.new", status: 403},
	{path: "/static/style.css.filepart", status: 403},
	{path: "/mysite.env#x", status: 400},
	{path: "/app/%2e%2e/%2e%2e/mysite.env", status: 400},
	{path: "/mysite.env%00", status: 404},
	{path: "/mysite.env%2f", status: 404},
	{path: "/app/..%2fmysite.env", status: 404},
	{path: "/MYSITE.ENV", status: 404},
	{path: "/mysite.env%20", status: 404},
	{path: "/mysite.env.", status: 404},
	{path: "/mysite.env;x", status: 404},
	{path: "/style.css?q=a%3Fb", status: 200},
	// The deploy rule rewrites without path info, so an encoded question
	// mark never becomes one in the rewritten URL: the application answers.
	{path: "/static/style%3f.css", status: 404},
	{path: "/x%3Fy", status: 404},
	{path: "/mysite.fcgi/a%3Fb", status: 404},
}

// layoutAnswers is layoutRefused's site with a 404.html, a static/ and a
// docs/ directory with files, and an empty directory.
func layoutAnswers(t *testing.T, dir string) {
	layoutRefused(t, dir)
	for _, d := range []string{"static", "docs", "empty"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{"404.html": "<h1>not found</h1>\n", "static/style.css": "body{}", "docs/index.html": "<h1>docs</h1>\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// debianStock is what Debian 12's apache2 configures by default that
// changes the answers: mod_dir's DirectoryIndex, mod_reqtimeout's
// RequestReadTimeout, and the .ht* refusal of apache2.conf (mod_fcgid's
// files are kept under the test's ServerRoot).
const debianStock = `FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"
DirectoryIndex index.html index.cgi index.pl index.php index.xhtml index.htm
<FilesMatch "^\.ht">
    Require all denied
</FilesMatch>
`

// debianModules are the modules of debianStock, with those the site needs.
var debianModules = []string{"rewrite", "fcgid", "dir", "reqtimeout"}

func checkAnswers(t *testing.T, base string) {
	t.Helper()
	for _, tc := range apacheAnswers {
		resp, _ := rawGet(t, base, tc.path)
		if loc := resp.Header.Get("Location"); resp.StatusCode != tc.status || loc != tc.location {
			t.Errorf("GET %s: %d, Location %q; want %d, Location %q", tc.path, resp.StatusCode, loc, tc.status, tc.location)
		}
	}
}

func TestEmulator_AnswersAsApache(t *testing.T) {
	dir := t.TempDir()
	layoutAnswers(t, dir)
	checkAnswers(t, serveSite(t, &Emulator{Root: dir}))
}

// TestApache_AsEmulated proves apacheAnswers, sizeCases and timeoutCases
// on one Apache + mod_fcgid with Debian's stock configuration, its
// timeouts shortened by shortTimeouts.
func TestApache_AsEmulated(t *testing.T) {
	a := apachetest.Start(t, debianModules, debianStock+shortTimeouts, func(a *apachetest.Apache) { layoutAnswers(t, a.WWW) })
	t.Run("answers", func(t *testing.T) { checkAnswers(t, a.Base) })
	t.Run("sizes", func(t *testing.T) { checkSizes(t, strings.TrimPrefix(a.Base, "http://")) })
	t.Run("timeouts", func(t *testing.T) { checkTimeouts(t, strings.TrimPrefix(a.Base, "http://")) })
}
