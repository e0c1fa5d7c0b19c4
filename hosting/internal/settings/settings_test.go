package settings

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func writeEnv(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mysite.env")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ map[string]string
		check   func(t *testing.T, s Settings)
		errs    []string
	}{
		{name: "defaults", check: func(t *testing.T, s Settings) {
			if !reflect.DeepEqual(s, Defaults()) {
				t.Errorf("%+v", s)
			}
		}},
		{name: "every setting", file: "DEBUG=true\nLOG_FILE=logs/site.log\nLOG_LEVEL=WARN\nLOG_MAX_SIZE=5MB\nMAX_REQUESTS=500\n" +
			"IDLE_TIMEOUT=90\nMEMORY_LIMIT=1G\nFORCE_SCRIPT_NAME=/blog/\nRELOAD_POLL=0\nPROOF_PATH=/health?deep=1\n" +
			"ADMINS=\"Ann <ann@example.com>, bob@example.com\"\nEMAIL_HOST=smtp.example.com\nEMAIL_PORT=587\n" +
			"EMAIL_HOST_USER=me\nEMAIL_HOST_PASSWORD=pw\nSERVER_EMAIL=site@example.com\n" +
			"STATUS_PATH=/status\nSTATUS_TOKEN=0123456789abcdef\nSLOW_REQUEST=5s\nREQUEST_TIMEOUT=30\nMANAGERS=Meg <meg@example.com>\n",
			check: func(t *testing.T, s Settings) {
				want := Settings{Debug: true, LogFile: "logs/site.log", LogLevel: zerolog.WarnLevel, LogMaxSize: 5 << 20, MaxRequests: 500,
					IdleTimeout: 90 * time.Second, MemoryLimit: 1 << 30, ForceScriptName: "/blog", ForceScriptNameSet: true,
					ProofPath: "/health?deep=1", Admins: []string{`"Ann" <ann@example.com>`, "<bob@example.com>"}, EmailHost: "smtp.example.com", EmailPort: 587,
					EmailUser: "me", EmailPassword: "pw", ServerEmail: "<site@example.com>",
					StatusPath: "/status", StatusToken: "0123456789abcdef", SlowRequest: 5 * time.Second, RequestTimeout: 30 * time.Second,
					Managers: []string{`"Meg" <meg@example.com>`}}
				if !reflect.DeepEqual(s, want) {
					t.Errorf("got  %+v\nwant %+v", s, want)
				}
			}},
		{name: "environment wins over the file", file: "MAX_REQUESTS=5\n", environ: map[string]string{"MAX_REQUESTS": "7"},
			check: func(t *testing.T, s Settings) {
				if s.MaxRequests != 7 {
					t.Errorf("MaxRequests %d", s.MaxRequests)
				}
			}},
		{name: "bad values name file, line, setting, value and want",
			file: "# site settings\nGREETING=hi\nDEBUG=yes please\nMEMORY_LIMIT=lots\nIDLE_TIMEOUT=-5m\nPROOF_PATH=health\n",
			errs: []string{`mysite.env:3: DEBUG: want true or false, got "yes please"`,
				`mysite.env:4: MEMORY_LIMIT: want a size such as 256MB, 0 for no limit, got "lots"`,
				`mysite.env:5: IDLE_TIMEOUT: want a duration such as 10m or 90s, 0 to stay, got "-5m"`,
				`mysite.env:6: PROOF_PATH: want a path on the site such as / or /health, got "health"`}},
		{name: "operating settings: bad values",
			file: "SLOW_REQUEST=soon\nREQUEST_TIMEOUT=-1s\nMANAGERS=nobody\nSTATUS_PATH=status\n",
			errs: []string{`mysite.env:1: SLOW_REQUEST: want a duration such as 5s, 0 for off, got "soon"`,
				`mysite.env:2: REQUEST_TIMEOUT: want a duration such as 30s, 0 for off, got "-1s"`,
				`mysite.env:3: MANAGERS: want mail addresses such as "Ann <ann@example.com>, bob@example.com", got "nobody"`,
				`mysite.env:4: STATUS_PATH: want a path on the site such as /status, or nothing for no status page, got "status"`}},
		{name: "STATUS_PATH without STATUS_TOKEN is named at STATUS_PATH's line", file: "GREETING=hi\nSTATUS_PATH=/status\n",
			errs: []string{`mysite.env:2: STATUS_TOKEN: want a secret of 16 characters or more when STATUS_PATH is set (such as the output of: openssl rand -hex 16), got ""`}},
		{name: "a short STATUS_TOKEN is named at its line, never quoted", file: "STATUS_PATH=/status\nSTATUS_TOKEN=hunter2\n",
			errs: []string{`mysite.env:2: STATUS_TOKEN: want a secret of 16 characters or more when STATUS_PATH is set (such as the output of: openssl rand -hex 16), got "********"`}},
		{name: "STATUS_TOKEN alone is no error", file: "STATUS_TOKEN=x\n", check: func(t *testing.T, s Settings) {
			if s.StatusPath != "" {
				t.Errorf("StatusPath %q", s.StatusPath)
			}
		}},
		{name: "bad value in the environment", environ: map[string]string{"LOG_LEVEL": "loud"},
			errs: []string{`environment: LOG_LEVEL: want debug, info, warn or error, got "loud"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &EnvFile{path: "mysite.env"}
			if tc.file != "" {
				var err error
				if f, err = ReadEnvFile(writeEnv(t, tc.file)); err != nil {
					t.Fatal(err)
				}
			}
			s, errs := Parse(f, tc.environ)
			checkParsed(t, s, errs, tc.check, tc.errs)
		})
	}
}

// checkParsed checks Parse's answer: the errors, in order, each ending in
// its want, and the settings with check.
func checkParsed(t *testing.T, s Settings, errs []error, check func(*testing.T, Settings), want []string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %v", errs, want)
	}
	for i, e := range errs {
		if !strings.HasSuffix(e.Error(), want[i]) {
			t.Errorf("error %q, want it to end in %q", e, want[i])
		}
	}
	if check != nil {
		check(t, s)
	}
}

// The development file read over the production one, as the local
// emulation does: its values win, the environment wins over both, and
// every file's errors are reported with its own name and line.
func TestParseOver(t *testing.T) {
	tests := []struct {
		name      string
		prod, dev string
		environ   map[string]string
		check     func(t *testing.T, s Settings)
		errs      []string
	}{
		{name: "the development file wins", prod: "DEBUG=false\n", dev: "DEBUG=true\n", check: func(t *testing.T, s Settings) {
			if !s.Debug {
				t.Error("DEBUG from mysite.dev.env not in force")
			}
		}},
		{name: "what it does not set comes from the production file", prod: "DEBUG=false\nLOG_LEVEL=warn\n", dev: "DEBUG=true\n",
			check: func(t *testing.T, s Settings) {
				if !s.Debug || s.LogLevel != zerolog.WarnLevel {
					t.Errorf("Debug %v, LogLevel %v", s.Debug, s.LogLevel)
				}
			}},
		{name: "the environment wins over both", prod: "DEBUG=true\n", dev: "DEBUG=true\n", environ: map[string]string{"DEBUG": "false"},
			check: func(t *testing.T, s Settings) {
				if s.Debug {
					t.Error("DEBUG from a file won over the environment")
				}
			}},
		{name: "no development file", prod: "DEBUG=false\nMAX_REQUESTS=3\n", check: func(t *testing.T, s Settings) {
			if s.Debug || s.MaxRequests != 3 {
				t.Errorf("Debug %v, MaxRequests %d", s.Debug, s.MaxRequests)
			}
		}},
		{name: "an error in the development file names it and its line", prod: "DEBUG=false\n", dev: "# local\nDEBUG=yes please\n",
			errs: []string{`mysite.dev.env:2: DEBUG: want true or false, got "yes please"`}},
		{name: "an error the development file hides is still reported: the host reads it", prod: "DEBUG=flase\n", dev: "DEBUG=true\n",
			errs: []string{`mysite.env:1: DEBUG: want true or false, got "flase"`}},
		{name: "an error of the production file is reported once", prod: "LOG_LEVEL=loud\n", dev: "DEBUG=true\n",
			errs: []string{`mysite.env:1: LOG_LEVEL: want debug, info, warn or error, got "loud"`}},
		{name: "file by file, the production file first", prod: "GREETING=hi\nLOG_LEVEL=loud\n", dev: "MEMORY_LIMIT=lots\nDEBUG=maybe\n",
			environ: map[string]string{"IDLE_TIMEOUT": "never"},
			errs: []string{`environment: IDLE_TIMEOUT: want a duration such as 10m or 90s, 0 to stay, got "never"`,
				`mysite.env:2: LOG_LEVEL: want debug, info, warn or error, got "loud"`,
				`mysite.dev.env:1: MEMORY_LIMIT: want a size such as 256MB, 0 for no limit, got "lots"`,
				`mysite.dev.env:2: DEBUG: want true or false, got "maybe"`}},
		{name: "STATUS_TOKEN in the development file only: the host has none", prod: "STATUS_PATH=/status\n", dev: "STATUS_TOKEN=0123456789abcdef\n",
			errs: []string{`mysite.env:1: STATUS_TOKEN: want a secret of 16 characters or more when STATUS_PATH is set (such as the output of: openssl rand -hex 16), got ""`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, errs := Parse(readOver(t, tc.prod, tc.dev), tc.environ)
			checkParsed(t, s, errs, tc.check, tc.errs)
		})
	}
}

// readOver writes mysite.env and mysite.dev.env (either absent when
// empty) and reads the second over the first.
func readOver(t *testing.T, prod, dev string) *EnvFile {
	t.Helper()
	dir := t.TempDir()
	read := func(name, content string) *EnvFile {
		p := filepath.Join(dir, name)
		if content != "" {
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		f, err := ReadEnvFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	return read("mysite.dev.env", dev).Over(read("mysite.env", prod))
}

// What the application sees through the environment, and what is masked,
// covers both files.
func TestEnvFileOver(t *testing.T) {
	f := readOver(t, "GREETING=prod\nDB_PASSWORD=prod-secret\nLOG_LEVEL=warn\n", "GREETING=dev\nDB_PASSWORD=dev-secret\nDEBUG=true\n")
	if got, want := f.Names(), []string{"DB_PASSWORD", "DEBUG", "GREETING", "LOG_LEVEL"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names %v, want %v", got, want)
	}
	for _, k := range f.Names() {
		t.Setenv(k, "") // restored after the test
	}
	t.Setenv("LOG_LEVEL", "error")
	f.Apply(map[string]string{"LOG_LEVEL": "error"})
	for k, want := range map[string]string{"GREETING": "dev", "DB_PASSWORD": "dev-secret", "DEBUG": "true", "LOG_LEVEL": "error"} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s=%q in the environment, want %q", k, got, want)
		}
	}
	// The production value a development one hides is the host's secret.
	if got := Redactor(f.Secrets(nil)).Replace("prod-secret dev-secret"); got != "******** ********" {
		t.Errorf("a secret of either file shown: %q", got)
	}
	if f.Absent() || !readOver(t, "", "").Absent() || readOver(t, "", "DEBUG=true\n").Absent() {
		t.Error("Absent: want false while either file exists")
	}
}

func TestReadEnvFile(t *testing.T) {
	t.Run("missing is fine", func(t *testing.T) {
		f, err := ReadEnvFile(filepath.Join(t.TempDir(), "none.env"))
		if err != nil || f.values != nil {
			t.Fatal(f, err)
		}
	})
	for _, tc := range []struct{ name, content, want string }{
		{"unparsable line", "GOOD=1\nthis is not a setting\nSECRET_KEY=hunter2\n", "mysite.env:2: unexpected character"},
		{"unparsable after a quoted value over lines", "A=\"x\ny\"\nB c\nDB_PASSWORD=hunter2\n", "mysite.env:3: unexpected character"},
		{"unterminated quote", "A=1\nSECRET_KEY=\"hunter2\nB=2\n", "mysite.env:2: unterminated quoted value; want NAME=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadEnvFile(writeEnv(t, tc.content))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("err %v, want %q and no secret", err, tc.want)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		p := writeEnv(t, "A=1\n")
		os.Chmod(p, 0)
		if os.Geteuid() == 0 {
			p = t.TempDir() // a directory cannot be read as a file, even by root
		}
		if _, err := ReadEnvFile(p); err == nil || errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("quotes, export and comments", func(t *testing.T) {
		f, err := ReadEnvFile(writeEnv(t, "export A=\"x y\"\nB='z' # note\n# C=no\n"))
		if err != nil || f.values["A"] != "x y" || f.values["B"] != "z" || f.values["C"] != "" || f.lines["B"] != 2 {
			t.Fatal(f, err)
		}
	})
}

func TestMaskSecret(t *testing.T) {
	for name, masked := range map[string]bool{"SECRET_KEY": true, "DB_PASSWORD": true, "DATABASE_DSN": true, "API_TOKEN": true,
		"EMAIL_HOST_PASS": true, "MYSQL_PWD": true, "DB_PASSPHRASE": true, "SMTP_PW": true, "STRIPE_SK": true,
		"db_password": true, "SMTPPASS": true, "MY_PW_HASH": true, "Session_Cookie": true, "SK": true,
		"GREETING": false, "DEBUG": false, "SKIN": false, "PWA_NAME": false, "PWD": false, "OLDPWD": false,
		"PASSAGE": false, "DESK_SIZE": false, "PWX": false} {
		if got := MaskSecret(name, "v") == "********"; got != masked {
			t.Errorf("%s masked %v, want %v", name, got, masked)
		}
	}
	for value, want := range map[string]string{
		"mysql://gb:p%40ss@localhost/gb":               "mysql://gb:********@localhost/gb",
		"mysql://cp_user:2024#Summer@localhost/cp_db":  "mysql://cp_user:********@localhost/cp_db",
		"mysql://cp_user:20242024@localhost/cp_db":     "mysql://cp_user:********@localhost/cp_db",
		"mysql://cp_user:a@b/c#d@localhost:3306/cp_db": "mysql://cp_user:********@localhost:3306/cp_db",
		"mysql://gb:p ss@localhost/gb":                 "mysql://gb:********@localhost/gb",
		"cp_user:S3CRET@tcp(localhost:3306)/cp_db":     "cp_user:********@tcp(localhost:3306)/cp_db",
		"https://0123abcd@o1.ingest.sentry.io/42":      "https://********@o1.ingest.sentry.io/42",
		"mysql://gb@localhost/gb?socket=/tmp/s":        "mysql://********@localhost/gb?socket=/tmp/s",
		"https://example.com/":                         "https://example.com/",
		"https://example.com/?mail=ann@example.com":    "https://example.com/?mail=ann@example.com",
		"Ann <ann@example.com>, bob@example.com":       "Ann <ann@example.com>, bob@example.com",
		"ann@example.com":                              "ann@example.com",
		"guestbook.db":                                 "guestbook.db",
		"Hello, world":                                 "Hello, world",
	} {
		if got := MaskSecret("DATABASE", value); got != want {
			t.Errorf("DATABASE=%s shown as %s, want %s", value, got, want)
		}
	}
}

// A handler's error that quotes a secret of the settings, in any form,
// reaches the log and the pages masked.
func TestRedactor(t *testing.T) {
	f, err := ReadEnvFile(writeEnv(t, "DATABASE=cp_user:S3CRET-pw@tcp(localhost:3306)/cp_db\nAPI_KEY=k-123456\nGREETING=Hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := Redactor(f.Secrets(map[string]string{"MYSQL_PWD": "from-the-environment", "PATH": "/usr/bin"}))
	for in, want := range map[string]string{
		"open cp_user:S3CRET-pw@tcp(localhost:3306)/cp_db: refused": "open cp_user:********@tcp(localhost:3306)/cp_db: refused",
		"bad key k-123456 and pw from-the-environment":              "bad key ******** and pw ********",
		"Hello from /usr/bin":                                       "Hello from /usr/bin",
	} {
		if got := r.Replace(in); got != want {
			t.Errorf("%q redacted to %q, want %q", in, got, want)
		}
	}
}

// FuzzEnvFile reads any settings file: no panic, every error names the
// file, and no value of the file ever reaches an error message, where it
// would be logged.
func FuzzEnvFile(f *testing.F) {
	seeds, _ := filepath.Glob("../../../examples/*/site/*.env")
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("DEBUG=yes please\nMAX_REQUESTS=-1\nLOG_LEVEL=loud\nADMINS=not an address\nSERVER_EMAIL=@\nEMAIL_PORT=0\n"))
	f.Add([]byte("export A=\"multi\nline\"\nB='single' # note\n"))
	f.Add([]byte("GOOD=1\nthis is not a setting\nSECRET_KEY=hunter2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const secret = "SECRET_KEY=s3cr3t-Value\n"
		data = append([]byte(secret), data...)
		file, err := parseEnvFile("mysite.env", data)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "settings file mysite.env:") || strings.Contains(msg, "s3cr3t") {
				t.Fatalf("error %q: want it to name the file and not quote it", msg)
			}
			return
		}
		_, errs := Parse(file, nil)
		for _, e := range errs {
			var se *SettingError
			if !errors.As(e, &se) || !strings.HasPrefix(se.Source, "mysite.env") {
				t.Fatalf("error %v does not name the file", e)
			}
		}
	})
}

// FuzzMaskSecret: the password of a URL is masked whole, whatever it holds.
func FuzzMaskSecret(f *testing.F) {
	f.Add("cp_user", "2024#Summer", "localhost/cp_db")
	f.Add("u", "a@b/c:d", "db.example.com:3306/x?socket=/s")
	f.Fuzz(func(t *testing.T, user, pw, host string) {
		if user == "" || pw == "" || strings.ContainsAny(user, ":@/") || strings.Contains(host, "@") {
			return
		}
		v := "mysql://" + user + ":" + pw + "@" + host
		if got, want := MaskSecret("DATABASE", v), "mysql://"+user+":********@"+host; got != want {
			t.Fatalf("%q masked as %q, want %q", v, got, want)
		}
	})
}
