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
	var none [2]bool
	for _, tc := range []struct {
		name   string
		ev     event
		action action
		reason string
		// adopt, reject: what must happen to the staged upload.
		flags [2]bool
	}{
		{"Serve returned", event{kind: serveEnded, err: bad}, exitFailed, "serving stopped", none},
		{"SIGTERM", event{kind: gotSignal, sig: syscall.SIGTERM}, stopServing, "signal terminated", none},
		{"SIGINT", event{kind: gotSignal, sig: syscall.SIGINT}, stopServing, "signal interrupt", none},
		{"SIGHUP", event{kind: gotSignal, sig: syscall.SIGHUP}, handOver, "signal hangup", none},
		{"SIGUSR1", event{kind: gotSignal, sig: syscall.SIGUSR1}, handOver, "signal user defined signal 1", none},
		{"settings changed", event{kind: fileChanged, path: "/site/mysite.env"}, handOver, "mysite.env changed", none},
		{"settings changed, unusable", event{kind: fileChanged, path: "/site/mysite.env", err: bad},
			refuseChange, "settings file changed but cannot be used; the running settings stay", none},
		{"binary changed", event{kind: fileChanged, path: "/site/mysite.fcgi", binary: true}, handOver, "mysite.fcgi changed", none},
		{"binary changed, cannot run", event{kind: fileChanged, path: "/site/mysite.fcgi", binary: true, err: bad},
			refuseChange, "binary changed but cannot run; the old code keeps serving", none},
		{"binary replaced under Apache", event{kind: fileChanged, path: "/site/mysite.fcgi", binary: true, newFile: true},
			stopServing, "mysite.fcgi replaced by a new file, which Apache starts", none},
		{"MAX_REQUESTS", event{kind: policyAsked, why: "MAX_REQUESTS reached"}, handOver, "MAX_REQUESTS reached", none},
		{"idle, not long enough", event{kind: idleCheck, idleFor: idleTimeout - time.Second}, keepServing, "", none},
		{"idle long enough", event{kind: idleCheck, idleFor: idleTimeout}, stopServing, "IDLE_TIMEOUT: idle for 10m0s", none},
		{"staged upload complete", event{kind: fileChanged, path: "/site/mysite.fcgi.new", staged: true},
			tryStaged, "mysite.fcgi.new uploaded", none},
		{"staged upload incomplete", event{kind: fileChanged, path: "/site/mysite.fcgi.new", staged: true, err: bad},
			refuseChange, "mysite.fcgi.new cannot run yet; the old code keeps serving", none},
		{"staged upload gone (another process adopted it)", event{kind: fileChanged, path: "/site/mysite.fcgi.new", staged: true, gone: true},
			keepServing, "", none},
		{"staged binary passed, under Apache", event{kind: trialEnded, path: "/site/mysite.fcgi.new", staged: true, newFile: true},
			keepServing, "mysite.fcgi.new adopted; Apache starts it", [2]bool{true, false}},
		{"staged binary passed", event{kind: trialEnded, path: "/site/mysite.fcgi.new", staged: true},
			handOver, "mysite.fcgi.new adopted", [2]bool{true, false}},
		{"staged binary failed", event{kind: trialEnded, path: "/site/mysite.fcgi.new", staged: true, err: bad},
			refuseChange, "refused mysite.fcgi.new; the old code keeps serving", [2]bool{false, true}},
		{"staged binary still open for writing", event{kind: trialEnded, path: "/site/mysite.fcgi.new", staged: true, err: bad, busy: true},
			retryLater, "mysite.fcgi.new is still being written", none},
		{"changed binary passed", event{kind: trialEnded, path: "/site/mysite.fcgi", why: "signal hangup"},
			handOver, "signal hangup", none},
		{"changed binary failed", event{kind: trialEnded, path: "/site/mysite.fcgi", why: "mysite.fcgi changed", err: bad},
			refuseChange, "refused mysite.fcgi; the old code keeps serving", none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.ev, idleTimeout)
			if d.action != tc.action || d.reason != tc.reason {
				t.Errorf("decide = %v %q, want %v %q", d.action, d.reason, tc.action, tc.reason)
			}
			if got := [2]bool{d.adopt, d.reject}; got != tc.flags {
				t.Errorf("decide: adopt, reject = %v, want %v", got, tc.flags)
			}
			if (d.action == exitFailed || d.action == refuseChange) && d.err != tc.ev.err {
				t.Errorf("decide passes on error %v, want %v", d.err, tc.ev.err)
			}
		})
	}
}
