package hosting

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
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

// serveSpawned serves FastCGI on the socket the web server left on fd 0.
func (rt *Runtime) serveSpawned() int {
	fd0 := os.NewFile(0, "fastcgi-listener")
	l, err := net.FileListener(fd0) // a close-on-exec duplicate
	if err != nil {
		rt.log.Error().Err(err).Msg("fd 0 is a socket but cannot be served")
		return 1
	}
	rt.spawner = detectSpawner()
	idle := rt.settings.IdleTimeout
	if idle > 0 && !rt.spawner.exitWhenIdle() {
		rt.log.Info().Stringer("spawner", rt.spawner).Msg("IDLE_TIMEOUT ignored: this spawner does not start a new process on demand")
		idle = 0
	}
	stopListening := func() {
		// Stop listening before the last response completes, so the web
		// server connects to another process instead of one that is gone.
		l.Close()
		fd0.Close()
	}
	// fd 0 is inherited by the new code as it is.
	prepareExec := func() ([]string, error) { return nil, nil }
	return rt.serveLoop(reload.PausingListener{Listener: l}, stopListening, prepareExec, idle)
}

// serveLoop serves l until a signal, a change of the binary or settings
// file, or a process policy ends it: by exiting (stopListening first), or
// by re-executing the binary in place, which keeps the PID and the
// listening socket, so that connections queued meanwhile are served by the
// new code. prepareExec readies the socket for the new process and
// returns what to add to its environment.
func (rt *Runtime) serveLoop(l reload.PausingListener, stopListening func(), prepareExec func() ([]string, error), idleTimeout time.Duration) int {
	sigs := rt.sigs
	if sigs == nil {
		sigs = notifyServeSignals()
	}
	defer signal.Stop(sigs)

	var changed <-chan string
	var w *reload.Watcher
	if rt.settings.ReloadPoll > 0 {
		w = reload.NewWatcher(map[string]reload.FileState{rt.exe: rt.exeState, rt.envPath(): rt.envState}, rt.settings.ReloadPoll, rt.log)
		defer w.Close()
		changed = w.Changed
	}
	var idle <-chan time.Time
	if idleTimeout > 0 {
		t := time.NewTicker(max(idleTimeout/4, 100*time.Millisecond))
		defer t.Stop()
		idle = t.C
	}
	canReexec := true

	for {
		srv := rt.newServer()
		served := make(chan error, 1)
		rt.adoptConns(srv)
		go func() { served <- srv.Serve(rt.ext.speaking(l)) }()

		reason, reexec := "", false
	wait:
		for {
			select {
			case err := <-served:
				rt.log.Error().Err(err).Msg("serving stopped")
				stopListening()
				return 1
			case sig := <-sigs:
				reason = "signal " + sig.String()
				reexec = canReexec && (sig == syscall.SIGHUP || sig == syscall.SIGUSR1)
				break wait
			case path := <-changed:
				reason, reexec = filepath.Base(path)+" changed", canReexec
				if path == rt.envPath() && rt.settingsErr == nil {
					if err := rt.checkNewSettings(); err != nil {
						// Good settings are not traded for bad ones: an edit
						// with a typo, or a file mid-upload, leaves the site up.
						rt.log.Error().Err(err).Msg("settings file changed but cannot be used; the running settings stay")
						w.Accept(path)
						continue
					}
				}
				if path == rt.exe {
					if err := reload.CheckExecutable(rt.exe); err != nil {
						rt.log.Error().Err(err).Msg("binary changed but cannot run; the old code keeps serving")
						w.Accept(path)
						continue
					}
					if rt.spawner == spawnerApache && reload.StatFile(rt.exe).Inode() != rt.spawnIno {
						// mod_fcgid keys processes by inode: it starts the
						// new file itself and would leave this one idle.
						reason, reexec = filepath.Base(path)+" replaced by a new file, which Apache starts", false
					}
				}
				break wait
			case why := <-rt.policies.recycle:
				reason, reexec = why, true
				break wait
			case <-idle:
				if rt.policies.idleFor() >= idleTimeout {
					reason = "IDLE_TIMEOUT: idle for " + idleTimeout.String()
					break wait
				}
			}
		}

		if !reexec {
			rt.log.Info().Str("reason", reason).Msg("stopping: finishing requests in progress")
			stopListening()
			rt.drain(srv, stopGrace, sigs)
			<-served
			rt.log.Info().Msg("stopped")
			return 0
		}
		rt.log.Info().Str("reason", reason).Msg("handing over to the new code: finishing requests in progress")
		conns, stop := rt.handoff(srv, reloadGrace, sigs)
		<-served
		// A SIGTERM or SIGINT that came during the hand-over, or comes
		// until the exec, would be lost to the new code: stop instead.
		stopInstead := func() int {
			for _, c := range conns {
				c.Close()
			}
			stopListening()
			rt.log.Info().Msg("stopped instead of handing over: asked to meanwhile")
			return 0
		}
		if stop || stopPending(sigs) {
			return stopInstead()
		}
		rt.adopt = conns // served again if the hand-over fails
		if err := reload.CheckExecutable(rt.exe); err != nil {
			rt.log.Error().Err(err).Msg("cannot hand over; the old code keeps serving")
			l.Resume()
			continue
		}
		extra, err := prepareExec()
		if err == nil {
			extra, err = reload.PassConns(extra, conns)
		}
		if err == nil {
			if stopPending(sigs) {
				return stopInstead()
			}
			rt.log.Info().Int("connections", len(conns)).Msg("re-executing in place")
			env := append(slices.Clip(rt.environ), reload.SpawnInodeVar+"="+strconv.FormatUint(rt.spawnIno, 10))
			err = syscall.Exec(rt.exe, os.Args, append(env, extra...))
		}
		rt.log.Error().Err(err).Msg("re-exec failed; the old code keeps serving")
		l.Resume()
	}
}

