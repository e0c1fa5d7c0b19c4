// Package spawner tells what started a process with a listening socket on
// fd 0, from its parent process, and decides how many Ps such a process
// runs with as the program starts (see start_unix.go). It imports no more
// than runtime and syscall, so that the runtime initialises it early.
package spawner

// Kind is what started the process, as far as its parent tells; it decides
// which hand-overs are safe.
type Kind int

const (
	Unknown  Kind = iota
	Apache        // mod_fcgid or mod_fastcgi: respawns on demand
	Lighttpd      // spawns at start; an exit takes the backend down for seconds
	None          // orphaned (spawn-fcgi exits after forking): nobody respawns
	H2O           // fastcgi.spawn: starts it once, sends it requests at once, never respawns
)

func (k Kind) String() string {
	return [...]string{"unknown", "apache", "lighttpd", "none (orphaned)", "h2o"}[k]
}

// ExitWhenIdle says whether an idle process may exit: only when the
// spawner starts a new one on the next request.
func (k Kind) ExitWhenIdle() bool { return k == Apache || k == Unknown }

// OneRequestAtATime says whether the spawner sends a process one request
// at a time, starting more processes for more load, as Apache's modules do;
// lighttpd sends one process requests at once, and after spawn-fcgi one
// process serves all.
func (k Kind) OneRequestAtATime() bool { return k == Apache || k == Unknown }

// Of is the spawner whose process has the name comm and, when asked for
// it, the NUL-separated arguments cmdline. Only perl's arguments tell
// anything: H2O runs fastcgi.spawn's command under its kill-on-close
// script.
func Of(comm string, cmdline func() string) Kind {
	switch {
	case comm == "apache2" || hasPrefix(comm, "httpd"):
		return Apache
	case comm == "lighttpd":
		return Lighttpd
	case comm == "h2o":
		return H2O
	case comm == "perl" && contains(cmdline(), "/h2o/kill-on-close\x00"):
		return H2O
	}
	return Unknown
}

// hasPrefix and contains are package strings' (see the package comment).
func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if hasPrefix(s[i:], sub) {
			return true
		}
	}
	return false
}
