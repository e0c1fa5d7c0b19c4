package emulate

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// Run serves dir in the local emulation of Apache + mod_fcgid on addr
// until SIGINT or SIGTERM, and returns the exit status. env is added to
// the environment of the spawned scripts. Requests may name the host
// names in $FCGI_LOCAL_ALLOW_HOSTS (comma-separated) besides the loopback
// ones and IP addresses (see Emulator.AllowHosts). It lives here rather
// than in hosting so that a tool serving any site (cmd/fcgi-local) does
// not link the runtime.
func Run(dir, addr string, env []string, out io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &Emulator{Root: dir, Env: env, Log: out, AllowHosts: strings.FieldsFunc(os.Getenv(AllowHostsVar), func(r rune) bool {
		return r == ',' || r == ' '
	})}
	if err := e.init(); err != nil {
		fmt.Fprintf(out, "emulation: %v\n", err)
		return 1
	}
	lim := e.readLimits()
	hosts := "localhost, *.localhost, IP addresses"
	for _, h := range e.AllowHosts {
		hosts += ", " + h
	}
	fmt.Fprintf(out, `Local emulation of a shared host: Apache 2.4 + mod_fcgid
  site:      %s
  browse:    http://%s/
  emulated:  .htaccess (AddHandler, Options, DirectoryIndex, RewriteCond/RewriteRule, FilesMatch),
             static files, mod_fcgid spawning (socket on fd 0, cwd, PATH only, one request per
             process), Apache's CGI variables, FcgidMaxRequestLen %d bytes
  limits:    as Debian's Apache: RequestReadTimeout header=%s-%s,MinRate=%d body=%s,MinRate=%d
             (408; 500 for a slow body to the application), LimitRequestLine %d (414),
             LimitRequestFieldSize %d and LimitRequestFields %d (400); paths normalised
             (/a/../b is /b); DirectorySlash (301)
  scripts get: %v (so their log shows here)
  hosts:     %s; requests for other names get 403 (DNS rebinding);
             %s=name,... allows more
`, e.Root, addr, DefaultMaxRequestLen, secs(lim.header), secs(lim.headerMax), lim.minRate, secs(lim.body), lim.minRate, lim.line, lim.field, lim.fields,
		e.env, hosts, AllowHostsVar)
	// Where DEBUG and the like come from here, and not on the host.
	devFiles, _ := filepath.Glob(filepath.Join(e.Root, "*.dev.env"))
	for _, dev := range devFiles {
		name := filepath.Base(dev)
		fmt.Fprintf(out, "  settings:  %s read over %s.env: for this machine only, never uploaded\n", name, strings.TrimSuffix(name, ".dev.env"))
	}
	for _, w := range e.Warnings() {
		fmt.Fprintf(out, "  warning:   %s\n", w)
	}
	fmt.Fprintln(out, "Ctrl-C stops the emulation and every process it started.")
	if err := e.ListenAndServe(ctx, addr); err != nil {
		fmt.Fprintf(out, "emulation: %v\n", err)
		return 1
	}
	return 0
}
