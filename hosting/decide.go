package hosting

import (
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
)

// event is one thing the serve loop waited for, with the facts that decide
// what it leads to, gathered by nextEvent: decide itself does no I/O, so it is tested alone.
type event struct {
	kind eventKind
	err  error     // serveEnded: why Serve returned; fileChanged: why the file cannot be used
	sig  os.Signal // gotSignal
	// fileChanged, trialEnded: the file, whether it is the binary or the
	// staged upload (gone: no longer there), and whether a new file takes
	// the binary's place, which Apache starts itself.
	path    string
	state   reload.FileState // the file as it was checked or tried
	binary  bool
	staged  bool
	gone    bool
	newFile bool
	busy    bool          // trialEnded: the file could not run as it is still being written
	why     string        // policyAsked: the policy's reason; trialEnded: the hand-over tried for
	idleFor time.Duration // idleCheck: how long no request has been in progress
}

type eventKind int

const (
	serveEnded  eventKind = iota // Serve returned
	gotSignal                    // a signal came
	fileChanged                  // the binary or the settings file changed and settled
	policyAsked                  // a process policy (MAX_REQUESTS, MEMORY_LIMIT) asks for fresh code
	idleCheck                    // time to look at IDLE_TIMEOUT
	trialEnded                   // the trial of a new binary ended (err: why it is refused)
)

// action is what the serve loop does about an event.
type action int

const (
	keepServing  action = iota
	refuseChange        // log why the changed file cannot be used, and keep serving
	exitFailed          // serving failed: stop listening and exit 1
	stopServing         // finish the requests in progress and exit
	handOver            // finish the requests in progress and re-execute in place
	tryStaged           // try the staged upload in the background, serving meanwhile
	retryLater          // look at the file again once it settles anew
)

// decision is an action and why.
type decision struct {
	action action
	reason string
	err    error
	// adopt: rename the staged upload over the binary first; reject:
	// rename it NAME.fcgi.rejected.
	adopt, reject bool
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
		case ev.staged && ev.gone:
			return decision{action: keepServing}
		case ev.staged && ev.err != nil:
			// An upload in progress or broken off: a later write (the
			// rest, a resume, a new upload) is looked at again.
			return decision{action: refuseChange, reason: filepath.Base(ev.path) + " cannot run yet; the old code keeps serving", err: ev.err}
		case ev.staged:
			return decision{action: tryStaged, reason: filepath.Base(ev.path) + " uploaded"}
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
	case trialEnded:
		name := filepath.Base(ev.path)
		switch {
		case ev.busy:
			return decision{action: retryLater, reason: name + " is still being written"}
		case ev.err != nil:
			return decision{action: refuseChange, reason: "refused " + name + "; the old code keeps serving", err: ev.err, reject: ev.staged}
		case ev.staged && ev.newFile:
			// Serving on: mod_fcgid may have given this process a request
			// just before the rename. The watcher then sees the binary
			// replaced, as the site's other processes do, and it stops.
			return decision{action: keepServing, reason: name + " adopted; Apache starts it", adopt: true}
		case ev.staged:
			return decision{action: handOver, reason: name + " adopted", adopt: true}
		}
		return decision{action: handOver, reason: ev.why}
	case idleCheck:
		if ev.idleFor >= idleTimeout {
			return decision{action: stopServing, reason: "IDLE_TIMEOUT: idle for " + idleTimeout.String()}
		}
	}
	return decision{action: keepServing}
}
