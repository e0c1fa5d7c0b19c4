package main

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// localFile is a file of the site as it goes up.
type localFile struct {
	path   string // on the host, slash-separated, below the site's directory
	local  string
	size   int64
	sha256 string
}

// layout lists the site's files as make dist lays them out: the binary as
// SITE.fcgi, the .htaccess, the settings file only when one is given, and
// every file of the files folder (404.html, 500.html, static/...) but for
// what belongs to the host alone: settings files, logs and databases,
// and editors' and version control's files.
func layout(cfg *config, bin, htaccess, files string) ([]*localFile, error) {
	list := []*localFile{{path: cfg.site + ".fcgi", local: bin}}
	seen := map[string]bool{}
	add := func(p, local string) {
		if !seen[p] {
			seen[p] = true
			list = append(list, &localFile{path: p, local: local})
		}
	}
	if cfg.settings != "" {
		add(cfg.site+".env", cfg.settings)
	}
	if cfg.htaccess != "" {
		add(".htaccess", cfg.htaccess)
	}
	if files != "" {
		err := filepath.WalkDir(files, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(files, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if rel != "." && (d.Name() == ".git" || d.Name() == ".svn") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && !hostOnly(rel, cfg.site) {
				add(rel, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if htaccess != "" {
		add(".htaccess", htaccess)
	}
	for _, f := range list {
		var err error
		if f.size, f.sha256, err = hashFile(f.local); err != nil {
			return nil, err
		}
	}
	// The binary last: the new code finds its new files in place.
	slices.SortStableFunc(list[1:], func(a, b *localFile) int { return strings.Compare(a.path, b.path) })
	return append(list[1:], list[0]), nil
}

// hostOnly reports whether a file of the files folder stays local: the
// host's own settings, logs and data, deploy settings, binaries of the
// site, and editors' leftovers.
func hostOnly(rel, site string) bool {
	base := path.Base(rel)
	for _, suffix := range []string{".env", ".log", ".db", ".sqlite", ".sqlite3", "-wal", "-shm", "-journal", "~", ".swp", ".swo", ".fcgi", ".fcgi.new", ".fcgi.rejected"} {
		if strings.HasSuffix(base, suffix) {
			return true
		}
	}
	return base == manifestName || base == "deploy.env" || base == ".DS_Store" || strings.HasPrefix(base, site+".log.")
}

// defaultFiles is the site/ folder beside the package, if there is one.
func defaultFiles(pkgDir string) string {
	d := filepath.Join(pkgDir, "site")
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		return d
	}
	return ""
}
