package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fcgi-hosting/fcgi/responder"
)

// procFigure is what one application costs as a process.
type procFigure struct {
	app            string
	spawn          time.Duration // spawn to the first complete response, median
	rssIdle, rss10 float64       // MiB: after the first response, after 10,000 more
	rssRested      float64       // MiB: restAfter later, idle
	size           int64         // binary bytes
	note           string
}

// transferFigure is the peak RSS over a 1 GiB response and a 1 GiB body.
type transferFigure struct {
	app                string
	streamMiB, bodyMiB float64 // VmHWM after each transfer
	streamMBs, bodyMBs float64
	note               string
}

type processReport struct {
	procs     []procFigure
	transfers []transferFigure
}

const spawnRuns = 20

// restAfter is how long the processes rest after their 10,000 requests
// before a last look at their RSS: 2 s past the 30 s after which the
// runtime gives an idle process's free heap back (hosting's releaseIdle).
const restAfter = 32 * time.Second

func processFigures(ctx context.Context, o *options, b *binaries) processReport {
	var pr processReport
	var resting []*spawned // each app's last process, with its figure at the same index of pr.procs
	for _, app := range []struct{ name, bin string }{
		{"this project (hosting.Run, examples/hello)", b.runtime},
		{"net/http/fcgi", b.stdlib},
		{"C libfcgi", b.c},
	} {
		f := procFigure{app: app.name}
		if app.bin == "" {
			f.note = "libfcgi-dev not installed"
			pr.procs = append(pr.procs, f)
			resting = append(resting, nil)
			continue
		}
		if st, err := os.Stat(app.bin); err == nil {
			f.size = st.Size()
		}
		s, err := measureProcess(ctx, app.bin, &f)
		if err != nil {
			f.note = err.Error()
		}
		step("  %s: spawn %v, RSS %.1f / %.1f MiB", f.app, f.spawn, f.rssIdle, f.rss10)
		pr.procs = append(pr.procs, f)
		resting = append(resting, s)
	}
	step("  resting %v", restAfter)
	select {
	case <-time.After(restAfter):
	case <-ctx.Done():
	}
	for i, s := range resting {
		if s != nil {
			pr.procs[i].rssRested = procMiB(s.cmd.Process.Pid, "VmRSS")
			s.stop()
		}
	}
	for _, app := range []struct{ name, bin string }{
		{"this project (responder.Server)", b.engine},
		{"net/http/fcgi", b.stdlib},
	} {
		f := transferFigure{app: app.name}
		if err := measureTransfers(ctx, app.bin, &f); err != nil {
			f.note = err.Error()
		}
		step("  1 GiB %s: %.1f MiB streaming, %.1f MiB receiving %s", f.app, f.streamMiB, f.bodyMiB, f.note)
		pr.transfers = append(pr.transfers, f)
	}
	return pr
}

// spawned is an application started as mod_fcgid starts one: a listening
// unix socket on fd 0, the binary's directory as working directory.
type spawned struct {
	cmd  *exec.Cmd
	sock string
	dir  string
}

func spawn(bin string) (*spawned, error) {
	dir, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	f, err := ul.File()
	l.Close()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdin = f
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &spawned{cmd: cmd, sock: sock, dir: dir}, nil
}

func (s *spawned) stop() {
	stop(s.cmd)
	os.RemoveAll(s.dir)
}

// do sends one request on a new connection, as mod_fcgid does, and reads
// the whole response.
func (s *spawned) do(ctx context.Context, method, uri string, body io.Reader, size int64) (int64, error) {
	c, err := responder.Dial("unix", s.sock)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	path, query, _ := strings.Cut(uri, "?")
	params := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
		"REQUEST_URI": uri, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
		"SERVER_NAME": "localhost", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost",
	}
	if body != nil {
		params["CONTENT_LENGTH"] = strconv.FormatInt(size, 10)
	}
	resp, err := c.Do(ctx, &responder.ClientRequest{Params: params, Stdin: body})
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("%s %s: status %d", method, uri, resp.StatusCode)
	}
	return n, err
}

// measureProcess spawns bin spawnRuns times and returns the last process,
// still running, after its 10,000 requests.
func measureProcess(ctx context.Context, bin string, f *procFigure) (*spawned, error) {
	var times []float64
	var s *spawned
	for range spawnRuns {
		if s != nil {
			s.stop()
		}
		t0 := time.Now()
		var err error
		if s, err = spawn(bin); err != nil {
			return nil, err
		}
		if _, err := s.do(ctx, "GET", "/", nil, 0); err != nil {
			s.stop()
			return nil, err
		}
		times = append(times, float64(time.Since(t0)))
	}
	f.spawn = time.Duration(median(times))
	time.Sleep(500 * time.Millisecond)
	f.rssIdle = procMiB(s.cmd.Process.Pid, "VmRSS")
	for range 10000 {
		if _, err := s.do(ctx, "GET", "/", nil, 0); err != nil {
			s.stop()
			return nil, err
		}
	}
	f.rss10 = procMiB(s.cmd.Process.Pid, "VmRSS")
	return s, nil
}

type zeros struct{ left int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.left))
	clear(p[:n])
	z.left -= int64(n)
	return n, nil
}

func measureTransfers(ctx context.Context, bin string, f *transferFigure) error {
	s, err := spawn(bin)
	if err != nil {
		return err
	}
	defer s.stop()
	const size = 1 << 30
	t0 := time.Now()
	n, err := s.do(ctx, "GET", "/stream?mb=1024", nil, 0)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("streamed %d bytes, want %d", n, size)
	}
	f.streamMBs = size / 1e6 / time.Since(t0).Seconds()
	f.streamMiB = procMiB(s.cmd.Process.Pid, "VmHWM")
	t0 = time.Now()
	if _, err := s.do(ctx, "POST", "/upload", &zeros{size}, size); err != nil {
		return err
	}
	f.bodyMBs = size / 1e6 / time.Since(t0).Seconds()
	f.bodyMiB = procMiB(s.cmd.Process.Pid, "VmHWM")
	return nil
}

// procMiB reads a kB figure of /proc/PID/status in MiB.
func procMiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
