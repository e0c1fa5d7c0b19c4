package settings

import (
	"slices"
	"strings"
)

const masked = "********"

// secretWords mark setting names whose values are secrets, in any case:
// passwords however spelled (MYSQL_PWD, DB_PASSPHRASE), tokens, keys,
// DSNs. A name ending in PASS, or with PW or SK (STRIPE_SK) between
// underscores, is one too.
var secretWords = []string{"SECRET", "PASSW", "PASSPHRASE", "PWD", "TOKEN", "KEY", "DSN", "AUTH", "CREDENTIAL", "PRIVATE", "SALT", "COOKIE"}

// isSecretName reports whether name's value is a secret. PWD and OLDPWD
// are the shell's working directories, not passwords: masked, they would
// hide the site's own directory (Passenger sets PWD to the app root) in
// every log line that names a file. (No regular expression: every
// process start asks, and compiling one cost more than the rest of
// reading the settings.)
func isSecretName(name string) bool {
	if name == "PWD" || name == "OLDPWD" {
		return false
	}
	u := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(u, w) {
			return true
		}
	}
	if strings.HasSuffix(u, "PASS") {
		return true
	}
	for part := range strings.SplitSeq(u, "_") {
		if part == "PW" || part == "SK" {
			return true
		}
	}
	return false
}

// MaskSecret hides values whose names look secret, for logs and pages,
// and the credentials of any value that carries some (see secretSpan).
func MaskSecret(name, value string) string {
	if value != "" && isSecretName(name) {
		return masked
	}
	if i, j := secretSpan(value); i < j {
		return value[:i] + masked + value[j:]
	}
	return value
}

// secretSpan is where the credential in v is, v[i:j]: the password of a
// URL (mysql://user:pw@host/db) or of a go-sql-driver DSN
// (user:pw@tcp(host:3306)/db), or the key of a URL with a user alone
// (Sentry's https://KEY@host/1); i == j when v carries none. The password
// runs to the last @, so one with @, /, #, spaces or only digits is found
// whole (a URL parser would read 2024 in user:2024#Summer@host as a port).
func secretSpan(v string) (i, j int) {
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		return 0, 0
	}
	start := strings.Index(v[:at], "://")
	if start >= 0 {
		start += len("://")
	} else if start = 0; strings.ContainsAny(v[:at], " \t\r\n<>,") {
		return 0, 0 // mail addresses, prose
	}
	userinfo := v[start:at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return start + len(user) + 1, at
	}
	if start > 0 && userinfo != "" && !strings.ContainsAny(userinfo, "/?") {
		return start, at
	}
	return 0, 0
}

// Secrets are the secret values among sets of values (name to value) and
// the credentials inside the others, longest first: what must never reach
// a log line or a page, wherever a handler's error quotes it. Each set may
// give the same name another value (the environment, the files).
func Secrets(sets ...map[string]string) []string {
	var out []string
	for _, values := range sets {
		for name, v := range values {
			i, j := secretSpan(v)
			s := v[i:j]
			if isSecretName(name) {
				s = v
			}
			// Short values would mask common words in every message.
			if len(s) >= 4 && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Redactor replaces each of secrets in a string by ********; nil when
// there is none, so that the log and pages pay nothing for it then.
func Redactor(secrets []string) *strings.Replacer {
	if len(secrets) == 0 {
		return nil
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, masked)
	}
	return strings.NewReplacer(pairs...)
}
