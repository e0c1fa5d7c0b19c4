package hosting

import "github.com/fcgi-hosting/fcgi/hosting/internal/settings"

// Settings are the runtime's own settings, read from the env file beside
// the binary (mysite.env for mysite.fcgi) and from the process environment.
// A variable set in the process environment (FcgidInitialEnv, lighttpd's
// bin-environment, systemd's Environment=) wins over the same name in the
// file; the application reads its own settings with os.Getenv under the
// same rule, since the file's values are put into the environment.
type Settings = settings.Settings

// SettingError is a bad setting, with where it came from.
type SettingError = settings.SettingError

// maskSecret hides values whose names look secret, for Describe.
func maskSecret(name, value string) string { return settings.MaskSecret(name, value) }
