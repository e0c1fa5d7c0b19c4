package hosting

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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/responder"
)

// trialOfVar, in a trial run's environment, names the site binary it
// stands in for: the binary on trial may be mysite.fcgi.new, and must read
// mysite.env, not mysite.fcgi.env.
const trialOfVar = "FCGI_TRIAL_OF"

// trialTimeout bounds a trial run: starting, and answering one request.
const trialTimeout = 15 * time.Second

// trialError is why a binary was refused, with its own output.
type trialError struct {
	err    error
	output string // the tail of what it wrote to stdout and stderr
}

func (e *trialError) Error() string { return e.err.Error() }
func (e *trialError) Unwrap() error { return e.err }

// try starts bin as a web server would, on a private socket, and has it
// answer one request for PROOF_PATH. It returns why bin must not take
// over: it could not start, exited, panicked, took longer than
// trialTimeout or answered 5xx.
func (rt *Runtime) try(ctx context.Context, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, trialTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "fcgi-trial-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "socket")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return err
	}
	defer l.Close()
	fd0, err := l.File()
	if err != nil {
		return err
	}
	out := &tail{max: 8 << 10}
	cmd := exec.Command(bin)
	cmd.Dir = rt.dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = fd0, out, out
	cmd.Env = append(slices.Clip(rt.environ), trialOfVar+"="+rt.exe)
	cmd.WaitDelay = time.Second // a child of its own holding stderr open must not hold us
	err = cmd.Start()
	fd0.Close()
	if err != nil {
		return err // ETXTBSY among others: see stillWritten
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	answered := make(chan error, 1)
	go func() { answered <- rt.askTrial(ctx, sock) }()

	select {
	case err = <-answered:
	case werr := <-exited:
		err = fmt.Errorf("it exited before answering (%v)", werr)
		exited <- werr
	case <-ctx.Done():
		err = fmt.Errorf("no answer for %s within %v", rt.settings.ProofPath, trialTimeout)
		if context.Cause(ctx) == context.Canceled {
			err = errors.New("trial cancelled")
		}
	}
	cancel()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	if err != nil {
		return &trialError{err: err, output: out.String()}
	}
	return nil
}

// askTrial sends the trial run one GET for PROOF_PATH over sock, as a web
// server would, and reads the whole answer.
func (rt *Runtime) askTrial(ctx context.Context, sock string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	path, query, _ := strings.Cut(rt.settings.ProofPath, "?")
	resp, err := responder.NewClient(conn).Do(ctx, &responder.ClientRequest{Params: map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET",
		"REQUEST_URI": rt.settings.ProofPath, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
		"SERVER_NAME": "localhost", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost",
		"HTTP_USER_AGENT": "fcgi-hosting trial of a new binary",
	}})
	if err != nil {
		return fmt.Errorf("no answer for %s: %w", rt.settings.ProofPath, err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("the answer for %s broke off: %w", rt.settings.ProofPath, err)
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("it answered %d for %s", resp.StatusCode, rt.settings.ProofPath)
	}
	return nil
}

// stillWritten reports whether a trial failed only because the file is
// still open for writing (an upload in progress): Linux refuses to run it.
func stillWritten(err error) bool { return errors.Is(err, syscall.ETXTBSY) }

// enterTrial makes this process a trial run for the site binary of: it
// reads that site's settings, logs to stderr for the process trying it,
// and neither reloads nor mails.
func (rt *Runtime) enterTrial(of string) {
	rt.exe, rt.dir = of, filepath.Dir(of)
	rt.name = strings.TrimSuffix(filepath.Base(of), filepath.Ext(of))
	rt.upgrade.trialRun = true
}

// trialSettings are s for a trial run.
func trialSettings(s Settings) Settings {
	s.LogFile, s.ReloadPoll, s.IdleTimeout, s.MaxRequests, s.Admins = "stderr", 0, 0, 0, nil
	return s
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
