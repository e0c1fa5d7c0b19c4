package hosting

import (
	"net"
	"os"

	"github.com/fcgi-hosting/fcgi/hosting/internal/rawunix"
	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/spawner"
)

// serveSpawned serves FastCGI on the socket the web server left on fd 0.
func (rt *Runtime) serveSpawned() int {
	fd0 := os.NewFile(0, "fastcgi-listener")
	l, err := net.FileListener(fd0) // a close-on-exec duplicate
	if err == nil && rt.spawner.OneRequestAtATime() {
		// Served without waking the Go runtime's monitor thread for each
		// request (see rawunix); still a close-on-exec duplicate. Not for
		// a spawner that sends one process requests at once (lighttpd,
		// H2O): a handler computing would hold up the others longer.
		l, err = rawunix.Wrap(l)
	}
	if err != nil {
		rt.log.Error().Err(err).Msg("fd 0 is a socket but cannot be served")
		return 1
	}
	rt.setProcs(rt.spawner.OneRequestAtATime()) // GOMAXPROCS in the settings file
	idle := rt.settings.IdleTimeout
	if idle > 0 && !rt.spawner.ExitWhenIdle() {
		rt.log.Info().Stringer("spawner", rt.spawner).Msg("IDLE_TIMEOUT ignored: this spawner does not start a new process on demand")
		idle = 0
	}
	ownSocket := rt.spawner == spawner.Apache && fcgidSocket(l.Addr())
	stopListening := func() []net.Conn {
		// Stop listening before the last response completes, so the web
		// server connects to another process instead of one that is gone;
		// but serve what it connected meanwhile, which the close would
		// reset (a 500). Only a socket of this process's own may be shut:
		// the shutdown would refuse connections to every process on it.
		var queued []net.Conn
		if ownSocket {
			queued = reload.StopAccepting(l)
		}
		l.Close()
		fd0.Close()
		return queued
	}
	// fd 0 is inherited by the new code as it is.
	prepareExec := func() ([]string, error) { return nil, nil }
	// A stand-in gets it on fd 0 as well.
	standIn := func() (bool, []int, []string, error) { return true, nil, nil, nil }
	return rt.serveLoop(reload.PausingListener{Listener: l}, stopListening, prepareExec, standIn, idle)
}
