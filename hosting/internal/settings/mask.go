package settings

import (
	"net/url"
	"regexp"
	"strings"
)

var secretName = regexp.MustCompile(`(?i)(SECRET|PASSW|PASS$|TOKEN|KEY|DSN|AUTH|CREDENTIAL|PRIVATE|SALT|COOKIE)`)

// MaskSecret hides values whose names look secret, for logs and pages,
// and the password of any URL with one (DATABASE=mysql://user:pw@host/db).
func MaskSecret(name, value string) string {
	if value != "" && secretName.MatchString(name) {
		return "********"
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		return u.Redacted()
	} else if err != nil && strings.Contains(value, "://") {
		return "********" // unparsable, and it may hold a password
	}
	return value
}
