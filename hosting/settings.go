package hosting

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
)

// Settings are the runtime's own settings, read from the env file beside
// the binary (mysite.env for mysite.fcgi) and from the process environment.
// A variable set in the process environment (FcgidInitialEnv, lighttpd's
// bin-environment, systemd's Environment=) wins over the same name in the
// file; the application reads its own settings with os.Getenv under the
// same rule, since the file's values are put into the environment. Each
// field's comment names its setting and default; README.md's Settings
// table lists them all.
type Settings = settings.Settings

// SettingError is a bad setting, with where it came from.
type SettingError = settings.SettingError

// envPath is the settings file: NAME.env beside the binary.
func (rt *Runtime) envPath() string { return filepath.Join(rt.dir, rt.name+".env") }

// loadSettings reads the settings file and the environment into
// rt.settings, then puts the file's values into the environment.
func (rt *Runtime) loadSettings() {
	rt.watched[rt.envPath()] = reload.StatFile(rt.envPath()) // before reading: a later edit is seen as a change
	f, err := settings.ReadEnvFile(rt.envPath())
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
	f, err := settings.ReadEnvFile(rt.envPath())
	if err != nil {
		return err
	}
	_, errs := settings.Parse(f, settings.EnvironMap(rt.environ))
	return errors.Join(errs...)
}

// maskedSettings lists the settings file's names with secret-looking
// values masked.
func (rt *Runtime) maskedSettings() []setting {
	f, err := settings.ReadEnvFile(rt.envPath())
	if err != nil {
		return []setting{{"error", err.Error()}}
	}
	var out []setting
	for _, k := range f.Names() {
		out = append(out, setting{k, settings.MaskSecret(k, os.Getenv(k))})
	}
	return out
}
