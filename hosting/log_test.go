package hosting

import (
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a handler or a library (a database driver) writes with the
// standard log package lands in the site's log file, not in the web
// server's error log the user cannot read; closing the log gives the
// standard logger back.
func TestLogFile_TakesStandardLog(t *testing.T) {
	rt := &Runtime{dir: t.TempDir(), name: "mysite"}
	closeLog := rt.openLog()
	log.Print("mysql: packets.go:58 unexpected EOF")
	closeLog()
	b, _ := os.ReadFile(filepath.Join(rt.dir, "mysite.log"))
	if !strings.Contains(string(b), `"from":"log"`) || !strings.Contains(string(b), `"message":"mysql: packets.go:58 unexpected EOF"`) {
		t.Errorf("mysite.log lacks the standard logger's line:\n%s", b)
	}
	if log.Writer() != os.Stderr {
		t.Errorf("the standard logger still writes to the closed log file")
	}
}
