package hosting

import (
	"os"
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
)

func detectSpawner() spawner {
	ppid := os.Getppid()
	if ppid == 1 {
		return spawnerNone
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/comm")
	if err != nil {
		return spawnerUnknown
	}
	switch name := strings.TrimSpace(string(comm)); {
	case name == "apache2" || strings.HasPrefix(name, "httpd"):
		return spawnerApache
	case name == "lighttpd":
		return spawnerLighttpd
	}
	return spawnerUnknown
}

func (s spawner) String() string {
	return [...]string{"unknown", "apache", "lighttpd", "none (orphaned)"}[s]
}

// exitWhenIdle says whether an idle process may exit: only when the
// spawner starts a new one on the next request.
func (s spawner) exitWhenIdle() bool { return s == spawnerApache || s == spawnerUnknown }

// oneRequestAtATime says whether the spawner sends a process one request
// at a time, starting more processes for more load, as Apache's modules do;
// lighttpd sends one process requests at once, and after spawn-fcgi one
// process serves all.
func (s spawner) oneRequestAtATime() bool { return s == spawnerApache || s == spawnerUnknown }
