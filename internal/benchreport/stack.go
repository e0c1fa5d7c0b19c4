package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// backend is one application behind nginx.
type backend struct {
	name string
	// start runs the application on sock and returns once it answers.
	start    func(sock string) (*exec.Cmd, error)
	missing  string // why it cannot run here
	upstream string // nginx upstream block, if any
	location string // nginx location / body
	port     int
	path     string // what wrk asks for
}

// stackRuns puts nginx in front of each application in turn and loads it
// with wrk.
func stackRuns(ctx context.Context, o *options, b *binaries, r *report) []loadFigure {
	if _, err := exec.LookPath("nginx"); err != nil {
		r.missing = append(r.missing, "whole-stack figures: nginx not installed (apt-get install nginx-light)")
		return nil
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		r.missing = append(r.missing, "whole-stack figures: wrk not installed (apt-get install wrk)")
		return nil
	}
	dir := filepath.Join(o.work, "stack")
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "static"), 0o755); err != nil {
		r.missing = append(r.missing, "whole-stack figures: "+err.Error())
		return nil
	}
	os.WriteFile(filepath.Join(dir, "static", "hello.txt"), []byte("Hello, world\n"), 0o644)
	sock := filepath.Join(dir, "app.sock")
	backends := stackBackends(b, dir, sock)
	nginx, err := startNginx(dir, backends)
	if err != nil {
		r.missing = append(r.missing, "whole-stack figures: "+err.Error())
		return nil
	}
	defer stop(nginx)

	var res []loadFigure
	for _, be := range backends {
		f := loadFigure{app: be.name, note: be.missing}
		if be.missing != "" {
			res = append(res, f)
			continue
		}
		var app *exec.Cmd
		if be.start != nil {
			os.Remove(sock)
			if app, err = be.start(sock); err != nil {
				f.note = err.Error()
				res = append(res, f)
				stop(app)
				continue
			}
		}
		var runs []float64
		for range o.runs {
			w, err := wrk(ctx, fmt.Sprintf("http://127.0.0.1:%d%s", be.port, be.path), o)
			if err != nil {
				f.note = err.Error()
				break
			}
			runs = append(runs, w.rps)
			f.errors += w.errors
		}
		f.rps = median(runs)
		stop(app)
		res = append(res, f)
		step("  %s: %.0f req/s, %d errors %s", f.app, f.rps, f.errors, f.note)
	}
	return res
}

func stackBackends(b *binaries, dir, sock string) []*backend {
	run := func(bin string, args ...string) func(sock string) (*exec.Cmd, error) {
		return func(sock string) (*exec.Cmd, error) {
			argv := make([]string, len(args))
			for i, a := range args {
				argv[i] = strings.ReplaceAll(a, "SOCK", sock)
			}
			cmd := exec.Command(bin, argv...)
			cmd.Dir = dir
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				return nil, err
			}
			return cmd, waitDial("unix", sock)
		}
	}
	fastcgi := func(keepConn string) string {
		return `include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param SCRIPT_FILENAME ` + b.php + `;
            fastcgi_param PATH_INFO $uri;
            fastcgi_keep_conn ` + keepConn + `;
            fastcgi_pass UPSTREAM;`
	}
	httpPort := freePort()
	bs := []*backend{
		{name: "this project (hosting.Run, examples/hello)",
			start: run(b.runtime, "-listen", "unix:SOCK"), location: fastcgi("on")},
		{name: "net/http/fcgi", start: run(b.stdlib, "-listen", "unix:SOCK"), location: fastcgi("on")},
		// libfcgi and PHP-FPM serve a kept connection until nginx closes
		// it, so with more connections than workers the rest would wait.
		{name: "C libfcgi, 4 threads (connection per request)", start: run(b.c, "SOCK", "4"), location: fastcgi("off")},
		{name: "PHP-FPM, 4 children (connection per request)", start: startPHPFPM(dir), location: fastcgi("off")},
		{name: "upper bound: nginx proxying HTTP/1.1 to Go net/http",
			start: func(string) (*exec.Cmd, error) {
				addr := fmt.Sprintf("127.0.0.1:%d", httpPort)
				cmd := exec.Command(b.nethttp, "-listen", addr)
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					return nil, err
				}
				return cmd, waitDial("tcp", addr)
			},
			location: `proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://UPSTREAM;`},
		{name: "nginx static file", location: "root " + filepath.Join(dir, "static") + ";", path: "/hello.txt"},
	}
	if b.c == "" {
		bs[2].missing = "libfcgi-dev not installed"
	}
	if _, err := exec.LookPath("php-fpm8.2"); err != nil {
		bs[3].missing = "php8.2-fpm not installed"
	}
	for i, be := range bs {
		be.port = freePort()
		if be.path == "" {
			be.path = "/"
		}
		if !strings.Contains(be.location, "UPSTREAM") {
			continue
		}
		name := "app" + strconv.Itoa(i)
		addr := "unix:" + sock
		if strings.HasPrefix(be.location, "proxy_") {
			addr = fmt.Sprintf("127.0.0.1:%d", httpPort)
		}
		be.location = strings.ReplaceAll(be.location, "UPSTREAM", name)
		be.upstream = fmt.Sprintf("    upstream %s { server %s; keepalive 32; }\n", name, addr)
	}
	return bs
}

