package hosting

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
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
}

func defaultSettings() Settings {
	return Settings{
		LogLevel:    zerolog.InfoLevel,
		LogMaxSize:  10 << 20,
		IdleTimeout: 10 * time.Minute,
		MemoryLimit: 256 << 20,
		ReloadPoll:  2 * time.Second,
		EmailPort:   25,
		ServerEmail: "root@localhost",
	}
}

// SettingError is a bad setting, with where it came from.
type SettingError struct {
	Source string // "mysite.env:3" or "environment"
	Name   string
	Value  string
	Want   string
	line   int // in the file, for ordering
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("%s: %s: want %s, got %q", e.Source, e.Name, e.Want, e.Value)
}

// envFile is a parsed env file.
type envFile struct {
	path   string
	values map[string]string
	lines  map[string]int // line of each name, for messages
}

// readEnvFile parses path. A missing file is no error: every setting has a
// default.
func readEnvFile(path string) (*envFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &envFile{path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("settings file %s: %w (the web server's user must be able to read it)", path, err)
	}
	return parseEnvFile(path, data)
}

func parseEnvFile(path string, data []byte) (*envFile, error) {
	values, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, envSyntaxError(path, data, err)
	}
	return &envFile{path: path, values: values, lines: nameLines(data)}, nil
}

// envSyntaxError names the line godotenv stopped at. godotenv's message
// quotes the rest of the file, secrets and all, so only its gist is kept.
func envSyntaxError(path string, data []byte, err error) error {
	what := err.Error()
	if i := strings.Index(what, " near "); i >= 0 {
		what = what[:i]
	}
	if strings.HasPrefix(what, "unterminated quoted value") {
		what = "unterminated quoted value"
	}
	return fmt.Errorf("settings file %s:%d: %s; want NAME=value (the line is not shown: it may hold a secret)", path, badLine(data), what)
}

// badLine is the line after the longest run of whole lines that parses: a
// quoted value may span lines, so a line alone cannot be judged.
func badLine(data []byte) int {
	good, n := 0, 0
	for end := 0; end < len(data) && n < 1000; n++ {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			break
		}
		end += i + 1
		if _, err := godotenv.UnmarshalBytes(data[:end]); err == nil {
			good = n + 1
		}
	}
	return good + 1
}

var assignment = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]`)

func nameLines(data []byte) map[string]int {
	lines := make(map[string]int)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if m := assignment.FindSubmatch(sc.Bytes()); m != nil {
			lines[string(m[1])] = n
		}
	}
	return lines
}

// lookup finds name in the environment first, then in the file.
func (f *envFile) lookup(environ map[string]string, name string) (value, source string, line int, ok bool) {
	if v, ok := environ[name]; ok {
		return v, "environment", 0, true
	}
	if v, ok := f.values[name]; ok {
		src := filepath.Base(f.path)
		line := f.lines[name]
		if line > 0 {
			src += ":" + strconv.Itoa(line)
		}
		return v, src, line, true
	}
	return "", "", 0, false
}

// apply puts the file's values into the process environment where the
// environment does not set them already.
func (f *envFile) apply(environ map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(f.values)) {
		if _, ok := environ[k]; !ok {
			os.Setenv(k, f.values[k])
		}
	}
}

func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// parseSettings reads the runtime's settings, collecting every error.
func parseSettings(f *envFile, environ map[string]string) (Settings, []error) {
	s := defaultSettings()
	var bad []*SettingError
	get := func(name, want string, parse func(string) error) {
		v, src, line, ok := f.lookup(environ, name)
		if !ok {
			return
		}
		if err := parse(strings.TrimSpace(v)); err != nil {
			bad = append(bad, &SettingError{Source: src, Name: name, Value: v, Want: want, line: line})
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
	get("ADMINS", "mail addresses such as \"Ann <ann@example.com>, bob@example.com\"", func(v string) error {
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return err
		}
		for _, a := range list {
			s.Admins = append(s.Admins, a.String())
		}
		return nil
	})
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
		if v, _, _, ok := f.lookup(environ, name); ok {
			*dst = v
		}
	}
	if v, _, _, ok := f.lookup(environ, "FORCE_SCRIPT_NAME"); ok {
		s.ForceScriptName = strings.TrimRight(strings.TrimSpace(v), "/")
		s.ForceScriptNameSet = true
	}
	// In file order, as the user reads the file.
	slices.SortStableFunc(bad, func(a, b *SettingError) int { return a.line - b.line })
	errs := make([]error, len(bad))
	for i, e := range bad {
		errs[i] = e
	}
	return s, errs
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

var secretName = regexp.MustCompile(`(?i)(SECRET|PASSW|PASS$|TOKEN|KEY|DSN|AUTH|CREDENTIAL|PRIVATE|SALT|COOKIE)`)

// maskSecret hides values whose names look secret, for logs and pages,
// and the password of any URL with one (DATABASE=mysql://user:pw@host/db).
func maskSecret(name, value string) string {
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
