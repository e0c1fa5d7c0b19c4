package emulate

import (
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
)

// Back-references compare parts of a test string, as Apache's PCRE does;
// Go's regexp has none.
func TestPattern_Backrefs(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       []string // nil: no match
	}{
		{`^(.*)#(.*)\1$`, "some/page#/~ann/some/page", []string{"some/page#/~ann/some/page", "some/page", "/~ann/"}},
		{`^(.*)#(.*)\1$`, "#/", []string{"#/", "", "/"}},
		{`^(.*)#(.*)\1$`, "a#b#/x/a#b", []string{"a#b#/x/a#b", "a#b", "/x/"}},
		{`^(.*)#(.*)\1$`, "page#/other", nil},
		{`^(.*)#(.+)\1$`, "page#/x/page", []string{"page#/x/page", "page", "/x/"}},
		{`(a+)b\1`, "xxaabaay", []string{"aabaa", "aa"}},
		{`(?i)^(a)\1$`, "aA", []string{"aA", "a"}},
		{`^(x)?y\1$`, "y", nil}, // an unset group matches nothing
		{`^(.*)/(.*)::\2$`, "/app/x::x", []string{"/app/x::x", "/app", "x"}},
		{`^([^\1]*)-\1$`, "ab-ab", []string{"ab-ab", "ab"}}, // in a class \1 is no back-reference
		{`^(é+)\1$`, "éééé", []string{"éééé", "éé"}},
	} {
		re, err := compilePattern(tc.pattern)
		if err != nil {
			t.Errorf("%s: %v", tc.pattern, err)
			continue
		}
		if got := re.FindStringSubmatch(tc.s); !slices.Equal(got, tc.want) {
			t.Errorf("%s on %q: %q, want %q", tc.pattern, tc.s, got, tc.want)
		}
	}
	for _, bad := range []string{`(a)\2`, `\1`, `(a`} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("%s: compiled, want an error", bad)
		}
	}
}

// A hostile test string ends the match within the step limit, unmatched.
func TestPattern_Bounded(t *testing.T) {
	re, _ := compilePattern(`^(.*)#(.*)\1$`)
	if re.FindStringSubmatch(strings.Repeat("#a", 4000)+"#/") != nil {
		t.Error("matched, want the step limit to stop it")
	}
}

// FuzzPattern: on patterns Go's regexp takes, the backtracking matcher
// finds what it finds, with the same groups (both are leftmost-first).
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{{`^(.*)#(.*)$`, "a#b"}, {`(a|ab)(c|bcd)(d*)`, "abcd"}, {`(?i)x(y+?)z`, "XYYZ"},
		{`^\b\w+\B.$`, "word"}, {`(a*)*b`, "aab"}, {`(?m)^a$`, "b\na\n"}, {`[^\n]{2,3}?.`, "abcd"}, {`é|e`, "\xffé"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		re, err := regexp.Compile(p)
		if err != nil || len(s) > 64 {
			return
		}
		parsed, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			t.Fatalf("regexp takes %q, syntax does not: %v", p, err)
		}
		bt := &backtracker{re: parsed.Simplify(), ncap: parsed.MaxCap()}
		got, steps := bt.submatch(s)
		if steps > matchLimit {
			return
		}
		want := re.FindStringSubmatch(s)
		if (got == nil) != (want == nil) || (got != nil && got[0] != want[0]) {
			t.Fatalf("%q on %q: %q, regexp finds %q", p, s, got, want)
		}
	})
}

