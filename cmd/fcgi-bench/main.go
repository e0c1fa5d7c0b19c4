// Command fcgi-bench is a FastCGI load generator: it speaks FastCGI
// straight to an application (this project's, PHP-FPM, anything), over TCP
// or a unix socket, or spawns a .fcgi with a listening socket on fd 0 the
// way mod_fcgid does, and reports throughput, a latency histogram and
// errors by kind; for a spawned application also the CPU time it used per
// request (from /proc, Linux only), the figure a host's CPU limit counts.
//
//	fcgi-bench -connect unix:/run/php/php-fpm.sock -c 8 -d 10s -uri /index.php
//	fcgi-bench -spawn ./mysite.fcgi -keepconn -mpx 4 -n 100000
//	fcgi-bench -spawn ./mysite.fcgi -c 1 -pause 500us -n 5000
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/responder"
)

type config struct {
	connect, spawn, uri, method, script string
	conns, mpx, n, bodySize             int
	duration                            time.Duration
	rate                                float64
	keepConn                            bool
	timeout, pause                      time.Duration
	warmup                              int
	env                                 []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fcgi-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("fcgi-bench", flag.ContinueOnError)
	fs.StringVar(&cfg.connect, "connect", "", "the application: `ADDR` host:port or unix:/path.sock")
	fs.StringVar(&cfg.spawn, "spawn", "", "spawn `BINARY` with a listening socket on fd 0, as mod_fcgid does, and drive it")
	fs.IntVar(&cfg.conns, "c", 4, "connections")
	fs.IntVar(&cfg.mpx, "mpx", 1, "requests in flight per connection (needs -keepconn and an application that multiplexes)")
	fs.BoolVar(&cfg.keepConn, "keepconn", false, "FCGI_KEEP_CONN: reuse connections (else one per request, as mod_fcgid)")
	fs.IntVar(&cfg.n, "n", 10000, "stop after `N` requests")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "stop after this long")
	fs.Float64Var(&cfg.rate, "rate", 0, "requests per second over all connections; 0: as fast as answers come")
	fs.StringVar(&cfg.method, "method", "GET", "request method")
	fs.IntVar(&cfg.bodySize, "body", 0, "request body `BYTES` (sent with POST)")
	fs.StringVar(&cfg.uri, "uri", "/", "REQUEST_URI")
	fs.StringVar(&cfg.script, "script", "", "SCRIPT_FILENAME (PHP-FPM needs it); default: the spawned binary")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.DurationVar(&cfg.pause, "pause", 0, "each connection waits this long after a response, as a web server spreading requests over processes")
	fs.IntVar(&cfg.warmup, "warmup", 200, "with -spawn: requests sent first, one at a time, left out of the figures")
	fs.Func("env", "with -spawn: `NAME=VALUE` added to the application's environment (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return errors.New("want NAME=VALUE")
		}
		cfg.env = append(cfg.env, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (cfg.connect == "") == (cfg.spawn == "") {
		return errors.New("give one of -connect ADDR or -spawn BINARY")
	}
	if cfg.mpx > 1 && !cfg.keepConn {
		return errors.New("-mpx needs -keepconn: without it each connection carries one request")
	}
	network, addr := "tcp", cfg.connect
	pid := 0
	if cfg.spawn != "" {
		sock, p, stopApp, err := spawn(cfg.spawn, cfg.env)
		if err != nil {
			return err
		}
		defer stopApp()
		network, addr, pid = "unix", sock, p
		if cfg.script == "" {
			cfg.script, _ = filepath.Abs(cfg.spawn)
		}
	} else if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	dial := func() (net.Conn, error) { return net.Dial(network, addr) }
	if pid != 0 && cfg.warmup > 0 {
		// Start-up and first-use costs are not the per-request figure.
		warm := cfg
		warm.n, warm.conns, warm.mpx, warm.rate, warm.pause = cfg.warmup, 1, 1, 0, 0
		if res := load(ctx, &warm, dial); res.failed() > 0 {
			res.report(out, &warm)
			return errors.New("the warm-up requests failed")
		}
	}
	before, cpuErr := processCPU(pid)
	res := load(ctx, &cfg, dial)
	if pid != 0 && cpuErr == nil {
		after, err := processCPU(pid)
		res.cpu, cpuErr = after-before, err
	}
	res.report(out, &cfg)
	if pid != 0 && cpuErr != nil {
		fmt.Fprintln(out, "app cpu:    unknown:", cpuErr)
	}
	return nil
}

// spawn starts bin as mod_fcgid does, with env added to PATH, and returns
// its socket, its PID and a stop function that ends it by PID.
func spawn(bin string, env []string) (string, int, func(), error) {
	dir, err := os.MkdirTemp("", "fcgi-bench-")
	if err != nil {
		return "", 0, nil, err
	}
	sock := filepath.Join(dir, "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		return "", 0, nil, err
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	f, err := ul.File()
	if err != nil {
		return "", 0, nil, err
	}
	abs, _ := filepath.Abs(bin)
	cmd := exec.Command(abs)
	cmd.Dir = filepath.Dir(abs)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = f
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	f.Close()
	l.Close()
	if err != nil {
		os.RemoveAll(dir)
		return "", 0, nil, err
	}
	return sock, cmd.Process.Pid, func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}, nil
}

type result struct {
	elapsed   time.Duration
	latencies []time.Duration
	bytes     int64
	errs      map[string]int
	cpu       time.Duration // used by the spawned application meanwhile
}

func (r *result) failed() int {
	n := 0
	for _, v := range r.errs {
		n += v
	}
	return n
}

