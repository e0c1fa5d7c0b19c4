package hosting

import (
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

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/hosting/internal/httpengine"
	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/spawner"
	"github.com/fcgi-hosting/fcgi/responder"
)

// Run serves h the way the process was started, and exits when done:
//
//   - spawned by a web server (mod_fcgid, mod_fastcgi, lighttpd,
//     spawn-fcgi) with a listening socket on fd 0: FastCGI on it, with
//     reloads on a changed binary or settings file;
//   - started as a CGI program: the one request;
//   - with -listen: an external FastCGI (or SCGI, AJP13, HTTP) server;
//   - by Phusion Passenger as a generic app: HTTP on the port it gives;
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
	// Authorizer, if set, answers the web server's FastCGI Authorizer
	// requests (Apache mod_authnz_fcgi and mod_fcgid's FcgidAccessChecker,
	// lighttpd's "mode" => "authorizer"), sent to the same process and
	// socket as the site's own. A 200 lets the request through, with
	// the variables set by [responder.SetVariable] passed on to what
	// serves it; any other answer denies it, and goes to the client as
	// it is (mod_fcgid sends its own 401 instead). The
	// Authorizer sees the URL the client asked for, whole: what it
	// protects need not be part of the site, so no prefix is taken off.
	// Nil refuses the role.
	Authorizer http.Handler
	// Version is reported by -version and in the start-up log line.
	// Empty means the version stamped at build time (see stampedVersion),
	// else the main module's version from the build information.
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
	mode           startMode
	policies       *policies
	out            io.Writer
	spawner        spawner.Kind
	ext            externalFlags
	// The binary and the env file as they were when this process started
	// and read them, for the watcher.
	watched  map[string]reload.FileState
	handover handover
	mailer   *errorMailer
	upgrade  upgrade
	redact   *strings.Replacer // the settings' secrets, kept out of the log and pages
	ops      operations
	retiring retiring // stand-ins of this PID, serving or finishing
}

// Main runs the site with the command-line arguments args and returns the
// exit status.
func (rt *Runtime) Main(args []string) int {
	signal.Ignore(syscall.SIGPIPE)
	rt.environ = os.Environ()
	if v, ok := takeEnv(&rt.environ, reload.SpawnInodeVar); ok {
		// Re-executed: a signal that comes while the new code starts (the
		// next reload, a stop) must wait for serveLoop, not end the process.
		rt.handover.sigs = notifyServeSignals()
		rt.handover.spawnIno, _ = strconv.ParseUint(v, 10, 64)
	}
	if v, ok := takeEnv(&rt.environ, reload.ListenFDVar); ok {
		rt.handover.listenFD, _ = strconv.Atoi(v)
	}
	if v, ok := takeEnv(&rt.environ, reload.ConnFDsVar); ok {
		rt.handover.conns = reload.InheritedConns(v)
	}
	if v, ok := takeEnv(&rt.environ, reload.StandInVar); ok {
		if rt.handover.sigs == nil {
			rt.handover.sigs = notifyServeSignals()
		}
		if err := rt.enterStandIn(v); err != nil {
			os.Stderr.WriteString("cannot serve beside the old code: " + err.Error() + "\n")
			return 1
		}
	}
	rt.retiring.serve = rt.serveConn
	var standInsErr error
	if v, ok := takeEnv(&rt.environ, reload.RetiringVar); ok {
		standInsErr = rt.retiring.adopt(v)
	}
	rt.out = os.Stderr
	if rt.Version == "" {
		rt.Version = buildVersion()
	}
	rt.locate()
	if of, ok := takeEnv(&rt.environ, trialOfVar); ok {
		rt.enterTrial(of)
	}
	// The file this process runs, which a rename-replace upload racing the
	// start may no longer be at rt.exe: then the watcher sees the change.
	exe := reload.StatFile("/proc/self/exe")
	if !exe.Exists() {
		exe = reload.StatFile(rt.exe)
	}
	rt.upgrade.running = exe
	// The staged upload counts as absent: one there already is adopted.
	rt.watched = map[string]reload.FileState{rt.exe: exe, rt.stagedPath(): {}}
	if rt.handover.spawnIno == 0 {
		rt.handover.spawnIno = exe.Inode()
	}

	passengerAddr, baseURI, inPassenger := fromPassenger(os.Getenv)
	switch {
	case spawner.StdinListens():
		rt.mode = modeFastCGI
		// Package spawner gave a process of Apache's one P as the program
		// started; serveSpawned applies the settings file's GOMAXPROCS.
		rt.spawner = spawner.Parent()
		// Web servers pass no arguments here; under CGI, Apache may pass
		// words of the query string, which are no flags of ours.
	case os.Getenv("GATEWAY_INTERFACE") != "":
		rt.mode = modeCGI
	case inPassenger:
		// Arguments in the start command (an older -listen 127.0.0.1:$PORT
		// -protocol http) come to the same.
		rt.mode = modePassenger
		rt.ext = externalFlags{listen: passengerAddr, protocol: protoHTTP}
	default:
		code, done := rt.parseFlags(args)
		if done {
			return code
		}
	}

	rt.loadSettings()
	if rt.upgrade.trialRun {
		rt.settings = trialSettings(rt.settings)
	}
	closeLog := rt.openLog()
	defer closeLog()
	rt.logStart()
	if standInsErr != nil {
		rt.log.Warn().Err(standInsErr).Msg("a stand-in passed on by the code before cannot be told to step back; it stops by itself")
	}

	if rt.mode != modeFastCGI {
		rt.setProcs(false) // serveSpawned knows its spawner first
	}
	switch rt.mode {
	case modeFastCGI:
		return rt.serveSpawned()
	case modeCGI:
		if err := cgi.Serve(rt.handler()); err != nil {
			rt.log.Error().Err(err).Msg("serving the CGI request")
			return 1
		}
		return 0
	case modeExternal:
		return rt.serveExternal()
	case modePassenger:
		return rt.servePassenger(baseURI)
	}
	return 2
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

func (rt *Runtime) logStart() {
	ev := rt.log.Info().Str("version", rt.Version).Str("mode", rt.mode.String()).Str("binary", rt.exe).
		Str("go", runtime.Version())
	if _, err := os.Stat(rt.envPath()); err == nil {
		ev = ev.Str("settings", rt.envPath())
	} else {
		ev = ev.Str("settings", rt.envPath()+" (absent: defaults)")
	}
	if rt.handover.standIn != nil {
		ev.Msg("starting as a stand-in: serving while the old code finishes its requests")
	} else {
		ev.Msg("starting")
	}
	if rt.settingsErr != nil {
		rt.log.Error().Err(rt.settingsErr).Msg("bad settings: every request is answered 500 until the settings file is fixed")
	}
	if rt.settings.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(rt.settings.MemoryLimit)
	}
	rt.setGCPercent()
}