func startNginx(dir string, backends []*backend) (*exec.Cmd, error) {
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the application sockets are root's
	}
	var upstreams, servers strings.Builder
	for _, be := range backends {
		upstreams.WriteString(be.upstream)
		fmt.Fprintf(&servers, "    server {\n        listen 127.0.0.1:%d;\n        location / {\n            %s\n        }\n    }\n",
			be.port, be.location)
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes auto;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    fastcgi_temp_path %[2]s/fastcgi;
    proxy_temp_path %[2]s/proxy;
    scgi_temp_path %[2]s/scgi;
    uwsgi_temp_path %[2]s/uwsgi;
%[3]s%[4]s}
`, user, dir, upstreams.String(), servers.String())
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitDial("tcp", fmt.Sprintf("127.0.0.1:%d", backends[0].port)); err != nil {
		stop(cmd)
		return nil, fmt.Errorf("nginx: %v", err)
	}
	return cmd, nil
}

func startPHPFPM(dir string) func(sock string) (*exec.Cmd, error) {
	return func(sock string) (*exec.Cmd, error) {
		conf := fmt.Sprintf(`[global]
pid = %[1]s/php-fpm.pid
error_log = %[1]s/php-fpm.log
daemonize = no
[bench]
listen = %[2]s
pm = static
pm.max_children = 4
`, dir, sock)
		path := filepath.Join(dir, "php-fpm.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command("php-fpm8.2", "-n", "-F", "-R", "-y", path)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return cmd, waitDial("unix", sock)
	}
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in `)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	rps      float64
	requests float64
	errors   int
}

func wrk(ctx context.Context, url string, o *options) (wrkResult, error) {
	var w wrkResult
	out, err := exec.CommandContext(ctx, "wrk", "-t", "2", "-c", strconv.Itoa(o.conns),
		"-d", o.duration.String(), url).CombinedOutput()
	if err != nil {
		return w, fmt.Errorf("wrk: %s", firstLine(out, err))
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return w, fmt.Errorf("wrk: no Requests/sec in %q", out)
	}
	w.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := wrkRequests.FindSubmatch(out); m != nil {
		w.requests, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		w.errors += n
	}
	if m := wrkSocket.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			w.errors += n
		}
	}
	return w, nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitDial(network, addr string) error {
	for i := 0; i < 200; i++ {
		if c, err := net.Dial(network, addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("nothing answered on %s within 5s", addr)
}

// stop ends a process this program started, by PID.
func stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
