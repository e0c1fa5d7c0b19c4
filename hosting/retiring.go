package hosting

import (
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
)

// retiring are the stand-ins (see standin.go) of this PID: started by this
// process, or by the code before it, which re-executed itself in place and
// so left them children of this process. Each serves beside this process
// until handed back, then finishes its requests and exits; this process
// reaps it, as nobody else would.
type retiring struct {
	mu     sync.Mutex
	pids   map[int]bool  // not yet reaped; true once handed back
	reaped chan struct{} // a value for each one reaped
}

// add watches pid, a child of this process, and returns a channel closed
// once it has exited and been reaped.
func (r *retiring) add(pid int, handedBack bool) <-chan struct{} {
	r.mu.Lock()
	if r.pids == nil {
		r.pids, r.reaped = map[int]bool{}, make(chan struct{}, 16)
	}
	r.pids[pid] = handedBack
	r.mu.Unlock()
	exited := make(chan struct{})
	go func() {
		waitExited(pid)
		// Reaped only under mu: a PID passed across exec must not be
		// reaped meanwhile, and perhaps reused, by the time the new code
		// signals it.
		r.mu.Lock()
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		delete(r.pids, pid)
		r.mu.Unlock()
		close(exited)
		select {
		case r.reaped <- struct{}{}:
		default:
		}
	}()
	return exited
}

// waitExited blocks until the child pid has exited, leaving it to be
// reaped (WNOWAIT).
func waitExited(pid int) {
	const pPID = 1
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info)),
			syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if e != syscall.EINTR {
			return // exited, or not a child of this process (ECHILD)
		}
	}
}

// adopt watches the stand-ins the code before this one passed on (the value
// of reload.RetiringVar).
func (r *retiring) adopt(v string) {
	for s := range strings.SplitSeq(v, ",") {
		if pid, err := strconv.Atoi(s); err == nil && pid > 1 {
			r.add(pid, false)
		}
	}
}

// handBack tells the stand-ins not yet told that this process serves: each
// stops accepting, finishes its requests and exits.
func (r *retiring) handBack() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, told := range r.pids {
		if !told {
			syscall.Kill(pid, syscall.SIGUSR2)
			r.pids[pid] = true
		}
	}
}

// terminate asks every stand-in to stop, as this process does: within stopGrace.
func (r *retiring) terminate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid := range r.pids {
		syscall.Kill(pid, syscall.SIGTERM)
		r.pids[pid] = true
	}
}

// stop terminates the stand-ins and waits until every one has exited,
// killing those still there after their grace: no process of the site
// outlives the one the web server or systemd tracks.
func (r *retiring) stop(log zerolog.Logger) {
	r.terminate()
	deadline := time.After(stopGrace + 2*time.Second)
	for {
		r.mu.Lock()
		left := len(r.pids)
		r.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-r.reaped:
		case <-deadline:
			log.Warn().Int("stand-ins", left).Msg("stand-ins still running after their grace: killed")
			r.mu.Lock()
			for pid := range r.pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			r.mu.Unlock()
			deadline = nil // SIGKILL ends them: only their reaping is waited for
		}
	}
}

// lockForExec returns the PIDs to pass to the code re-executed, and keeps
// them from being reaped until unlock, called only if the exec failed.
func (r *retiring) lockForExec() (pids string, unlock func()) {
	r.mu.Lock()
	list := make([]string, 0, len(r.pids))
	for pid := range r.pids {
		list = append(list, strconv.Itoa(pid))
	}
	return strings.Join(list, ","), r.mu.Unlock
}
