package hosting

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// spawner is what started a process with a socket on fd 0, as far as the
// parent process tells; it decides which hand-overs are safe.
type spawner int

const (
	spawnerUnknown  spawner = iota
	spawnerApache           // mod_fcgid or mod_fastcgi: respawns on demand
	spawnerLighttpd         // spawns at start; an exit takes the backend down for seconds
	spawnerNone             // orphaned (spawn-fcgi exits after forking): nobody respawns
	spawnerH2O              // fastcgi.spawn: starts it once, sends it requests at once, never respawns
)

func detectSpawner() spawner {
	ppid := os.Getppid()
	if ppid == 1 {
		return spawnerNone
	}
	proc := "/proc/" + strconv.Itoa(ppid)
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil {
		return spawnerUnknown
	}
	cmdline, _ := os.ReadFile(proc + "/cmdline")
	return spawnerOf(strings.TrimSpace(string(comm)), string(cmdline))
}

// spawnerOf is the spawner whose process has the name comm and the
// NUL-separated arguments cmdline.
func spawnerOf(comm, cmdline string) spawner {
	switch {
	case comm == "apache2" || strings.HasPrefix(comm, "httpd"):
		return spawnerApache
	case comm == "lighttpd":
		return spawnerLighttpd
	case comm == "h2o":
		return spawnerH2O
	case comm == "perl" && strings.Contains(cmdline, "/h2o/kill-on-close\x00"):
		// H2O runs fastcgi.spawn's command under its kill-on-close script.
		return spawnerH2O
	}
	return spawnerUnknown
}

func (s spawner) String() string {
	return [...]string{"unknown", "apache", "lighttpd", "none (orphaned)", "h2o"}[s]
}

// exitWhenIdle says whether an idle process may exit: only when the
// spawner starts a new one on the next request.
func (s spawner) exitWhenIdle() bool { return s == spawnerApache || s == spawnerUnknown }

// oneRequestAtATime says whether the spawner sends a process one request
// at a time, starting more processes for more load, as Apache's modules do;
// lighttpd sends one process requests at once, and after spawn-fcgi one
// process serves all.
func (s spawner) oneRequestAtATime() bool { return s == spawnerApache || s == spawnerUnknown }

// fcgidSocket says whether addr is a socket mod_fcgid made for one process
// alone: it names each <process manager's pid>.<counter> in FcgidIPCDir.
// mod_fastcgi's process manager and spawn-fcgi -F listen on one socket for
// all the processes of an application, which one of them must not shut.
func fcgidSocket(addr net.Addr) bool {
	ua, ok := addr.(*net.UnixAddr)
	if !ok {
		return false
	}
	pid, n, ok := strings.Cut(filepath.Base(ua.Name), ".")
	_, errPID := strconv.ParseUint(pid, 10, 64)
	_, errN := strconv.ParseUint(n, 10, 64)
	return ok && errPID == nil && errN == nil
}
