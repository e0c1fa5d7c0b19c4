package hosting

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
	"github.com/fcgi-hosting/fcgi/hosting/internal/spawner"
)

// check prints how the binary would run here, for -check, and returns 1
// when something would stop it on a shared host.
func (rt *Runtime) check(w io.Writer) int {
	problems := 0
	bad := func(format string, args ...any) {
		problems++
		fmt.Fprintf(w, "  PROBLEM: "+format+"\n", args...)
	}
	fmt.Fprintf(w, "binary:    %s (%s/%s, %s, version %s)\n", rt.exe, runtime.GOOS, runtime.GOARCH, runtime.Version(), rt.Version)
	if err := reload.CheckExecutable(rt.exe); err != nil {
		bad("%v", err)
	}
	// suEXEC refuses group- or other-writable scripts and directories.
	for _, p := range []string{rt.exe, rt.dir} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o022 != 0 {
			bad("%s is writable by group or others (mode %o); suEXEC refuses it: chmod 755", p, fi.Mode().Perm())
		}
	}
	rt.settings = settings.Defaults()
	f, err := settings.ReadEnvFile(rt.envPath())
	switch {
	case err != nil:
		fmt.Fprintf(w, "settings:  %s\n", rt.envPath())
		bad("%v", err)
	case f.Absent():
		fmt.Fprintf(w, "settings:  %s (absent: defaults apply)\n", rt.envPath())
	default:
		fmt.Fprintf(w, "settings:  %s (%d names)\n", rt.envPath(), len(f.Names()))
		s, errs := settings.Parse(f, settings.EnvironMap(rt.environ))
		for _, e := range errs {
			bad("%v", e)
		}
		rt.settings = s
	}
	if err == nil {
		s := rt.settings
		fmt.Fprintf(w, "           DEBUG=%v LOG_LEVEL=%v MAX_REQUESTS=%d IDLE_TIMEOUT=%v MEMORY_LIMIT=%d RELOAD_POLL=%v\n",
			s.Debug, s.LogLevel, s.MaxRequests, s.IdleTimeout, s.MemoryLimit, s.ReloadPoll)
	}
	logPath := rt.logPath()
	fmt.Fprintf(w, "log:       %s\n", logPath)
	if logPath != "stderr" {
		if lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
			bad("cannot write the log: %v (logging would fall back to the web server's error log)", err)
		} else {
			lf.Close()
		}
	}
	fmt.Fprintf(w, "fd 0:      %s\n", describeStdin())
	for _, page := range []string{"500.html", "404.html"} {
		if _, err := os.Stat(filepath.Join(rt.dir, page)); err == nil {
			fmt.Fprintf(w, "page:      %s\n", page)
		}
	}
	if problems == 0 {
		fmt.Fprintln(w, "ok: nothing here would stop the site")
		return 0
	}
	fmt.Fprintf(w, "%d problem(s)\n", problems)
	return 1
}

func describeStdin() string {
	if spawner.StdinListens() {
		return "a listening socket: spawned by a web server (FastCGI)"
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err != nil {
		return "closed"
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFSOCK:
		return "a connected socket (not a FastCGI listener)"
	case syscall.S_IFCHR:
		return "a terminal or device: started by hand"
	case syscall.S_IFIFO:
		return "a pipe (CGI request body or a shell pipeline)"
	}
	return "a file"
}
