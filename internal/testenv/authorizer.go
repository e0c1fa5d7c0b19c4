package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// PrivatePassword is the PRIVATE_PASSWORD setting CheckAuthorizer expects
// examples/hello to run with; PrivateNote is what it expects in the static
// file behind the authorizer.
const (
	PrivatePassword = "open sesame"
	PrivateNote     = "a static secret\n"
)

// CheckAuthorizer checks examples/hello as the web server's FastCGI
// authorizer at base, guarding the site's page privatePage and the static
// file privateFile (holding PrivateNote): without credentials both are
// answered the authorizer's 401 as it wrote it (status, WWW-Authenticate,
// body), with a wrong password its 403, with the right one the page shows
// the user the authorizer passed on as SITE_USER and the file is served.
// No Variable- header reaches the client, and the unguarded / still
// answers without credentials.
func CheckAuthorizer(t *testing.T, base, privatePage, privateFile string) {
	t.Helper()
	CheckGuarded(t, base, []Guarded{
		{"page without credentials", privatePage, "", 401, `Basic realm="hello private"`, "Log in to see " + privatePage},
		{"page with a wrong password", privatePage, "guess", 403, "", "Wrong password for meg"},
		{"page with the password", privatePage, PrivatePassword, 200, "", `private page ` + privatePage + ` for "meg"`},
		{"file without credentials", privateFile, "", 401, `Basic realm="hello private"`, "Log in to see " + privateFile},
		{"file with a wrong password", privateFile, "guess", 403, "", "Wrong password for meg"},
		{"file with the password", privateFile, PrivatePassword, 200, "", PrivateNote},
		{"unguarded", "/", "", 200, "", "\n"},
	})
}

// Guarded is a request for Path as the user meg with Password (none if
// empty), and the answer it must get: Status, a body holding Body and,
// unless empty, the WWW-Authenticate header Header.
type Guarded struct {
	Name, Path, Password string
	Status               int
	Header, Body         string
}

// CheckGuarded sends each request of cases to base and checks its answer,
// and that no Variable- header of an authorizer reaches the client.
func CheckGuarded(t *testing.T, base string, cases []Guarded) {
	t.Helper()
	for _, c := range cases {
		req, err := http.NewRequest("GET", base+c.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Password != "" {
			req.SetBasicAuth("meg", c.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.Status || !strings.Contains(string(b), c.Body) {
			t.Errorf("%s: %s %d %q; want %d with %q", c.Name, c.Path, resp.StatusCode, b, c.Status, c.Body)
		}
		if got := resp.Header.Get("WWW-Authenticate"); c.Header != "" && got != c.Header {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.Name, got, c.Header)
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, "Variable-") {
				t.Errorf("%s: the client got the authorizer's %s", c.Name, k)
			}
		}
	}
}
