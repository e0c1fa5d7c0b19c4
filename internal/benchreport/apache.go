package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
)

// apacheFigure is one site under Apache + mod_fcgid: wrk's throughput and
// the CPU time the processes mod_fcgid runs for the site used meanwhile.
type apacheFigure struct {
	site   string
	rps    float64 // median over the runs
	cpuUs  float64 // application CPU per request, µs: over all runs
	webUs  float64 // Apache's own CPU per request, µs: over all runs
	procs  int     // processes seen for the site
	errors int
	note   string
}

// sparseFigure is one process answering requests one at a time, 0.5 ms
// apart, as mod_fcgid spreads requests over its processes.
type sparseFigure struct {
	app   string
	cpuUs float64 // median over the runs
	note  string
}

type apacheReport struct {
	sites  []apacheFigure
	sparse []sparseFigure
	conns  int
}

// apacheConns and apacheProcs are the load and the process limit of the
// Apache runs: more clients than processes, as on a busy shared host.
const (
	apacheConns = 16
	apacheProcs = 8
)

// apacheSite is a directory of the document root with its .htaccess.
type apacheSite struct {
	name    string // in the report
	dir     string // below www
	path    string // what wrk asks for
	exe     string // the processes' executable, to find them; "" for none
	missing string
}

// apacheRuns serves each application from its own directory of one Apache
// with mod_fcgid, as a shared host does, loads each with wrk, and reads the
// CPU time of the processes mod_fcgid started for it from /proc.
func apacheRuns(ctx context.Context, o *options, b *binaries, r *report) *apacheReport {
	ar := &apacheReport{conns: apacheConns}
	ar.sparse = sparseRuns(ctx, o, b)
	for _, need := range []struct{ bin, pkg string }{{"apache2", "apache2"}, {"wrk", "wrk"}} {
		if _, err := exec.LookPath(need.bin); err != nil {
			r.missing = append(r.missing, "Apache + mod_fcgid figures: "+need.bin+" not installed (apt-get install "+need.pkg+")")
			return ar
		}
	}
	if _, err := os.Stat("/usr/lib/apache2/modules/mod_fcgid.so"); err != nil {
		r.missing = append(r.missing, "Apache + mod_fcgid figures: mod_fcgid not installed (apt-get install libapache2-mod-fcgid)")
		return ar
	}
	if os.Geteuid() != 0 {
		r.missing = append(r.missing, "Apache + mod_fcgid figures: need root to run Apache's workers as www-data")
		return ar
	}
	root, err := os.MkdirTemp("", "bench-apache-")
	if err != nil {
		r.missing = append(r.missing, "Apache + mod_fcgid figures: "+err.Error())
		return ar
	}
	defer os.RemoveAll(root)
	sites, err := layOutSites(root, b)
	if err != nil {
		r.missing = append(r.missing, "Apache + mod_fcgid figures: "+err.Error())
		return ar
	}
	port := freePort()
	apachePID, stopApache, err := startApache(root, port)
	if err != nil {
		r.missing = append(r.missing, "Apache + mod_fcgid figures: "+err.Error())
		return ar
	}
	defer func() {
		stopApache()
		// Kept for a look at what the errors were.
		if b, err := os.ReadFile(filepath.Join(root, "logs", "error.log")); err == nil {
			os.WriteFile(filepath.Join(o.work, "apache-error.log"), b, 0o644)
		}
	}()
	loads := make([]*siteLoad, len(sites))
	for i, s := range sites {
		loads[i] = &siteLoad{site: s, url: fmt.Sprintf("http://127.0.0.1:%d%s", port, s.path),
			f: apacheFigure{site: s.name, note: s.missing}, seen: map[int]bool{}}
		if s.missing == "" {
			loads[i].warm(ctx, o)
		}
	}
	// Round by round, so that a machine whose speed drifts over minutes
	// (a busy virtual machine) weighs on every site alike.
	for range o.runs {
		for _, l := range loads {
			if l.f.note == "" {
				l.run(ctx, o, apachePID)
			}
		}
	}
	for _, l := range loads {
		f := l.figure()
		step("  Apache %s: %.0f req/s, %.0f µs CPU/request over %d processes, Apache %.0f µs/request, %d errors %s",
			f.site, f.rps, f.cpuUs, f.procs, f.webUs, f.errors, f.note)
		ar.sites = append(ar.sites, f)
	}
	return ar
}