// handoff is drain for a re-execution: kept-alive connections that are
// idle are returned to be passed on instead of closed. stop reports a
// SIGTERM or SIGINT come meanwhile: then the process is to stop instead.
func (rt *Runtime) handoff(srv engine, grace time.Duration, sigs <-chan os.Signal) (conns []*os.File, stop bool) {
	return rt.finishRequests(srv, grace, sigs, srv.Handoff)
}

// drain lets in-flight requests finish within grace; a second Ctrl-C
// ends them at once.
func (rt *Runtime) drain(srv engine, grace time.Duration, sigs <-chan os.Signal) {
	rt.finishRequests(srv, grace, sigs, func(ctx context.Context) ([]*os.File, error) { return nil, srv.Shutdown(ctx) })
}

// finishRequests runs finish (Shutdown or Handoff) with grace as its
// deadline, closing srv when the deadline passes or cutShort says so. stop
// reports whether SIGTERM or SIGINT came meanwhile.
func (rt *Runtime) finishRequests(srv engine, grace time.Duration, sigs <-chan os.Signal,
	finish func(context.Context) ([]*os.File, error)) (files []*os.File, stop bool) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	type result struct {
		files []*os.File
		err   error
	}
	done := make(chan result, 1)
	go func() {
		fs, err := finish(ctx)
		done <- result{fs, err}
	}()
	for {
		select {
		case r := <-done:
			// Only the grace passing leaves requests running: any other
			// error is closing a listener that stopListening closed.
			if errors.Is(r.err, context.DeadlineExceeded) {
				rt.log.Warn().Dur("grace", grace).Msg("requests still running after the grace period were cut")
				srv.Close()
			}
			return r.files, stop
		case sig := <-sigs:
			stop = stop || stops(sig)
			if rt.cutShort(sig) {
				srv.Close()
				return (<-done).files, stop
			}
		}
	}
}

// stopPending takes the signals waiting in sigs and reports whether one
// stops the server.
func stopPending(sigs <-chan os.Signal) bool {
	stop := false
	for {
		select {
		case sig := <-sigs:
			stop = stop || stops(sig)
		default:
			return stop
		}
	}
}

func stops(sig os.Signal) bool { return sig == syscall.SIGTERM || sig == syscall.SIGINT }

// notifyServeSignals catches the signals that stop or reload a server.
func notifyServeSignals() chan os.Signal {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	return sigs
}

// cutShort reports whether sig, come while requests are being finished,
// ends them at once: only SIGINT does (a second Ctrl-C). mod_fcgid sends
// SIGTERM twice on a graceful restart, and a reload asked for during a
// stop or a hand-over is one already under way.
func (rt *Runtime) cutShort(sig os.Signal) bool {
	if sig == syscall.SIGINT {
		rt.log.Warn().Msg("interrupted again: closing at once")
		return true
	}
	rt.log.Info().Str("signal", sig.String()).Msg("already finishing requests in progress")
	return false
}
