package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// config is what a deploy needs to know: from flags, else the
// environment, else deploy.env.
type config struct {
	protocol   string // ftp, ftps or sftp
	host       string
	port       int
	user       string
	password   string // never printed
	sshKey     string // a private key file, for sftp
	knownHosts string // for sftp; default ~/.ssh/known_hosts
	insecure   bool   // ftps: accept a certificate that does not verify
	remoteDir  string // the site's directory, relative to the login directory or absolute
	siteURL    string
	site       string // the binary's name without .fcgi
	goos       string
	goarch     string
	version    string
	pkg        string // the main package to build
	siteFiles  string // the folder of 404.html, 500.html, static/...
	settings   string // a local file to upload as SITE.env; "" leaves the host's alone
	htaccess   string // "" takes deploy/apache-fcgid/htaccess of the fcgi module the site builds with
	limitRate  int64  // bytes a second per upload; 0: no limit
	wait       time.Duration
	noWait     bool
	configFile string
}

// setting describes a value settable by flag, environment or deploy.env.
type setting struct {
	flag, env, usage string
	str              *string
	boolean          *bool
	integer          *int
}

func (c *config) all() []setting {
	return []setting{
		{flag: "protocol", env: "DEPLOY_PROTOCOL", usage: "`ftp`, ftps (explicit TLS) or sftp", str: &c.protocol},
		{flag: "host", env: "DEPLOY_HOST", usage: "the FTP or SSH server", str: &c.host},
		{flag: "port", env: "DEPLOY_PORT", usage: "its port (default 21, or 22 for sftp)", integer: &c.port},
		{flag: "user", env: "DEPLOY_USER", usage: "the login", str: &c.user},
		{flag: "password", env: "DEPLOY_PASSWORD", usage: "the password (better in deploy.env or the environment than on the command line)", str: &c.password},
		{flag: "ssh-key", env: "DEPLOY_SSH_KEY", usage: "sftp: a private key `file`", str: &c.sshKey},
		{flag: "known-hosts", env: "DEPLOY_KNOWN_HOSTS", usage: "sftp: the known_hosts `file` the server's key must be in (default ~/.ssh/known_hosts)", str: &c.knownHosts},
		{flag: "insecure-tls", env: "DEPLOY_INSECURE_TLS", usage: "ftps: accept a certificate that does not verify (self-signed); says so on every run", boolean: &c.insecure},
		{flag: "dir", env: "DEPLOY_DIR", usage: "the site's `directory` on the host, such as public_html", str: &c.remoteDir},
		{flag: "url", env: "DEPLOY_SITE_URL", usage: "the site's `URL`, requested to start the new version and to see it answer", str: &c.siteURL},
		{flag: "site", env: "DEPLOY_SITE", usage: "the binary's `name` on the host, without .fcgi", str: &c.site},
		{flag: "goos", env: "DEPLOY_GOOS", usage: "the host's OS (default: read from the binary on the host, else linux)", str: &c.goos},
		{flag: "goarch", env: "DEPLOY_GOARCH", usage: "the host's architecture (default: read from the binary on the host, else amd64)", str: &c.goarch},
		{flag: "version", env: "DEPLOY_VERSION", usage: "the `version` stamped in the build (default: git describe --always --dirty)", str: &c.version},
		{flag: "files", env: "DEPLOY_FILES", usage: "the `folder` of the site's other files: 404.html, 500.html, static/... (default: site/ beside the package, if any)", str: &c.siteFiles},
		{flag: "settings", env: "DEPLOY_SETTINGS", usage: "a local `file` to upload as the site's settings file (default: none; the host's is left alone)", str: &c.settings},
		{flag: "htaccess", env: "DEPLOY_HTACCESS", usage: "a local `file` to upload as .htaccess (default: deploy/apache-fcgid/htaccess of the fcgi module the site builds with)", str: &c.htaccess},
	}
}

