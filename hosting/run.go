package hosting

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/hosting/internal/httpengine"
	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
	"github.com/fcgi-hosting/fcgi/responder"
)

// How long in-flight requests may take to finish.
const (
	// stopGrace fits inside the 8 s mod_fcgid gives on Apache's graceful
	// restart (SIGTERM, again a second later, SIGKILL at 8 s). Its idle and
	// lifetime kills (SIGKILL 3 s after SIGTERM) only stop idle processes.
	stopGrace = 7500 * time.Millisecond
	// reloadGrace bounds a hand-over to new code; requests still running
	// then (long streams) are cut.
	reloadGrace = 30 * time.Second
)

// Run serves h the way the process was started, and exits when done:
//
//   - spawned by a web server (mod_fcgid, mod_fastcgi, lighttpd,
//     spawn-fcgi) with a listening socket on fd 0: FastCGI on it, with
//     reloads on a changed binary or settings file;
//   - started as a CGI program: the one request;
//   - with -listen: an external FastCGI (or SCGI, AJP13, HTTP) server;
//   - from a terminal: a local emulation of the host.
//
// A nil h means http.DefaultServeMux. Run never returns.
func Run(h http.Handler) {
	os.Exit((&Runtime{Handler: h}).Main(os.Args[1:]))
}

// Runtime is Run with its parts exposed, for programs that need more.
type Runtime struct {
	// Handler serves the site; nil means http.DefaultServeMux.
	Handler http.Handler
	// Version is reported by -version and in the start-up log line.
	// Empty means the main module's version from the build information.
	Version string
	// ConfigureServer, if set, adjusts each FastCGI engine the Runtime
	// makes (limits, timeouts) after it set Handler and Logger. With
	// -protocol http, the limits carry over to net/http's server.
	ConfigureServer func(*responder.Server)

	// Filled in by Main.
	exe, dir, name string
	environ        []string // the environment as the process got it
	settings       Settings
	settingsErr    error
	log            zerolog.Logger
	mode           string
	policies       *policies
	out            io.Writer
	spawner        spawner
	spawnIno       uint64 // inode of the binary the web server started
	listen         string // -listen
	ext            externalFlags
	inheritedFD    int              // the listening socket passed on by a re-execution
	exeState       reload.FileState // the binary and the env file as they were
	envState       reload.FileState // when this process started and read them
	adopt          []*os.File       // connections passed on, for the next Server
	sigs           chan os.Signal   // caught from the start when re-executed
	passed         []*os.File       // descriptors readied for the next exec
	mailer         *errorMailer
}

// Main runs the site with the command-line arguments args and returns the
// exit status.
func (rt *Runtime) Main(args []string) int {
	signal.Ignore(syscall.SIGPIPE)
	rt.environ = os.Environ()
	if v, ok := takeEnv(&rt.environ, reload.SpawnInodeVar); ok {
		// Re-executed: a signal that comes while the new code starts (the
		// next reload, a stop) must wait for serveLoop, not end the process.
		rt.sigs = notifyServeSignals()
		rt.spawnIno, _ = strconv.ParseUint(v, 10, 64)
	}
	if v, ok := takeEnv(&rt.environ, reload.ListenFDVar); ok {
		rt.inheritedFD, _ = strconv.Atoi(v)
	}
	if v, ok := takeEnv(&rt.environ, reload.ConnFDsVar); ok {
		rt.adopt = reload.InheritedConns(v)
	}
	rt.out = os.Stderr
	if rt.Version == "" {
		rt.Version = buildVersion()
	}
	rt.locate()
	// The file this process runs, which a rename-replace upload racing the
	// start may no longer be at rt.exe: then the watcher sees the change.
	rt.exeState = reload.StatFile("/proc/self/exe")
	if !rt.exeState.Exists() {
		rt.exeState = reload.StatFile(rt.exe)
	}
	if rt.spawnIno == 0 {
		rt.spawnIno = rt.exeState.Inode()
	}

	switch {
	case stdinListens():
		rt.mode = "fastcgi"
		// Web servers pass no arguments here; under CGI, Apache may pass
		// words of the query string, which are no flags of ours.
	case os.Getenv("GATEWAY_INTERFACE") != "":
		rt.mode = "cgi"
	default:
		code, done := rt.parseFlags(args)
		if done {
			return code
		}
	}

	rt.loadSettings()
	current.Store(rt)
	closeLog := rt.openLog()
	defer closeLog()
	rt.logStart()

	switch rt.mode {
	case "fastcgi":
		return rt.serveSpawned()
	case "cgi":
		if err := cgi.Serve(rt.handler()); err != nil {
			rt.log.Error().Err(err).Msg("serving the CGI request")
			return 1
		}
		return 0
	case "external":
		return rt.serveExternal()
	}
	return 2
}