// The lines of the shipped .htaccess, in the directory of a site at a
// domain's root and under ~user: each request that names no file goes to
// mysite.fcgi, without path info; the rewritten request (for mysite.fcgi)
// stays as it is, or is a 500 when the program is missing; and the
// ErrorDocument of that request is the 500.html beside the program.
func TestHtaccess_Shipped(t *testing.T) {
	h, err := parseHtaccess("../../deploy/apache-fcgid/htaccess")
	if err != nil || len(h.warnings) > 0 {
		t.Fatalf("%v %q", err, h.warnings)
	}
	site := t.TempDir()
	os.WriteFile(filepath.Join(site, "file"), nil, 0o755)
	for _, tc := range []struct {
		dir, path, redirectStatus string
		exists                    bool
		uri                       string // where the rules send the request
		status                    int
	}{
		{dir: "/", path: "/some/page", uri: "/mysite.fcgi"},
		{dir: "/", path: "/", uri: "/mysite.fcgi"},
		{dir: "/~ann/", path: "/~ann/some/page", uri: "/~ann/mysite.fcgi"},
		{dir: "/~ann/app/", path: "/~ann/app/a#b/$1/é x?%2F", uri: "/~ann/app/mysite.fcgi"},
		{dir: "/~ann/", path: "/~ann/style.css", exists: true, uri: "/~ann/style.css"},
		// The rewritten request, and the program addressed directly.
		{dir: "/~ann/", path: "/~ann/mysite.fcgi", redirectStatus: "200", exists: true, uri: "/~ann/mysite.fcgi"},
		{dir: "/~ann/", path: "/~ann/mysite.fcgi/page", exists: true, uri: "/~ann/mysite.fcgi/page"},
		// A % in the program's path info: refused (the ErrorDocument).
		{dir: "/~ann/", path: "/~ann/mysite.fcgi/%2e%2e/x", exists: true, status: 403},
		// The program is missing: a 500, not a 404.
		{dir: "/~ann/", path: "/~ann/mysite.fcgi", redirectStatus: "200", status: 500},
		// Apache's own request for the 500.html the site lacks.
		{dir: "/~ann/", path: "/~ann/500.html", redirectStatus: "500", uri: "/~ann/500.html"},
		{dir: "/~ann/", path: "/~ann/500.html", redirectStatus: "200", uri: "/~ann/mysite.fcgi"},
	} {
		filename := filepath.Join(site, "missing")
		if tc.exists {
			filename = filepath.Join(site, "file")
		}
		v := &rewriteVars{r: httptest.NewRequest("GET", "/", nil), uri: tc.path, filename: filename, env: map[string]string{}}
		if tc.redirectStatus != "" {
			v.env["REDIRECT_STATUS"] = tc.redirectStatus
		}
		res := h.apply(v, strings.TrimSuffix(tc.dir, "/"), strings.TrimPrefix(tc.path, tc.dir))
		if res.status != tc.status || (tc.status == 0 && res.uri != tc.uri) {
			t.Errorf("%s in %s: status %d, to %q; want %d, %q", tc.path, tc.dir, res.status, res.uri, tc.status, tc.uri)
		}
	}
	for _, dir := range []string{"/", "/~ann/", "/~ann/été/"} {
		v := &rewriteVars{uri: dir + "mysite.fcgi"}
		if doc := v.expr(h.errorDocs[500]); path.Clean(doc) != dir+"500.html" {
			t.Errorf("ErrorDocument 500 for %smysite.fcgi: %s, which Apache takes for %s", dir, doc, path.Clean(doc))
		}
	}
}

