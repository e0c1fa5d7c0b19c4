package lighttpd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// authorizer.conf: the spawned site authorizes /private/ and
// /static/private/ in the same process.
func TestLighttpd_Authorizer(t *testing.T) {
	s := startLighttpdWith(t, "authorizer.conf", "", "GREETING=v1\nPRIVATE_PASSWORD="+testenv.PrivatePassword+"\n")
	os.MkdirAll(filepath.Join(s.site, "static", "private"), 0o755)
	os.WriteFile(filepath.Join(s.site, "static", "private", "note.txt"), []byte(testenv.PrivateNote), 0o644)
	testenv.WaitUp(t, s.base+"/")
	testenv.CheckAuthorizer(t, s.base, "/private/page", "/static/private/note.txt")
}
