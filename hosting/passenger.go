package hosting

import (
	"net"
	"strconv"
	"strings"
)

// Phusion Passenger 6 runs a program of any language as a "generic app"
// (PassengerAppStartCommand, or app_start_command in the app root's
// Passengerfile.json): it runs the command through /bin/sh in the app
// root, with IN_PASSENGER=1, PORT (a free port it picked),
// PASSENGER_APP_ENV and, for an app under a sub-URI (PassengerBaseURI),
// PASSENGER_BASE_URI; it waits until 127.0.0.1:PORT accepts connections
// and proxies HTTP to it, a connection per request, with the path as the
// browser sent it, base URI included, and the client's address and
// scheme in headers of its own (see httpengine's Passenger). stdin is a
// pipe, stdout and stderr go to Passenger's log.
//
// Restarts are shared out so that none loses a request:
//   - tmp/restart.txt touched is Passenger's: on a request (at most every
//     PassengerStatThrottleRate, 10 s) it sees the new mtime, sends the old
//     processes no more requests, spawns a new one on a new port and, once
//     an old one's requests are done, sends it SIGTERM (SIGKILL a minute
//     later), which the runtime takes as a stop. Open-source Passenger
//     replaces all processes at once (rolling restarts are Enterprise's):
//     requests wait for the new process meanwhile, none fails. The
//     runtime does not watch the file: it would restart a process
//     Passenger is already replacing.
//   - A new binary or settings file is the runtime's, as everywhere else:
//     the process re-executes in place, keeping its PID and its listening
//     socket, so Passenger, which knows neither file, sees nothing change,
//     and connections it opens meanwhile wait in the backlog for the new
//     code.
//   - IDLE_TIMEOUT is Passenger's (PassengerPoolIdleTime): a process that
//     left on its own would be found dead by the next request sent to it.

// fromPassenger reports whether the environment (as os.Getenv reads it) is
// that of a generic app Passenger started, and then the address to serve
// and the base URI ("" at the root).
func fromPassenger(getenv func(string) string) (addr, baseURI string, ok bool) {
	if getenv("IN_PASSENGER") != "1" {
		return "", "", false
	}
	// Passenger sets PORT only for generic apps; a program that a Ruby or
	// Node app of Passenger's runs inherits IN_PASSENGER without one.
	port, err := strconv.ParseUint(getenv("PORT"), 10, 16)
	if err != nil || port == 0 {
		return "", "", false
	}
	return net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10)), strings.TrimRight(getenv("PASSENGER_BASE_URI"), "/"), true
}

// servePassenger serves HTTP on the port Passenger gave, as the external
// server does with -protocol http (IDLE_TIMEOUT ignored); FORCE_SCRIPT_NAME,
// when set, wins over Passenger's base URI as the site's prefix.
func (rt *Runtime) servePassenger(baseURI string) int {
	if !rt.settings.ForceScriptNameSet && baseURI != "" {
		rt.settings.ForceScriptName, rt.settings.ForceScriptNameSet = baseURI, true
	}
	return rt.serveExternal()
}