// The syntax the shipped lines use, alone: E= (and E=!), comparisons,
// back-references in a RewriteCond's test string, R= with an error code.
func TestHtaccess_Rules(t *testing.T) {
	for _, tc := range []struct {
		name, htaccess, path string
		env                  map[string]string // after the rules; with "-" in wants what is unset
		status               int
	}{
		{"E= with a condition's group", "RewriteCond %{REQUEST_URI} ^/(\\w+)\nRewriteRule ^ - [E=FIRST:%1,E=RULE:$0]\n", "/abc/d",
			map[string]string{"FIRST": "abc", "RULE": ""}, 0},
		{"E=! unsets", "RewriteRule ^ - [E=A:1]\nRewriteRule ^ - [E=!A]\n", "/x", map[string]string{"A": "-"}, 0},
		{"= compares", "RewriteCond %{ENV:A} =1\nRewriteRule ^ - [E=B:yes]\nRewriteRule ^ - [E=A:1]\n", "/x",
			map[string]string{"A": "1", "B": "-"}, 0},
		{"= empty", "RewriteCond %{ENV:A} =\"\"\nRewriteRule ^ - [E=B:empty]\n", "/x", map[string]string{"B": "empty"}, 0},
		{"!= and NC", "RewriteCond %{REQUEST_URI} !=/X [NC]\nRewriteRule ^ - [E=B:other]\n", "/x", map[string]string{"B": "-"}, 0},
		{"a value is not expanded again", "RewriteRule ^(.*)$ - [E=P:$1]\nRewriteCond %{ENV:P} ^(.*)$\nRewriteRule ^ - [E=Q:%1]\n",
			"/a$1%1b", map[string]string{"P": "a$1%1b", "Q": "a$1%1b"}, 0},
		{"backslash", "RewriteRule ^ - [E=A:\\$1]\n", "/x", map[string]string{"A": "$1"}, 0},
		{"R=503", "RewriteRule ^down - [R=503,E=WHY:maintenance]\nRewriteRule ^ - [E=NOT:reached]\n", "/down",
			map[string]string{"WHY": "maintenance", "NOT": "-"}, 503},
	} {
		h, err := readHtaccess("site/.htaccess", strings.NewReader(tc.htaccess))
		if err != nil || len(h.warnings) > 0 {
			t.Errorf("%s: %v %q", tc.name, err, h.warnings)
			continue
		}
		v := &rewriteVars{r: httptest.NewRequest("GET", tc.path, nil), uri: tc.path, filename: "/nonexistent" + tc.path, env: map[string]string{}}
		res := h.apply(v, "", strings.TrimPrefix(tc.path, "/"))
		for k, want := range tc.env {
			if got, ok := v.env[k]; (want == "-" && ok) || (want != "-" && got != want) {
				t.Errorf("%s: %s=%q (set: %v), want %q", tc.name, k, got, ok, want)
			}
		}
		if res.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, res.status, tc.status)
		}
	}
	for _, bad := range []string{"RewriteRule ^ - [E=]", "RewriteRule ^ - [R=999]", "RewriteCond x -eq\nRewriteRule ^ -",
		"ErrorDocument 500 /%{md5:x}.html"} {
		if h, _ := readHtaccess("site/.htaccess", strings.NewReader(bad)); len(h.warnings) == 0 {
			t.Errorf("%q: no warning", bad)
		}
	}
}

// The B flag escapes the back-references put in the substitution: all but
// letters and digits, or only the characters listed; a space as + unless
// BNP. Without it a "?" a back-reference puts in is refused, as Apache
// 2.4.56+ does.
func TestRewriteRule_EscapeBackrefs(t *testing.T) {
	for _, tc := range []struct {
		flags, rel, uri string
		status          int
	}{
		{"[QSA]", "q", "/app/x/q", 0}, // a "?" of the query string is no back-reference
		{"[B]", "a b/é?", "/app/x/a+b%2f%c3%a9%3f", 0},
		{"[B,BNP]", "a b", "/app/x/a%20b", 0},
		{"[B=?%#]", "a b/é?%#", "/app/x/a b/é%3f%25%23", 0},
		{"[B=?%#]", "plain/path", "/app/x/plain/path", 0},
		{"[L]", "a?b", "", 403},
		{"[L]", "a%b", "/app/x/a%b", 0},
	} {
		r, unknown, err := parseRule([]string{"^(.*)$", "x/$1?%{QUERY_STRING}", tc.flags})
		if err != nil || len(unknown) > 0 {
			t.Fatalf("%s: %v %q", tc.flags, err, unknown)
		}
		h := &htaccess{rules: []*rewriteRule{r}}
		v := &rewriteVars{r: httptest.NewRequest("GET", "/", nil), uri: "/app/" + tc.rel, query: "a=b?c", env: map[string]string{}}
		if res := h.apply(v, "/app", tc.rel); res.status != tc.status || (tc.status == 0 && res.uri != tc.uri) {
			t.Errorf("%s on %q: status %d, to %q; want %d, %q", tc.flags, tc.rel, res.status, res.uri, tc.status, tc.uri)
		}
	}
}