// siteLoad is one site's runs under wrk so far.
type siteLoad struct {
	site     apacheSite
	url      string
	f        apacheFigure // note set: no more runs
	rps      []float64
	cpu, web time.Duration
	requests float64
	seen     map[int]bool
}

// warm loads the site as long as a run, 3 s at least, so that mod_fcgid
// has spawned its processes before the runs.
func (l *siteLoad) warm(ctx context.Context, o *options) {
	warm := *o
	warm.conns, warm.duration = apacheConns, max(3*time.Second, o.duration)
	if _, err := wrk(ctx, l.url, &warm); err != nil {
		l.f.note = "warm-up: " + err.Error()
	}
}

// run runs wrk once, reading the CPU time of the site's processes and of
// Apache's around it.
func (l *siteLoad) run(ctx context.Context, o *options, apachePID int) {
	load := *o
	load.conns = apacheConns
	before := siteCPU(apachePID, l.site.exe, l.seen)
	webBefore := apacheCPU(apachePID)
	w, err := wrk(ctx, l.url, &load)
	if err != nil {
		l.f.note = err.Error()
		return
	}
	after := siteCPU(apachePID, l.site.exe, l.seen)
	l.web += apacheCPU(apachePID) - webBefore
	l.rps = append(l.rps, w.rps)
	l.f.errors += w.errors
	l.requests += w.requests
	for pid, t := range after {
		l.cpu += t - before[pid] // a process spawned meanwhile counts from 0
	}
}

func (l *siteLoad) figure() apacheFigure {
	f := l.f
	if len(l.rps) == 0 {
		return f
	}
	f.rps = median(l.rps)
	f.procs = len(l.seen)
	if l.requests > 0 {
		f.webUs = float64(l.web) / float64(time.Microsecond) / l.requests
		if l.site.exe != "" {
			f.cpuUs = float64(l.cpu) / float64(time.Microsecond) / l.requests
		}
	}
	return f
}

// apacheCPU is the CPU time of Apache's own processes: the parent, with
// the workers it has reaped, and its children that run Apache (workers,
// mod_fcgid's process manager), not the applications those start.
func apacheCPU(apachePID int) time.Duration {
	apache, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", apachePID))
	total, _, _ := statCPU(fmt.Sprintf("/proc/%d/stat", apachePID), true)
	for _, p := range procsOf(apache) {
		if p.ppid == apachePID {
			total += p.cpu
		}
	}
	return total
}

// proc is a process's PID, parent and CPU time, user and system.
type proc struct {
	pid, ppid int
	cpu       time.Duration
}

// procsOf lists the processes running exe, from /proc.
func procsOf(exe string) []proc {
	var procs []proc
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p := "/proc/" + e.Name()
		if x, _ := os.Readlink(p + "/exe"); x != exe {
			continue
		}
		if t, ppid, ok := statCPU(p+"/stat", false); ok {
			procs = append(procs, proc{pid: pid, ppid: ppid, cpu: t})
		}
	}
	return procs
}

// siteCPU is the CPU time, user and system, of each process running exe
// that this Apache's mod_fcgid started (the child of its process manager,
// a child of Apache), from /proc/PID/stat; seen collects their PIDs. The
// two PHP sites' processes are one class (one FcgidWrapper): the site not
// under load adds nothing.
func siteCPU(apachePID int, exe string, seen map[int]bool) map[int]time.Duration {
	out := map[int]time.Duration{}
	if exe == "" {
		return out
	}
	for _, p := range procsOf(exe) {
		if _, pm, _ := statCPU(fmt.Sprintf("/proc/%d/stat", p.ppid), false); pm != apachePID {
			continue
		}
		out[p.pid] = p.cpu
		seen[p.pid] = true
	}
	return out
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTick = 10 * time.Millisecond

// statCPU reads utime + stime and the parent's PID from a /proc/PID/stat;
// with reaped, also cutime + cstime, the children it has waited for.
func statCPU(path string, reaped bool) (cpu time.Duration, ppid int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. ppid is field 4, utime and stime 14
	// and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 15 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	var ticks int64
	last := 12
	if reaped {
		last = 14
	}
	for _, f := range fields[11 : last+1] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		ticks += n
	}
	if err != nil {
		return 0, 0, false
	}
	return time.Duration(ticks) * clockTick, ppid, true
}

