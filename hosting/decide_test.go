package hosting

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// Each event the serve loop waits for, and what it does about it.
func TestDecide(t *testing.T) {
	const idleTimeout = 10 * time.Minute
	bad := errors.New("bad")
	for _, tc := range []struct {
		name   string
		ev     event
		action action
		reason string
	}{
		{"Serve returned", event{kind: serveEnded, err: bad}, exitFailed, "serving stopped"},
		{"SIGTERM", event{kind: gotSignal, sig: syscall.SIGTERM}, stopServing, "signal terminated"},
		{"SIGINT", event{kind: gotSignal, sig: syscall.SIGINT}, stopServing, "signal interrupt"},
		{"SIGHUP", event{kind: gotSignal, sig: syscall.SIGHUP}, handOver, "signal hangup"},
		{"SIGUSR1", event{kind: gotSignal, sig: syscall.SIGUSR1}, handOver, "signal user defined signal 1"},
		{"settings changed", event{kind: fileChanged, path: "/site/mysite.env"}, handOver, "mysite.env changed"},
		{"settings changed, unusable", event{kind: fileChanged, path: "/site/mysite.env", err: bad},
			refuseChange, "settings file changed but cannot be used; the running settings stay"},
		{"binary changed", event{kind: fileChanged, path: "/site/mysite.fcgi", binary: true}, handOver, "mysite.fcgi changed"},
		{"binary changed, cannot run", event{kind: fileChanged, path: "/site/mysite.fcgi", binary: true, err: bad},
			refuseChange, "binary changed but cannot run; the old code keeps serving"},
		{"binary replaced under Apache", event{kind: fileChanged, path: "/site/mysite.fcgi", binary: true, newFile: true},
			stopServing, "mysite.fcgi replaced by a new file, which Apache starts"},
		{"MAX_REQUESTS", event{kind: policyAsked, why: "MAX_REQUESTS reached"}, handOver, "MAX_REQUESTS reached"},
		{"idle, not long enough", event{kind: idleCheck, idleFor: idleTimeout - time.Second}, keepServing, ""},
		{"idle long enough", event{kind: idleCheck, idleFor: idleTimeout}, stopServing, "IDLE_TIMEOUT: idle for 10m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.ev, idleTimeout)
			if d.action != tc.action || d.reason != tc.reason {
				t.Errorf("decide = %v %q, want %v %q", d.action, d.reason, tc.action, tc.reason)
			}
			if (d.action == exitFailed || d.action == refuseChange) && d.err != tc.ev.err {
				t.Errorf("decide passes on error %v, want %v", d.err, tc.ev.err)
			}
		})
	}
}
