package hosting

import (
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// event is one thing the serve loop waited for, with the facts that decide
// what it leads to, gathered by nextEvent: decide itself does no I/O, so it is tested alone.
type event struct {
	kind eventKind
	err  error     // serveEnded: why Serve returned; fileChanged: why the file cannot be used
	sig  os.Signal // gotSignal
	// fileChanged: the file, whether it is the binary, and whether that is
	// a new file Apache starts itself.
	path    string
	binary  bool
	newFile bool
	why     string        // policyAsked: the policy's reason
	idleFor time.Duration // idleCheck: how long no request has been in progress
}

type eventKind int

const (
	serveEnded  eventKind = iota // Serve returned
	gotSignal                    // a signal came
	fileChanged                  // the binary or the settings file changed and settled
	policyAsked                  // a process policy (MAX_REQUESTS, MEMORY_LIMIT) asks for fresh code
	idleCheck                    // time to look at IDLE_TIMEOUT
)

// action is what the serve loop does about an event.
type action int

const (
	keepServing  action = iota
	refuseChange        // log why the changed file cannot be used, and keep serving
	exitFailed          // serving failed: stop listening and exit 1
	stopServing         // finish the requests in progress and exit
	handOver            // finish the requests in progress and re-execute in place
)

// decision is an action and why.
type decision struct {
	action action
	reason string
	err    error
}

// decide is what the serve loop does about ev.
func decide(ev event, idleTimeout time.Duration) decision {
	switch ev.kind {
	case serveEnded:
		return decision{action: exitFailed, reason: "serving stopped", err: ev.err}
	case gotSignal:
		reason := "signal " + ev.sig.String()
		if ev.sig == syscall.SIGHUP || ev.sig == syscall.SIGUSR1 {
			return decision{action: handOver, reason: reason}
		}
		return decision{action: stopServing, reason: reason}
	case fileChanged:
		switch {
		case ev.err != nil && ev.binary:
			return decision{action: refuseChange, reason: "binary changed but cannot run; the old code keeps serving", err: ev.err}
		case ev.err != nil:
			// Good settings are not traded for bad ones: an edit with a
			// typo, or a file mid-upload, leaves the site up.
			return decision{action: refuseChange, reason: "settings file changed but cannot be used; the running settings stay", err: ev.err}
		case ev.newFile:
			// mod_fcgid keys processes by inode: it starts the new file
			// itself and would leave this one idle.
			return decision{action: stopServing, reason: filepath.Base(ev.path) + " replaced by a new file, which Apache starts"}
		}
		return decision{action: handOver, reason: filepath.Base(ev.path) + " changed"}
	case policyAsked:
		return decision{action: handOver, reason: ev.why}
	case idleCheck:
		if ev.idleFor >= idleTimeout {
			return decision{action: stopServing, reason: "IDLE_TIMEOUT: idle for " + idleTimeout.String()}
		}
	}
	return decision{action: keepServing}
}