// parseConfig reads args, then the environment (getenv), then the
// settings file (-config, default deploy.env in the working directory).
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{site: "mysite", wait: 2 * time.Minute, pkg: "."}
	fs := flag.NewFlagSet("fcgi-deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: fcgi-deploy [flags] [package]\n\n"+
			"Builds the site's main package (default .) for the host, uploads what changed over FTP, FTPS or SFTP,\n"+
			"and waits until the new version is live. Settings come from flags, then DEPLOY_* environment\n"+
			"variables, then deploy.env in the working directory.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.configFile, "config", "", "the deploy settings `file` (default deploy.env, if present)")
	fs.DurationVar(&c.wait, "wait", c.wait, "how long to wait for the new version to be live")
	fs.BoolVar(&c.noWait, "no-wait", false, "upload, and do not wait for the new version")
	fs.Func("limit-rate", "upload at most `RATE` bytes a second, such as 500k or 2M (DEPLOY_LIMIT_RATE)", func(v string) error {
		n, err := parseRate(v)
		c.limitRate = n
		return err
	})
	set := map[string]bool{}
	for _, s := range c.all() {
		switch {
		case s.boolean != nil:
			fs.BoolVar(s.boolean, s.flag, false, s.usage+" ("+s.env+")")
		case s.integer != nil:
			fs.IntVar(s.integer, s.flag, 0, s.usage+" ("+s.env+")")
		default:
			fs.StringVar(s.str, s.flag, *s.str, s.usage+" ("+s.env+")")
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if v := getenv("DEPLOY_LIMIT_RATE"); v != "" && !set["limit-rate"] {
		n, err := parseRate(v)
		if err != nil {
			return nil, fmt.Errorf("DEPLOY_LIMIT_RATE: %w", err)
		}
		c.limitRate = n
	}
	switch fs.NArg() {
	case 0:
	case 1:
		c.pkg = fs.Arg(0)
	default:
		return nil, errors.New("one package at most; see fcgi-deploy -help")
	}
	file := map[string]string{}
	name := c.configFile
	if name == "" {
		name = "deploy.env"
	}
	b, err := os.ReadFile(name)
	switch {
	case err == nil:
		if file, err = godotenv.UnmarshalBytes(b); err != nil {
			// godotenv may quote the line, which may hold the password.
			return nil, fmt.Errorf("%s: not NAME=value lines; check its syntax", name)
		}
	case c.configFile != "" || !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	for _, s := range c.all() {
		if set[s.flag] {
			continue
		}
		v := getenv(s.env)
		if v == "" {
			v = file[s.env]
		}
		if v == "" {
			continue
		}
		switch {
		case s.boolean != nil:
			bv, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s: want true or false, got %q", s.env, v)
			}
			*s.boolean = bv
		case s.integer != nil:
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%s: want a number, got %q", s.env, v)
			}
			*s.integer = n
		default:
			*s.str = v
		}
	}
	return c, c.check()
}

// check completes the defaults and says what is missing.
func (c *config) check() error {
	c.protocol = strings.ToLower(c.protocol)
	switch c.protocol {
	case "":
		c.protocol = "ftp"
	case "ftp", "ftps", "sftp":
	default:
		return fmt.Errorf("DEPLOY_PROTOCOL: want ftp, ftps or sftp, got %q", c.protocol)
	}
	if c.port == 0 {
		c.port = 21
		if c.protocol == "sftp" {
			c.port = 22
		}
	}
	var missing []string
	if c.host == "" {
		missing = append(missing, "DEPLOY_HOST (-host)")
	}
	if c.user == "" {
		missing = append(missing, "DEPLOY_USER (-user)")
	}
	if c.protocol == "sftp" && c.sshKey == "" && c.password == "" {
		missing = append(missing, "DEPLOY_SSH_KEY (-ssh-key) or DEPLOY_PASSWORD")
	}
	if c.protocol != "sftp" && c.password == "" {
		missing = append(missing, "DEPLOY_PASSWORD")
	}
	if c.siteURL == "" && !c.noWait {
		missing = append(missing, "DEPLOY_SITE_URL (-url), or -no-wait")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing settings: %s; set them in deploy.env, the environment or flags (fcgi-deploy -help)",
			strings.Join(missing, ", "))
	}
	if c.site == "" || strings.ContainsAny(c.site, "/\\") {
		return fmt.Errorf("DEPLOY_SITE: want a file name without .fcgi, got %q", c.site)
	}
	// Relative to the login directory unless absolute.
	c.remoteDir = path.Clean(c.remoteDir) // "" is "."
	return nil
}

// address is host:port.
func (c *config) address() string {
	return net.JoinHostPort(strings.Trim(c.host, "[]"), strconv.Itoa(c.port))
}

// parseRate reads a rate in bytes a second: 500000, 500k, 2M.
func parseRate(v string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "k"), strings.HasSuffix(v, "K"):
		mult, v = 1000, v[:len(v)-1]
	case strings.HasSuffix(v, "M"), strings.HasSuffix(v, "m"):
		mult, v = 1000*1000, v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want bytes a second such as 500k or 2M, got %q", v)
	}
	return n * mult, nil
}