// layOutSites puts each application in its own directory of www with the
// .htaccess a user would upload beside it.
func layOutSites(root string, b *binaries) ([]apacheSite, error) {
	www := filepath.Join(root, "www")
	htaccess, err := os.ReadFile("deploy/apache-fcgid/htaccess")
	if err != nil {
		return nil, err
	}
	const plain = "Options +ExecCGI\nAddHandler fcgid-script .fcgi\n"
	php := "/usr/bin/php-cgi8.2"
	for _, u := range []struct{ dir, src, name, htaccess string }{
		{"hello", b.runtime, "mysite.fcgi", string(htaccess)},
		{"helloplain", b.runtime, "mysite.fcgi", plain},
		{"stdlib", b.stdlib, "stdlib.fcgi", plain},
		{"php", b.php, "hello.php", "Options +ExecCGI\nAddHandler fcgid-script .php\n"},
		{"phprw", b.php, "index.php", "Options +ExecCGI\nAddHandler fcgid-script .php\n" + wordpressRewrite},
		{"c", b.c, "hello-c.fcgi", plain},
		{"static", "", "hello.txt", ""},
	} {
		dir := filepath.Join(www, u.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		data, mode := []byte("Hello, world\n"), os.FileMode(0o644)
		if u.src != "" {
			if data, err = os.ReadFile(u.src); err != nil {
				return nil, err
			}
			if strings.HasSuffix(u.name, ".fcgi") {
				mode = 0o755
			}
		}
		if u.src != "" || u.dir == "static" {
			if err := os.WriteFile(filepath.Join(dir, u.name), data, mode); err != nil {
				return nil, err
			}
		}
		if u.htaccess != "" {
			os.WriteFile(filepath.Join(dir, ".htaccess"), []byte(u.htaccess), 0o644)
		}
	}
	if err := chownWWW(www); err != nil {
		return nil, err
	}
	sites := []apacheSite{
		{name: "this project (examples/hello), through the .htaccess rewrite", dir: "hello", path: "/hello/", exe: "mysite.fcgi"},
		{name: "this project, addressed directly (/mysite.fcgi/)", dir: "hello", path: "/hello/mysite.fcgi/", exe: "mysite.fcgi"},
		{name: "net/http/fcgi", dir: "stdlib", path: "/stdlib/stdlib.fcgi", exe: "stdlib.fcgi"},
		{name: "PHP 8.2 php-cgi (FcgidWrapper)", dir: "php", path: "/php/hello.php", exe: php},
		{name: "C libfcgi, one thread", dir: "c", path: "/c/hello-c.fcgi", exe: "hello-c.fcgi"},
		{name: "static file (Apache alone)", dir: "static", path: "/static/hello.txt"},
		{name: "PHP 8.2 php-cgi through WordPress's front-controller rewrite", dir: "phprw", path: "/phprw/hello", exe: php},
		{name: "this project, addressed directly beside a 2-line .htaccess (no rewrite, no rules)", dir: "helloplain", path: "/helloplain/mysite.fcgi", exe: "mysite.fcgi"},
	}
	for i := range sites {
		s := &sites[i]
		s.dir = filepath.Join(www, s.dir)
		if s.exe != "" && !filepath.IsAbs(s.exe) {
			s.exe = filepath.Join(s.dir, s.exe)
		}
	}
	if _, err := os.Stat(php); err != nil {
		sites[3].missing = "php8.2-cgi not installed"
		sites[6].missing = sites[3].missing
	}
	if b.c == "" {
		sites[4].missing = "libfcgi-dev not installed"
	}
	return sites, nil
}

// wordpressRewrite is the .htaccess WordPress writes, for a site in the
// directory phprw: a PHP application as users deploy one, every URL that
// is no file through the rewrite to index.php, as this project's URLs go
// to mysite.fcgi.
const wordpressRewrite = `RewriteEngine On
RewriteBase /phprw/
RewriteRule ^index\.php$ - [L]
RewriteCond %{REQUEST_FILENAME} !-f
RewriteCond %{REQUEST_FILENAME} !-d
RewriteRule . /phprw/index.php [L]
`

// chownWWW gives the document root to www-data, as an upload by the site's
// owner would be: Apache's workers and mod_fcgid's processes run as it.
func chownWWW(www string) error {
	uid, gid := apachetest.WWWData()
	return filepath.Walk(www, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// startApache starts Apache 2.4 (mpm_event) with mod_rewrite and mod_fcgid
// from its own ServerRoot on 127.0.0.1:port, and returns its PID and how to
// stop it.
func startApache(root string, port int) (int, func(), error) {
	os.Chmod(root, 0o755)
	for _, d := range []string{"conf", "logs", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return 0, nil, err
		}
	}
	// php-cgi exits after PHP_FCGI_MAX_REQUESTS (500 by default), which
	// would add respawns to its figures: it serves on here, as the Go
	// processes do. A site rests while the others run (several minutes
	// with a long -d): past FcgidIdleTimeout (300 s by default) its
	// processes would be stopped and their respawns counted.
	conf := apachetest.Conf(root, port, []string{"rewrite", "fcgid"}, fmt.Sprintf(`FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"
FcgidMaxProcessesPerClass %d
FcgidIdleTimeout 3600
FcgidInitialEnv PHP_FCGI_MAX_REQUESTS 0
<Directory "{{ROOT}}/www/php">
    FcgidWrapper /usr/bin/php-cgi8.2 .php
</Directory>
<Directory "{{ROOT}}/www/phprw">
    FcgidWrapper /usr/bin/php-cgi8.2 .php
</Directory>
`, apacheProcs))
	path := filepath.Join(root, "conf", "httpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return 0, nil, err
	}
	uid, gid := apachetest.WWWData()
	os.Chown(filepath.Join(root, "run"), uid, gid) // mod_fcgid makes its sockets as www-data
	if out, err := exec.Command("apache2", "-f", path, "-k", "start").CombinedOutput(); err != nil {
		return 0, nil, fmt.Errorf("apache2: %v: %s", err, firstLine(out, err))
	}
	pid := func() int {
		b, _ := os.ReadFile(filepath.Join(root, "run", "httpd.pid"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	stopIt := func() {
		if p := pid(); p > 0 {
			syscall.Kill(p, syscall.SIGTERM)
			for deadline := time.Now().Add(30 * time.Second); syscall.Kill(p, 0) == nil && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	for i := 0; i < 200 && pid() == 0; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if err := waitDial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		stopIt()
		b, _ := os.ReadFile(filepath.Join(root, "logs", "error.log"))
		return 0, nil, fmt.Errorf("apache2: %v\n%s", err, b)
	}
	return pid(), stopIt, nil
}

var appCPURE = regexp.MustCompile(`app cpu: +([\d.]+) µs/request`)

// sparseRuns spawns each application as mod_fcgid does and sends it one
// request at a time on a new connection, 0.5 ms after the last answer,
// reading the CPU time it used per request (fcgi-bench -pause).
func sparseRuns(ctx context.Context, o *options, b *binaries) []sparseFigure {
	apps := []struct{ name, bin, missing string }{
		{"this project (hosting.Run, examples/hello)", b.runtime, ""},
		{"net/http/fcgi", b.stdlib, ""},
		{"C libfcgi, one thread", b.c, "libfcgi-dev not installed"},
	}
	figs := make([]sparseFigure, len(apps))
	vals := make([][]float64, len(apps))
	// Interleaved, so that a busy moment of the machine spreads over all.
	for range o.runs {
		for i, app := range apps {
			figs[i].app = app.name
			if app.bin == "" {
				figs[i].note = app.missing
				continue
			}
			if figs[i].note != "" {
				continue
			}
			out, err := exec.CommandContext(ctx, b.bench, "-spawn", app.bin, "-c", "1", "-pause", "500us",
				"-n", "2000", "-d", "60s").CombinedOutput()
			if err != nil {
				figs[i].note = "fcgi-bench: " + firstLine(out, err)
				continue
			}
			m := appCPURE.FindStringSubmatch(string(out))
			if m == nil {
				figs[i].note = "no CPU figure: " + firstLine(out, err)
				continue
			}
			v, _ := strconv.ParseFloat(m[1], 64)
			vals[i] = append(vals[i], v)
		}
	}
	for i := range figs {
		figs[i].cpuUs = median(vals[i])
		step("  sparse %s: %.0f µs CPU/request %s", figs[i].app, figs[i].cpuUs, figs[i].note)
	}
	return figs
}