// parseFlags handles a start from a shell. It reports done with an exit
// status when nothing is to be served.
func (rt *Runtime) parseFlags(args []string) (int, bool) {
	fs := flag.NewFlagSet(rt.name, flag.ContinueOnError)
	fs.SetOutput(rt.out)
	version := fs.Bool("version", false, "print the version and exit")
	check := fs.Bool("check", false, "print how this binary would run here (paths, settings, log, permissions, fd 0) and exit")
	listen := fs.String("listen", "", "serve FastCGI as an external server on `ADDR`: host:port, [::1]:port or unix:/path.sock")
	var ext externalFlags
	fs.StringVar(&ext.protocol, "protocol", "fcgi", "with -listen, what the web server speaks: `fcgi`, scgi (nginx scgi_pass, mod_proxy_scgi, lighttpd mod_scgi), ajp (Apache mod_proxy_ajp) or http (a reverse proxy)")
	fs.StringVar(&ext.socketMode, "socket-mode", "", "with -listen unix:, the socket file's `MODE` (octal, e.g. 0660); runfcgi's umask")
	fs.StringVar(&ext.pidfile, "pidfile", "", "with -listen, write the PID to `FILE` (a stale one is replaced, a live one refused)")
	fs.StringVar(&ext.workdir, "workdir", "", "with -listen, change to `DIR` first")
	fs.BoolVar(&ext.daemonize, "daemonize", false, "with -listen, detach from the terminal; output goes to the log file")
	fs.IntVar(&ext.maxRequests, "maxrequests", 0, "with -listen, hand over to a fresh process after `N` requests (MAX_REQUESTS)")
	fs.IntVar(&ext.maxConns, "maxconns", 0, "with -listen, connections served at once (default 1000)")
	fs.IntVar(&ext.maxReqs, "maxreqs", 0, "with -listen, requests in progress at once, FCGI_MAX_REQS (default 1000)")
	local := fs.Bool("local", false, "run the local emulation of the host even without a terminal")
	addr := fs.String("addr", "127.0.0.1:8000", "`ADDR` of the local emulation")
	fs.Usage = func() {
		fmt.Fprintf(rt.out, `%s: a Go web site for FastCGI hosting.

Upload it as %s.fcgi beside a .htaccess with "AddHandler fcgid-script .fcgi" and
a %s.env settings file; the web server starts it. Started by hand:

`, rt.name, rt.name, rt.name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	switch {
	case *version:
		fmt.Fprintf(os.Stdout, "%s %s %s/%s %s\n", rt.name, rt.Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0, true
	case *check:
		return rt.check(os.Stdout), true
	case *listen != "":
		rt.mode = "external"
		rt.listen = *listen
		rt.ext = ext
		if p := ext.protocol; p != "fcgi" && p != "scgi" && p != "ajp" && p != "http" {
			fmt.Fprintf(rt.out, "%s: -protocol %q: want fcgi, scgi, ajp or http\n", rt.name, p)
			return 2, true
		}
		if ext.daemonize {
			return rt.daemonize(args), true
		}
		if ext.workdir != "" {
			if err := os.Chdir(ext.workdir); err != nil {
				fmt.Fprintf(rt.out, "%s: -workdir: %v\n", rt.name, err)
				return 1, true
			}
		}
		return 0, false
	}
	if *local || isatty.IsTerminal(os.Stdin.Fd()) {
		return rt.serveLocal(*addr), true
	}
	fmt.Fprintf(rt.out, "%s: not started by a web server (fd 0 is no listening socket and GATEWAY_INTERFACE is unset).\n"+
		"Upload it beside a .htaccess, or run it with -listen ADDR; -help lists the flags.\n", rt.name)
	return 2, true
}

// locate finds the binary, its directory and base name. Under suEXEC
// argv[0] is only the base name; /proc/self/exe (os.Executable) is right.
func (rt *Runtime) locate() {
	exe, err := os.Executable()
	if err != nil {
		exe, _ = filepath.Abs(os.Args[0])
	}
	rt.exe = exe
	rt.dir = filepath.Dir(exe)
	base := filepath.Base(exe)
	rt.name = strings.TrimSuffix(base, filepath.Ext(base))
}

func (rt *Runtime) envPath() string { return filepath.Join(rt.dir, rt.name+".env") }

func (rt *Runtime) loadSettings() {
	rt.envState = reload.StatFile(rt.envPath()) // before reading: a later edit is seen as a change
	f, err := settings.ReadEnvFile(rt.envPath())
	if err != nil {
		rt.settings, rt.settingsErr = settings.Defaults(), err
		return
	}
	environ := settings.EnvironMap(rt.environ)
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

func (rt *Runtime) logStart() {
	ev := rt.log.Info().Str("version", rt.Version).Str("mode", rt.mode).Str("binary", rt.exe).
		Str("go", runtime.Version())
	if _, err := os.Stat(rt.envPath()); err == nil {
		ev = ev.Str("settings", rt.envPath())
	} else {
		ev = ev.Str("settings", rt.envPath()+" (absent: defaults)")
	}
	ev.Msg("starting")
	if rt.settingsErr != nil {
		rt.log.Error().Err(rt.settingsErr).Msg("bad settings: every request is answered 500 until the settings file is fixed")
	}
	if rt.settings.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(rt.settings.MemoryLimit)
	}
}

// handler is the user's handler inside the runtime's middleware, or, when
// the settings are bad, a handler that answers every request 500.
func (rt *Runtime) handler() http.Handler {
	if rt.mailer == nil {
		rt.mailer = newErrorMailer(&rt.settings, rt.log)
	}
	pages := &errorPages{dir: rt.dir, debug: rt.settings.Debug, log: rt.log, settings: rt.maskedSettings, mailer: rt.mailer}
	rt.policies = newPolicies(&rt.settings)
	var h http.Handler
	if rt.settingsErr != nil {
		err := rt.settingsErr
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pages.serve(w, r, http.StatusInternalServerError, err.Error(), nil)
		})
	} else {
		h = rt.Handler
		if h == nil {
			h = http.DefaultServeMux
		}
	}
	return rt.policies.middleware(withPrefix(&rt.settings, pages.middleware(h)))
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

func (rt *Runtime) newServer() engine {
	srv := &responder.Server{Handler: rt.handler(), Logger: &rt.log,
		MaxConns: rt.ext.maxConns, MaxConcurrentRequests: rt.ext.maxReqs}
	if rt.ConfigureServer != nil {
		rt.ConfigureServer(srv)
	}
	if rt.ext.protocol == "http" {
		return httpengine.New(srv, rt.log)
	}
	return srv
}

// takeEnv removes name, a variable the runtime passes to itself across
// re-execution, from the environment and from environ.
func takeEnv(environ *[]string, name string) (string, bool) {
	v, ok := os.LookupEnv(name)
	if ok {
		os.Unsetenv(name)
		*environ = slices.DeleteFunc(*environ, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
	}
	return v, ok
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return "devel"
}
