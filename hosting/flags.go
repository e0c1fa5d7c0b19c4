package hosting

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/mattn/go-isatty"
)

// parseFlags handles a start from a shell. It reports done with an exit
// status when nothing is to be served.
func (rt *Runtime) parseFlags(args []string) (int, bool) {
	fs := flag.NewFlagSet(rt.name, flag.ContinueOnError)
	fs.SetOutput(rt.out)
	version := fs.Bool("version", false, "print the version and exit")
	check := fs.Bool("check", false, "print how this binary would run here (paths, settings, log, permissions, fd 0) and exit")
	listen := fs.String("listen", "", "serve FastCGI as an external server on `ADDR`: host:port, [::1]:port or unix:/path.sock; "+
		"ignored when systemd passes sockets (socket activation, LISTEN_FDS), which are served instead")
	var ext externalFlags
	protocolFlag := fs.String("protocol", protocolFlags[protoFastCGI], "with -listen or socket activation, what the web server speaks: `fcgi`, scgi (nginx scgi_pass, mod_proxy_scgi, lighttpd mod_scgi), ajp (Apache mod_proxy_ajp) or http (a reverse proxy)")
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
	// Taken whatever the flags, so that no child inherits the sockets.
	act, ignored, actErr := takeActivation(&rt.environ)
	if ignored != "" {
		fmt.Fprintf(rt.out, "%s: %s\n", rt.name, ignored)
	}
	switch {
	case *version:
		fmt.Fprintf(os.Stdout, "%s %s %s/%s %s\n", rt.name, rt.Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0, true
	case *check:
		return rt.check(os.Stdout), true
	case *listen != "" || act != nil || actErr != nil:
		if actErr != nil {
			fmt.Fprintf(rt.out, "%s: socket activation: %v\n", rt.name, actErr)
			return 1, true
		}
		rt.mode = modeExternal
		rt.ext = ext
		rt.ext.listen = *listen
		rt.ext.activated = act
		p, ok := parseProtocol(*protocolFlag)
		if !ok {
			fmt.Fprintf(rt.out, "%s: -protocol %q: want fcgi, scgi, ajp or http\n", rt.name, *protocolFlag)
			return 2, true
		}
		rt.ext.protocol = p
		if ext.daemonize {
			if act != nil {
				fmt.Fprintf(rt.out, "%s: -daemonize with socket activation: systemd runs the service; remove -daemonize\n", rt.name)
				return 2, true
			}
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
