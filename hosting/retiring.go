package hosting

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/rs/zerolog"
)

// retiring are the stand-ins (see standin.go) of this PID: started by this
// process, or by the code before it, which re-executed itself in place and
// so left them children of this process, with their channels. Each serves
// beside this process until told to step back, then passes its idle
// connections here, finishes its requests and exits; this process reaps
// it, as nobody else would, and reads its channel to the end: connections
// it passed just before exiting may still be in the socket.
type retiring struct {
	mu    sync.Mutex
	ins   map[*standIn]struct{} // until reaped and their channel read to its end
	gone  chan struct{}         // a value for each one removed
	serve func(*os.File)        // serves a connection a stand-in passes on
}

// standIn is one stand-in, as its parent sees it.
type standIn struct {
	pid         int // 0 once reaped
	ch          *reload.Channel
	steppedBack bool          // told to step back, or to stop; guarded by retiring.mu
	serving     chan struct{} // closed once it says it serves
	exited      chan struct{} // closed once it has exited and been reaped
	drained     chan struct{} // closed once its channel is read to its end
	receiving   chan struct{} // closed when its receiver stops (Pause, or the end)
}

// add watches the stand-in pid, a child of this process (none if 0: one
// already reaped whose channel is still to be read), and receives what it
// sends over ch.
func (r *retiring) add(pid int, ch *reload.Channel, steppedBack bool) *standIn {
	s := &standIn{pid: pid, ch: ch, steppedBack: steppedBack || pid == 0,
		serving: make(chan struct{}), exited: make(chan struct{}), drained: make(chan struct{})}
	r.mu.Lock()
	if r.ins == nil {
		r.ins, r.gone = map[*standIn]struct{}{}, make(chan struct{}, 16)
	}
	r.ins[s] = struct{}{}
	r.receive(s)
	r.mu.Unlock()
	go func() {
		if pid != 0 {
			waitExited(pid)
			// Reaped only under mu: a PID passed across exec must not be
			// reaped meanwhile, and perhaps reused, by the time the new
			// code signals it.
			r.mu.Lock()
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			s.pid = 0
			r.mu.Unlock()
		}
		close(s.exited)
		<-s.drained
		r.mu.Lock()
		delete(r.ins, s)
		r.mu.Unlock()
		select {
		case r.gone <- struct{}{}:
		default:
		}
	}()
	return s
}

// readToEnd reports whether s's channel has been read to its end.
func (s *standIn) readToEnd() bool {
	select {
	case <-s.drained:
		return true
	default:
		return false
	}
}

// receive starts s's receiver: it notes that s serves and serves the
// connections s passes on, until paused or the channel's end. r.mu is held.
func (r *retiring) receive(s *standIn) {
	s.receiving = make(chan struct{})
	go func() {
		defer close(s.receiving)
		for {
			msg, f, err := s.ch.Receive()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return // paused
			}
			if err != nil {
				s.ch.Close()
				close(s.drained)
				return
			}
			switch {
			case msg == reload.MsgServing:
				select {
				case <-s.serving:
				default:
					close(s.serving)
				}
			case msg == reload.MsgConn && f != nil:
				r.serve(f)
			case f != nil:
				f.Close()
			}
		}
	}()
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

// adopt takes over the stand-ins the code before this one passed on (the
// value of reload.RetiringVar: pid:fd pairs, fd its channel's end).
func (r *retiring) adopt(v string) error {
	var errs []error
	for s := range strings.SplitSeq(v, ",") {
		p, f, _ := strings.Cut(s, ":")
		pid, perr := strconv.Atoi(p)
		fd, ferr := strconv.Atoi(f)
		if perr != nil || ferr != nil || pid < 0 || pid == 1 || fd <= 2 {
			errs = append(errs, errors.New("stand-in passed on as "+strconv.Quote(s)))
			continue
		}
		ch, err := reload.ChannelFromFD(fd)
		if err != nil {
			errs = append(errs, err)
			if pid > 1 {
				syscall.Kill(pid, syscall.SIGTERM) // it would serve on, told nothing
			}
			continue
		}
		r.add(pid, ch, false)
	}
	return errors.Join(errs...)
}

// handBack tells the stand-ins not yet told that this process serves: each
// stops accepting, passes its idle connections here, finishes its requests
// and exits.
func (r *retiring) handBack() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.ins {
		if !s.steppedBack {
			s.ch.Send(reload.MsgStepBack, nil) // fails only if it is gone
			s.steppedBack = true
		}
	}
}

// terminate asks every stand-in to stop, as this process does: within stopGrace.
func (r *retiring) terminate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.ins {
		if s.pid != 0 {
			syscall.Kill(s.pid, syscall.SIGTERM)
		}
		s.steppedBack = true
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
		left := len(r.ins)
		r.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-r.gone:
		case <-deadline:
			log.Warn().Int("stand-ins", left).Msg("stand-ins still running after their grace: killed")
			r.mu.Lock()
			for s := range r.ins {
				if s.pid != 0 {
					syscall.Kill(s.pid, syscall.SIGKILL)
				}
			}
			r.mu.Unlock()
			deadline = nil // SIGKILL ends them: only their reaping is waited for
		}
	}
}

// lockForExec returns the stand-ins to pass to the code re-executed, as
// reload.RetiringVar's value (pid:fd pairs, pid 0 for one reaped whose
// channel is still to be read), their channels readied to pass: each
// receiver stopped, so that a connection sent meanwhile stays in the
// socket for the new code. Nothing is reaped until unlock, called only if
// the exec failed.
func (r *retiring) lockForExec() (pass string, unlock func()) {
	r.mu.Lock()
	list := make([]string, 0, len(r.ins))
	for s := range r.ins {
		s.ch.Pause()
		<-s.receiving
		if s.readToEnd() {
			continue
		}
		fd, err := s.ch.KeepOnExec(true)
		if err != nil {
			continue // it stops once this process is gone
		}
		list = append(list, strconv.Itoa(s.pid)+":"+strconv.Itoa(fd))
	}
	return strings.Join(list, ","), func() {
		for s := range r.ins {
			if s.readToEnd() {
				continue
			}
			s.ch.KeepOnExec(false)
			s.ch.Resume()
			r.receive(s)
		}
		r.mu.Unlock()
	}
}
