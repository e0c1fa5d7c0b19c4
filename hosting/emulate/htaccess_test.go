package emulate

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzHtaccess parses any .htaccess and applies its rules to any path:
// whatever a user uploads, the emulator warns and goes on, never panics,
// and every warning names the file.
func FuzzHtaccess(f *testing.F) {
	seeds, _ := filepath.Glob("../../deploy/*/htaccess*")
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "/guestbook/page/2?x=1")
	}
	f.Add([]byte("RewriteEngine On\nRewriteCond %{REQUEST_FILENAME} !-f\nRewriteRule ^(.*)$ mysite.fcgi/$1 [QSA,L]\n"), "/a/b")
	f.Add([]byte("<FilesMatch \"\\.(env|log)$\">\nRequire all denied\n</FilesMatch>\nErrorDocument 404 /404.html\n"), "/mysite.env")
	f.Add([]byte("RewriteRule ^old/(.*) /new/$1 [R=301,L]\nRewriteRule ^gone - [G]\n"), "/old/x")
	f.Add([]byte("RewriteCond $0#%{REQUEST_URI} ^(.*)#(.*)\\1$\nRewriteRule ^.*$ - [E=SITE_BASE:%2]\nErrorDocument 500 /.%{reqenv:SITE_BASE}500.html\n"), "/a#b/$1")
	f.Add([]byte("RewriteCond %{ENV:REDIRECT_STATUS} !=500 [NC,OR]\nRewriteCond %{ENV:A} <=b\nRewriteRule ^x - [R=500,E=!A,E=B:\\%1]\n"), "/x")
	f.Add([]byte("RewriteCond %{REQUEST_URI}::$0 ^(/.+)/(.*)::\\2$\nRewriteRule .* - [E=BASE:%1]\nRewriteCond %{ENV:BASE} -x\nRewriteRule ^ %{ENV:BASE}/index.php [L]\n"), "/app/p")
	f.Fuzz(func(t *testing.T, data []byte, uri string) {
		h, err := readHtaccess("site/.htaccess", strings.NewReader(string(data)))
		if err != nil {
			return // a line longer than the scanner takes: reported to the user
		}
		for _, w := range h.warnings {
			if !strings.HasPrefix(w, "site/.htaccess:") {
				t.Fatalf("warning without the file's name: %q", w)
			}
		}
		path, query, _ := strings.Cut(uri, "?")
		if !strings.HasPrefix(path, "/") {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		v := &rewriteVars{r: r, uri: path, filename: "/srv/site" + path, query: query, env: map[string]string{"REDIRECT_STATUS": "500"}}
		h.apply(v, "/", strings.TrimPrefix(path, "/"))
		for _, doc := range h.errorDocs {
			v.expr(doc)
		}
	})
}
