package emulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// process is one application process, spawned as mod_fcgid spawns: a
// listening unix socket on fd 0, the script's directory as working
// directory, and an environment of PATH plus what the user configures.
type process struct {
	cmd     *exec.Cmd
	sock    string
	exited  chan struct{}
	stopped atomic.Bool // by the emulator, which an exit then does not report
}

// class is mod_fcgid's process class: the processes of one script file,
// keyed by its inode, so a rename-replace upload makes a new class.
type class struct {
	script string
	ino    uint64
	max    int

	mu    sync.Mutex
	idle  []*process
	all   map[*process]bool
	freed chan struct{} // a process became idle or exited
}

type pool struct {
	dir    string // for sockets
	env    []string
	stderr io.Writer
	logf   func(format string, args ...any)
	max    int

	mu      sync.Mutex
	classes map[string]*class // by script path
	seq     int
}

func newPool(env []string, stderr io.Writer, logf func(string, ...any), max int) (*pool, error) {
	dir, err := os.MkdirTemp("", "fcgi-emulate-")
	if err != nil {
		return nil, err
	}
	return &pool{dir: dir, env: env, stderr: stderr, logf: logf, max: max, classes: map[string]*class{}}, nil
}

func inode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// classFor returns the class of script as it is on disk now. A replaced
// file retires the old class: its idle processes are told to stop.
func (p *pool) classFor(script string) *class {
	ino := inode(script)
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.classes[script]
	if c != nil && c.ino == ino {
		return c
	}
	if c != nil {
		go c.stop(3 * time.Second)
	}
	c = &class{script: script, ino: ino, max: p.max, all: map[*process]bool{}, freed: make(chan struct{}, 1)}
	p.classes[script] = c
	return c
}

// acquire returns an idle process, spawning one when all are busy and the
// class has room; one request at a time goes to a process.
func (p *pool) acquire(ctx context.Context, c *class) (*process, error) {
	for {
		c.mu.Lock()
		for len(c.idle) > 0 {
			proc := c.idle[len(c.idle)-1]
			c.idle = c.idle[:len(c.idle)-1]
			select {
			case <-proc.exited:
				continue
			default:
			}
			c.mu.Unlock()
			return proc, nil
		}
		if len(c.all) < c.max {
			proc, err := p.spawn(c)
			if err == nil {
				c.all[proc] = true
			}
			c.mu.Unlock()
			return proc, err
		}
		c.mu.Unlock()
		select {
		case <-c.freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *class) release(proc *process) {
	c.mu.Lock()
	select {
	case <-proc.exited:
	default:
		c.idle = append(c.idle, proc)
	}
	c.mu.Unlock()
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

func (p *pool) spawn(c *class) (*process, error) {
	p.mu.Lock()
	p.seq++
	sock := filepath.Join(p.dir, strconv.Itoa(p.seq)+".sock")
	p.mu.Unlock()
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	f, err := ul.File()
	if err != nil {
		l.Close()
		return nil, err
	}
	cmd := exec.Command(c.script)
	cmd.Dir = filepath.Dir(c.script)
	cmd.Env = p.env
	cmd.Stdin = f
	cmd.Stdout = p.stderr // mod_fcgid sends fd 1 to the error log too
	cmd.Stderr = p.stderr
	setPdeathsig(cmd)
	err = cmd.Start()
	f.Close()
	l.Close()
	if err != nil {
		os.Remove(sock)
		return nil, fmt.Errorf("spawning %s: %w", c.script, err)
	}
	proc := &process{cmd: cmd, sock: sock, exited: make(chan struct{})}
	go func() {
		if err := cmd.Wait(); err != nil && !proc.stopped.Load() {
			// As mod_fcgid logs it; a binary cut short crashes as it starts.
			hint := ""
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() &&
				slices.Contains([]syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGILL}, ws.Signal()) {
				hint = ": a binary cut short, or built for another machine? upload it again"
			}
			p.logf("error: %s (pid %d) exited: %v%s", c.script, cmd.Process.Pid, err, hint)
		}
		os.Remove(sock)
		close(proc.exited)
		c.mu.Lock()
		delete(c.all, proc)
		c.mu.Unlock()
		select {
		case c.freed <- struct{}{}:
		default:
		}
	}()
	return proc, nil
}

// dial connects to the process; a process that is gone is reported so the
// caller can try another, as mod_fcgid retries a failed connect.
func (proc *process) dial() (net.Conn, error) {
	select {
	case <-proc.exited:
		return nil, errExited
	default:
	}
	return net.Dial("unix", proc.sock)
}

var errExited = errors.New("process exited")

// discard takes out of service a process that refused a connect, as
// mod_fcgid does: it is never handed out again, and is stopped; its place
// in the class frees when it exits.
func (c *class) discard(proc *process) {
	go stopProcesses([]*process{proc}, 3*time.Second)
}

// stop sends SIGTERM to every process of the class and SIGKILL to those
// still running after grace.
func (c *class) stop(grace time.Duration) {
	c.mu.Lock()
	procs := make([]*process, 0, len(c.all))
	for proc := range c.all {
		procs = append(procs, proc)
	}
	c.mu.Unlock()
	stopProcesses(procs, grace)
}

func stopProcesses(procs []*process, grace time.Duration) {
	for _, proc := range procs {
		proc.stopped.Store(true)
		proc.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(grace)
	for _, proc := range procs {
		select {
		case <-proc.exited:
		case <-deadline:
			proc.cmd.Process.Kill()
			<-proc.exited
		}
	}
}

func (p *pool) close() {
	p.mu.Lock()
	classes := make([]*class, 0, len(p.classes))
	for _, c := range p.classes {
		classes = append(classes, c)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range classes {
		wg.Go(func() { c.stop(3 * time.Second) })
	}
	wg.Wait()
	os.RemoveAll(p.dir)
}
