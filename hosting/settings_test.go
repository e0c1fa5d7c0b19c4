package hosting

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fcgi-hosting/fcgi/hosting/emulate"
	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
)

// mysite.dev.env is read, and watched, only under the local emulation,
// which says so in the environment it gives the site: on a host, one
// uploaded by mistake changes nothing.
func TestLoadSettings_DevFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		dev     bool
	}{
		{name: "spawned by a web server", environ: []string{"PATH=/usr/bin"}},
		{name: "the variable set otherwise", environ: []string{emulate.LocalVar + "=0"}},
		{name: "under the local emulation", environ: []string{"PATH=/usr/bin", emulate.LocalVar + "=1"}, dev: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DEBUG", "") // loadSettings puts the files' values there; restored after
			rt := &Runtime{dir: t.TempDir(), name: "mysite", environ: tc.environ, watched: map[string]reload.FileState{}}
			os.WriteFile(filepath.Join(rt.dir, "mysite.env"), []byte("DEBUG=false\n"), 0o644)
			dev := filepath.Join(rt.dir, "mysite.dev.env")
			os.WriteFile(dev, []byte("DEBUG=true\n"), 0o644)
			rt.loadSettings()
			if rt.settingsErr != nil {
				t.Fatal(rt.settingsErr)
			}
			if _, watched := rt.watched[dev]; rt.settings.Debug != tc.dev || watched != tc.dev || (os.Getenv("DEBUG") == "true") != tc.dev {
				t.Errorf("DEBUG %v, watched %v, in the environment %q; want the development file read: %v",
					rt.settings.Debug, watched, os.Getenv("DEBUG"), tc.dev)
			}
		})
	}
}