// handler is the user's handler inside the runtime's middleware, or, when
// the settings are bad, a handler that answers every request 500.
func (rt *Runtime) handler() http.Handler {
	h, _ := rt.handlers()
	return h
}

// handlers are the site's handler and the Authorizer (nil when unset),
// each inside the runtime's middleware that fits its role.
func (rt *Runtime) handlers() (http.Handler, http.Handler) {
	if rt.mailer == nil {
		rt.mailer = newErrorMailer(&rt.settings, rt.log)
	}
	pages := &errorPages{dir: rt.dir, debug: rt.settings.Debug, log: rt.log, settings: rt.maskedSettings, mailer: rt.mailer,
		redact: rt.redact}
	rt.policies = newPolicies(&rt.settings)
	h, auth := rt.Handler, rt.Authorizer
	if rt.settingsErr != nil {
		// Bad settings deny every authorization too.
		err := rt.settingsErr
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pages.serve(w, r, http.StatusInternalServerError, err.Error(), nil)
		})
		if auth != nil {
			auth = h
		}
	} else if h == nil {
		h = http.DefaultServeMux
	}
	if !rt.ops.made {
		rt.ops.made = true
		rt.takeReloads()
		status := newStatusPage(&rt.settings, rt.Version, rt.mode, &rt.ops.reloads)
		rt.ops.requests = newRequests(&rt.settings, pages, status, newBrokenLinks(&rt.settings, rt.log), rt.log)
		if rt.ops.requests != nil {
			go rt.ops.requests.watch(nil) // until the process exits or re-executes
		}
	}
	s := &site{pages: pages, mode: rt.mode, version: rt.Version}
	h = pages.middleware(h)
	if rt.ops.requests != nil {
		h = rt.ops.requests.middleware(h)
	}
	h = rt.policies.middleware(withPrefix(&rt.settings, s.middleware(h)))
	if auth != nil {
		// An authorizer's answer is a decision, not a page: no status
		// page or broken-link mail, and no prefix (see Authorizer). A
		// panic is still a 500, which denies.
		auth = pages.middleware(auth)
		if rt.ops.requests != nil {
			auth = rt.ops.requests.authorizing(auth)
		}
		auth = rt.policies.middleware(s.middleware(auth))
	}
	return h, auth
}

func (rt *Runtime) newServer() engine {
	h, auth := rt.handlers()
	srv := &responder.Server{Handler: h, Authorizer: auth, Logger: &rt.log,
		MaxConns: rt.ext.maxConns, MaxConcurrentRequests: rt.ext.maxReqs}
	if rt.ConfigureServer != nil {
		rt.ConfigureServer(srv)
	}
	if rt.ext.protocol == protoHTTP {
		e := httpengine.New(srv, rt.log)
		e.Passenger = rt.mode == modePassenger
		return e
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