// load runs the requests and collects the results.
func load(ctx context.Context, cfg *config, dial func() (net.Conn, error)) *result {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	params := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": cfg.method,
		"REQUEST_URI": cfg.uri, "SCRIPT_NAME": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": "localhost", "HTTP_USER_AGENT": "fcgi-bench",
	}
	if path, query, ok := strings.Cut(cfg.uri, "?"); ok {
		params["QUERY_STRING"] = query
		params["PATH_INFO"] = path
	} else {
		params["QUERY_STRING"] = ""
		params["PATH_INFO"] = cfg.uri
	}
	if cfg.script != "" {
		params["SCRIPT_FILENAME"] = cfg.script
	}
	body := make([]byte, cfg.bodySize)
	params["CONTENT_LENGTH"] = strconv.Itoa(cfg.bodySize) // "0" without a body, as mod_fcgid sends
	if cfg.bodySize > 0 {
		params["CONTENT_TYPE"] = "application/octet-stream"
	}

	var issued atomic.Int64
	// take hands out the right to send one more request, pacing by rate.
	var pace <-chan time.Time
	if cfg.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / cfg.rate))
		defer t.Stop()
		pace = t.C
	}
	take := func() bool {
		if issued.Add(1) > int64(cfg.n) {
			return false
		}
		if pace != nil {
			select {
			case <-pace:
			case <-ctx.Done():
				return false
			}
		}
		return ctx.Err() == nil
	}

	var mu sync.Mutex
	res := &result{errs: map[string]int{}}
	record := func(lat []time.Duration, n int64, errs map[string]int) {
		mu.Lock()
		res.latencies = append(res.latencies, lat...)
		res.bytes += n
		for k, v := range errs {
			res.errs[k] += v
		}
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.conns {
		wg.Go(func() {
			var client *responder.Client
			defer func() {
				if client != nil {
					client.Close()
				}
			}()
			var cmu sync.Mutex
			getClient := func() (*responder.Client, error) {
				cmu.Lock()
				defer cmu.Unlock()
				if client != nil && cfg.keepConn {
					return client, nil
				}
				c, err := dial()
				if err != nil {
					return nil, err
				}
				client = responder.NewClient(c)
				return client, nil
			}
			drop := func(c *responder.Client) {
				cmu.Lock()
				if client == c {
					client = nil
				}
				cmu.Unlock()
				c.Close()
			}
			var inner sync.WaitGroup
			for range cfg.mpx {
				inner.Go(func() {
					var lat []time.Duration
					var n int64
					errs := map[string]int{}
					for take() {
						t0 := time.Now()
						c, err := getClient()
						if err != nil {
							errs["connect"]++
							continue
						}
						rctx, rcancel := context.WithTimeout(ctx, cfg.timeout)
						req := &responder.ClientRequest{KeepConn: cfg.keepConn, Params: params}
						if cfg.bodySize > 0 {
							req.Stdin = bytes.NewReader(body)
						}
						resp, err := c.Do(rctx, req)
						if err == nil {
							var m int64
							m, err = io.Copy(io.Discard, resp.Body)
							n += m
							if err == nil && resp.StatusCode >= 400 {
								errs["status "+strconv.Itoa(resp.StatusCode)]++
							}
						}
						rcancel()
						if err != nil && ctx.Err() != nil {
							// Cut off by the end of the run (-d, Ctrl-C):
							// not the application's failure.
							drop(c)
							break
						}
						if err != nil {
							errs[errorKind(err, rctx)]++
							drop(c)
							continue
						}
						lat = append(lat, time.Since(t0))
						if !cfg.keepConn {
							drop(c)
						}
						if cfg.pause > 0 {
							time.Sleep(cfg.pause)
						}
					}
					record(lat, n, errs)
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func errorKind(err error, ctx context.Context) string {
	var ere *responder.EndRequestError
	switch {
	case errors.As(err, &ere) && ere.Overloaded():
		return "overloaded"
	case errors.As(err, &ere):
		return "refused"
	case ctx.Err() != nil:
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "closed"):
		return "connection lost"
	}
	return "protocol"
}

func (r *result) report(out io.Writer, cfg *config) {
	slices.Sort(r.latencies)
	n := len(r.latencies)
	pct := func(p float64) time.Duration {
		if n == 0 {
			return 0
		}
		return r.latencies[min(n-1, int(float64(n)*p))]
	}
	mode := "one connection per request"
	if cfg.pause > 0 {
		mode += fmt.Sprintf(", %v pause after each", cfg.pause)
	}
	if cfg.keepConn {
		mode = fmt.Sprintf("kept connections, %d in flight each", cfg.mpx)
	}
	fmt.Fprintf(out, "%d connections, %s, %s %s\n", cfg.conns, mode, cfg.method, cfg.uri)
	fmt.Fprintf(out, "requests:   %d in %v\n", n, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "throughput: %.0f req/s, %.1f MB/s\n", float64(n)/r.elapsed.Seconds(), float64(r.bytes)/r.elapsed.Seconds()/1e6)
	if n > 0 {
		fmt.Fprintf(out, "latency:    p50 %v  p90 %v  p99 %v  max %v\n", pct(.5), pct(.9), pct(.99), r.latencies[n-1])
	}
	total := 0
	kinds := make([]string, 0, len(r.errs))
	for k, v := range r.errs {
		total += v
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	fmt.Fprintf(out, "errors:     %d", total)
	for _, k := range kinds {
		fmt.Fprintf(out, "  %s: %d", k, r.errs[k])
	}
	fmt.Fprintln(out)
	if r.cpu > 0 && n > 0 {
		fmt.Fprintf(out, "app cpu:    %.1f µs/request (%v for %d requests)\n",
			float64(r.cpu)/float64(time.Microsecond)/float64(n), r.cpu.Round(time.Millisecond), n)
	}
}
