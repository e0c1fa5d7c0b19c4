package hosting

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	return emulate.Run(rt.dir, addr, []string{"LOG_FILE=stderr"}, rt.out)
}

// RunEmulator is emulate.Run, kept for the programs that called it here
// before it moved so that cmd/fcgi-local need not link the runtime.
func RunEmulator(dir, addr string, env []string, out io.Writer) int {
	return emulate.Run(dir, addr, env, out)
}
