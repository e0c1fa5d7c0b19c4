// Package settings reads the runtime's settings from the env file beside
// the binary and from the process environment, and masks secrets for display.
package settings

import (
	"cmp"
	"errors"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Settings are the runtime's own settings, read from the env file beside
// the binary (mysite.env for mysite.fcgi) and from the process environment.
// A variable set in the process environment (FcgidInitialEnv, lighttpd's
// bin-environment, systemd's Environment=) wins over the same name in the
// file; the application reads its own settings with os.Getenv under the
// same rule, since the file's values are put into the environment.
type Settings struct {
	// DEBUG: detailed error pages (error, stack, request, settings with
	// secrets masked) instead of 500.html. Default false.
	Debug bool
	// LOG_FILE: where the log goes. Default: NAME.log beside the binary.
	// "stderr" sends it to standard error (the web server's error log).
	LogFile string
	// LOG_LEVEL: debug, info, warn or error. Default info.
	LogLevel zerolog.Level
	// LOG_MAX_SIZE: the log file is rotated (NAME.log.1, .2, .3) when it
	// grows past this size. Default 10MB.
	LogMaxSize int64
	// MAX_REQUESTS: after this many requests the process hands over to a
	// fresh copy of itself on the same socket, losing nothing. Default 0:
	// never (Go does not leak the way PHP does).
	MaxRequests int
	// IDLE_TIMEOUT: a process spawned by the web server exits after this
	// long without a request, freeing its memory. mod_fcgid would otherwise
	// keep up to three idle processes forever. Default 10m; 0 never.
	IdleTimeout time.Duration
	// MEMORY_LIMIT: the Go heap's soft limit (GOMEMLIMIT), and the point
	// above which the process hands over to a fresh copy of itself.
	// Default 256MB; 0 no limit.
	MemoryLimit int64
	// FORCE_SCRIPT_NAME: the URL prefix of the site, when the web server's
	// variables do not give it (see Prefix). Unset by default.
	ForceScriptName string
	// ForceScriptNameSet says FORCE_SCRIPT_NAME was given (even empty).
	ForceScriptNameSet bool
	// RELOAD_POLL: how often the binary and env file are checked for
	// changes besides inotify, which misses changes on NFS. Default 2s;
	// 0 turns reloading off.
	ReloadPoll time.Duration
	// PROOF_PATH: the page a new binary must serve, in a private trial run,
	// before it takes over: a crash, a panic while starting or a 5xx
	// there refuses it. Default "/"; choose a cheap page without side
	// effects.
	ProofPath string

	// ADMINS: who gets a mail about each server error (at most one a
	// minute), as "Name <addr>, addr". Mail goes out only when EMAIL_HOST
	// is set too.
	Admins []string
	// EMAIL_HOST, EMAIL_PORT (default 25), EMAIL_HOST_USER,
	// EMAIL_HOST_PASSWORD: the SMTP server; STARTTLS is used when offered.
	EmailHost     string
	EmailPort     int
	EmailUser     string
	EmailPassword string
	// SERVER_EMAIL: the sender of error mails. Default root@localhost.
	ServerEmail string
	// EMAIL_SUBJECT_PREFIX: default "[mysite] ".
	EmailSubjectPrefix string

	// STATUS_PATH: the path (below the site's prefix) of the status page,
	// which answers only requests carrying "Authorization: Bearer
	// STATUS_TOKEN"; others get what the site answers for that path.
	// Unset by default: no status page.
	StatusPath string
	// STATUS_TOKEN: the status page's secret, 16 characters or more;
	// required when STATUS_PATH is set.
	StatusToken string
	// SLOW_REQUEST: a request still running after this long logs one
	// line with its handler's stack. Default 0: off.
	SlowRequest time.Duration
	// REQUEST_TIMEOUT: the request's context is cancelled after this
	// long and, if nothing was written yet, the visitor gets 503 with the
	// site's page; the handler is told, never killed. Default 0: off.
	RequestTimeout time.Duration
	// MANAGERS: who gets a mail about a broken link on the site (a 404
	// whose Referer is a page of the same site), batched, at most one
	// mail a minute. Needs EMAIL_HOST too.
	Managers []string
}

// minTokenLen is the least length of STATUS_TOKEN: the status page shows
// what the site is doing to whoever holds it, so it must not be guessable.
const minTokenLen = 16

// Defaults are the settings when neither the file nor the environment
// sets a name.
func Defaults() Settings {
	return Settings{
		LogLevel:    zerolog.InfoLevel,
		LogMaxSize:  10 << 20,
		IdleTimeout: 10 * time.Minute,
		MemoryLimit: 256 << 20,
		ReloadPoll:  2 * time.Second,
		ProofPath:   "/",
		EmailPort:   25,
		ServerEmail: "root@localhost",
	}
}

// Parse reads the runtime's settings from the environment first, then f
// and the files under it, collecting every error. The errors of a file
// under f count even where f hides its values: the development file hides
// the production one only locally, and on the host those values are read.
func Parse(f *EnvFile, environ map[string]string) (Settings, []error) {
	s, bad := parse(f, environ)
	for l := f.under; l != nil; l = l.under {
		_, more := parse(l, environ)
		for _, e := range more {
			if !slices.ContainsFunc(bad, func(b *SettingError) bool { return *b == *e }) {
				bad = append(bad, e)
			}
		}
	}
	// File by file, each in line order, as the user reads them.
	slices.SortStableFunc(bad, func(a, b *SettingError) int { return cmp.Or(a.file-b.file, a.line-b.line) })
	errs := make([]error, len(bad))
	for i, e := range bad {
		errs[i] = e
	}
	return s, errs
}

// parse reads the settings as f, and the files under it where f is
// silent, give them, with the errors of the values in force.
func parse(f *EnvFile, environ map[string]string) (Settings, []*SettingError) {
	s := Defaults()
	var bad []*SettingError
	get := func(name, want string, parse func(string) error) {
		v, at, ok := f.lookup(environ, name)
		if !ok {
			return
		}
		if err := parse(strings.TrimSpace(v)); err != nil {
			bad = append(bad, &SettingError{Source: at.source, Name: name, Value: v, Want: want, file: at.file, line: at.line})
		}
	}
	get("DEBUG", "true or false", func(v string) (err error) { s.Debug, err = parseBool(v); return })
	get("LOG_FILE", "a file path or stderr", func(v string) error {
		if v == "" {
			return errors.New("empty")
		}
		s.LogFile = v
		return nil
	})
	get("LOG_LEVEL", "debug, info, warn or error", func(v string) error {
		l, err := zerolog.ParseLevel(strings.ToLower(v))
		if err != nil || l < zerolog.DebugLevel || l > zerolog.ErrorLevel {
			return errors.New("bad level")
		}
		s.LogLevel = l
		return nil
	})
	get("LOG_MAX_SIZE", "a size such as 10MB", func(v string) (err error) { s.LogMaxSize, err = parseSize(v); return })
	get("MAX_REQUESTS", "a whole number of requests, 0 for no limit", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("bad count")
		}
		s.MaxRequests = n
		return nil
	})
	get("IDLE_TIMEOUT", "a duration such as 10m or 90s, 0 to stay", func(v string) (err error) { s.IdleTimeout, err = parseDuration(v); return })
	get("MEMORY_LIMIT", "a size such as 256MB, 0 for no limit", func(v string) (err error) { s.MemoryLimit, err = parseSize(v); return })
	get("RELOAD_POLL", "a duration such as 2s, 0 to turn reloading off", func(v string) (err error) { s.ReloadPoll, err = parseDuration(v); return })
	get("PROOF_PATH", "a path on the site such as / or /health", func(v string) error {
		if !strings.HasPrefix(v, "/") {
			return errors.New("not a path")
		}
		s.ProofPath = v
		return nil
	})
	addresses := func(dst *[]string) func(string) error {
		return func(v string) error {
			list, err := mail.ParseAddressList(v)
			if err != nil {
				return err
			}
			for _, a := range list {
				*dst = append(*dst, a.String())
			}
			return nil
		}
	}
	get("ADMINS", "mail addresses such as \"Ann <ann@example.com>, bob@example.com\"", addresses(&s.Admins))
	get("MANAGERS", "mail addresses such as \"Ann <ann@example.com>, bob@example.com\"", addresses(&s.Managers))
	get("SLOW_REQUEST", "a duration such as 5s, 0 for off", func(v string) (err error) { s.SlowRequest, err = parseDuration(v); return })
	get("REQUEST_TIMEOUT", "a duration such as 30s, 0 for off", func(v string) (err error) { s.RequestTimeout, err = parseDuration(v); return })
	get("STATUS_PATH", "a path on the site such as /status, or nothing for no status page", func(v string) error {
		if v != "" && (!strings.HasPrefix(v, "/") || strings.ContainsAny(v, "?#")) {
			return errors.New("not a path")
		}
		s.StatusPath = v
		return nil
	})
	if v, _, ok := f.lookup(environ, "STATUS_TOKEN"); ok {
		s.StatusToken = strings.TrimSpace(v)
	}
	if s.StatusPath != "" && len(s.StatusToken) < minTokenLen {
		// Named at STATUS_PATH's line when the token is missing: that is
		// the line that asks for it. The token itself is never quoted.
		_, at, _ := f.lookup(environ, "STATUS_PATH")
		if _, tat, ok := f.lookup(environ, "STATUS_TOKEN"); ok {
			at = tat
		}
		bad = append(bad, &SettingError{Source: at.source, Name: "STATUS_TOKEN", Value: MaskSecret("STATUS_TOKEN", s.StatusToken), file: at.file, line: at.line,
			Want: "a secret of " + strconv.Itoa(minTokenLen) + " characters or more when STATUS_PATH is set (such as the output of: openssl rand -hex 16)"})
	}
	get("EMAIL_PORT", "a port number", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			return errors.New("bad port")
		}
		s.EmailPort = n
		return nil
	})
	get("SERVER_EMAIL", "a mail address", func(v string) error {
		a, err := mail.ParseAddress(v)
		if err == nil {
			s.ServerEmail = a.String()
		}
		return err
	})
	for name, dst := range map[string]*string{"EMAIL_HOST": &s.EmailHost, "EMAIL_HOST_USER": &s.EmailUser,
		"EMAIL_HOST_PASSWORD": &s.EmailPassword, "EMAIL_SUBJECT_PREFIX": &s.EmailSubjectPrefix} {
		if v, _, ok := f.lookup(environ, name); ok {
			*dst = v
		}
	}
	if v, _, ok := f.lookup(environ, "FORCE_SCRIPT_NAME"); ok {
		s.ForceScriptName = strings.TrimRight(strings.TrimSpace(v), "/")
		s.ForceScriptNameSet = true
	}
	return s, bad
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "on", "yes":
		return true, nil
	case "0", "false", "off", "no", "":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// parseDuration takes Go durations (90s, 10m, 1h30m) or plain seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

// parseSize takes bytes or a number with K, M, G (powers of 1024, with or
// without B or iB, any case).
func parseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), "I")
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = strings.TrimSpace(s[:len(s)-1])
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("bad size")
	}
	return n * mult, nil
}
