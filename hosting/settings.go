package hosting

import (
	"errors"
	"os"
	"path/filepath"
	"slices"

	"github.com/fcgi-hosting/fcgi/hosting/emulate"
	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
)

// Settings are the runtime's own settings, read from the env file beside
// the binary (mysite.env for mysite.fcgi) and from the process environment.
// A variable set in the process environment (FcgidInitialEnv, lighttpd's
// bin-environment, systemd's Environment=) wins over the same name in the
// file; the application reads its own settings with os.Getenv under the
// same rule, since the file's values are put into the environment. Under
// the local emulation, the development file NAME.dev.env is read over it
// (see devEnvPath). Each field's comment names its setting and default;
// README.md's Settings table lists them all.
type Settings = settings.Settings

// SettingError is a bad setting, with where it came from.
type SettingError = settings.SettingError

// envPath is the settings file: NAME.env beside the binary.
func (rt *Runtime) envPath() string { return filepath.Join(rt.dir, rt.name+".env") }

// devEnvPath is the development settings file, NAME.dev.env beside the
// binary, or "" when it is not read: only under the local emulation, which
// says so in the environment of the processes it spawns, so that DEBUG and
// the like are on while developing and the uploaded NAME.env says what
// the host runs with. It never reaches the host (make dist and fcgi-deploy
// leave it out, the .htaccess refuses *.env), and there nothing reads it.
func (rt *Runtime) devEnvPath() string {
	if !slices.Contains(rt.environ, emulate.LocalVar+"=1") {
		return ""
	}
	return filepath.Join(rt.dir, rt.name+".dev.env")
}

// readSettings reads the settings file, and over it the development file
// when there is one to read. On an error f is what could be read.
func (rt *Runtime) readSettings() (f *settings.EnvFile, err error) {
	f, err = settings.ReadEnvFile(rt.envPath())
	if dev := rt.devEnvPath(); dev != "" && err == nil {
		var d *settings.EnvFile
		if d, err = settings.ReadEnvFile(dev); err == nil {
			f = d.Over(f)
		}
	}
	return f, err
}

// loadSettings reads the settings files and the environment into
// rt.settings, then puts the files' values into the environment.
func (rt *Runtime) loadSettings() {
	for _, p := range []string{rt.envPath(), rt.devEnvPath()} {
		if p != "" {
			rt.watched[p] = reload.StatFile(p) // before reading: a later edit is seen as a change
		}
	}
	f, err := rt.readSettings()
	environ := settings.EnvironMap(rt.environ)
	rt.redact = settings.Redactor(f.Secrets(environ))
	if err != nil {
		rt.settings, rt.settingsErr = settings.Defaults(), err
		return
	}
	var errs []error
	rt.settings, errs = settings.Parse(f, environ)
	if rt.ext.maxRequests > 0 {
		rt.settings.MaxRequests = rt.ext.maxRequests
	}
	if rt.settings.EmailSubjectPrefix == "" {
		rt.settings.EmailSubjectPrefix = "[" + rt.name + "] "
	}
	rt.settingsErr = errors.Join(errs...)
	f.Apply(environ)
}

// checkNewSettings reports why the settings file, as it is now, cannot
// replace the running settings.
func (rt *Runtime) checkNewSettings() error {
	if _, err := os.Stat(rt.envPath()); errors.Is(err, os.ErrNotExist) {
		return errors.New(rt.name + ".env was removed; the running settings stay until it is back (touch " +
			filepath.Base(rt.exe) + " to run without it)")
	}
	f, err := rt.readSettings()
	if err != nil {
		return err
	}
	_, errs := settings.Parse(f, settings.EnvironMap(rt.environ))
	return errors.Join(errs...)
}

// maskedSettings lists the settings files' names with secret-looking
// values masked.
func (rt *Runtime) maskedSettings() []setting {
	f, err := rt.readSettings()
	if err != nil {
		return []setting{{"error", err.Error()}}
	}
	var out []setting
	for _, k := range f.Names() {
		out = append(out, setting{k, settings.MaskSecret(k, os.Getenv(k))})
	}
	return out
}
