package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"time"
)

// manifestName is the record of what was uploaded, kept on the host beside
// the site so that any machine deploying sees it. It is a dot file, which
// FTP listings leave out, and its name ends in .log, which the site's
// .htaccess (deploy/apache-fcgid/htaccess) refuses to serve with the
// site's logs and settings: it names every file of the site, and the
// version live. Its temporary copy (.log.tmp) is refused too.
const manifestName = ".fcgi-deploy.log"

// record is a line of the manifest: a file of the site as uploaded. The
// last line about a path wins; a line cut short by a dropped connection
// is skipped.
type record struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Version string    `json:"version,omitempty"` // the binary's
	Time    time.Time `json:"time"`
}

// manifest is what the host has, as far as deploys know.
type manifest map[string]record

func parseManifest(b []byte) manifest {
	m := manifest{}
	for line := range bytes.Lines(b) {
		var r record
		if json.Unmarshal(line, &r) == nil && r.Path != "" {
			m[r.Path] = r
		}
	}
	return m
}

// has reports whether the manifest says path holds f.
func (m manifest) has(path string, f *localFile) bool {
	r, ok := m[path]
	return ok && r.Size == f.size && r.SHA256 == f.sha256
}

// line is r as a manifest line.
func (r record) line() []byte {
	b, _ := json.Marshal(r)
	return append(b, '\n')
}

// hashFile returns the size and SHA-256 of a local file.
func hashFile(name string) (int64, string, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}
