package hosting

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/fcgi-hosting/fcgi/hosting/emulate"
)

// serveLocal runs the binary's own directory in the local emulation of
// the host: the emulator spawns this very binary as mod_fcgid would.
func (rt *Runtime) serveLocal(addr string) int {
	if _, err := os.Stat(filepath.Join(rt.dir, ".htaccess")); err != nil {
		fmt.Fprintf(rt.out, "%s: no .htaccess in %s.\nThe local emulation serves the site laid out as you upload it: "+
			"this binary as %s.fcgi beside the .htaccess from deploy/apache-fcgid/htaccess (make run does this for the example).\n",
			rt.name, rt.dir, rt.name)
		return 2
	}
	return RunEmulator(rt.dir, addr, []string{"LOG_FILE=stderr"}, rt.out)
}

// RunEmulator serves dir in the local emulation of Apache + mod_fcgid on
// addr until SIGINT or SIGTERM, and returns the exit status. env is added
// to the environment of the spawned scripts.
func RunEmulator(dir, addr string, env []string, out io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &emulate.Emulator{Root: dir, Env: env, Log: out}
	abs, _ := filepath.Abs(dir)
	fmt.Fprintf(out, `Local emulation of a shared host: Apache 2.4 + mod_fcgid
  site:      %s
  browse:    http://%s/
  emulated:  .htaccess (AddHandler, Options, DirectoryIndex, RewriteCond/RewriteRule, FilesMatch),
             static files, mod_fcgid spawning (socket on fd 0, cwd, PATH only, one request per
             process), Apache's CGI variables, FcgidMaxRequestLen %d bytes
  scripts get: %v (so their log shows here)
`, abs, addr, emulate.DefaultMaxRequestLen, env)
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
