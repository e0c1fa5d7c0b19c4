package hosting

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// statusPage answers STATUS_PATH for whoever holds STATUS_TOKEN: what
// PHP-FPM's status page tells, for a site whose owner has no shell. It
// shows figures, never settings values, headers or query strings.
type statusPage struct {
	path        string
	token       [sha256.Size]byte // of STATUS_TOKEN: compared in constant time whatever the length
	version     string
	mode        startMode
	started     time.Time
	memoryLimit int64
	reloads     *reloadNotes
}

func newStatusPage(s *Settings, version string, mode startMode, reloads *reloadNotes) *statusPage {
	if s.StatusPath == "" || s.StatusToken == "" {
		return nil
	}
	return &statusPage{path: s.StatusPath, token: sha256.Sum256([]byte(s.StatusToken)), version: version, mode: mode,
		started: time.Now(), memoryLimit: s.MemoryLimit, reloads: reloads}
}

// authorized reports whether r carries "Authorization: Bearer TOKEN". A
// request that does not is served as if there were no status page, so
// its existence is not given away.
func (p *statusPage) authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], p.token[:]) == 1
}

// status is the page's content; the JSON names are its documentation.
type status struct {
	Version        string        `json:"version"`
	Mode           string        `json:"mode"`
	PID            int           `json:"pid"`
	Started        time.Time     `json:"started"`
	UptimeSeconds  float64       `json:"uptime_seconds"`
	RequestsServed int64         `json:"requests_served"`
	InProgress     []running     `json:"in_progress"`
	SlowestRecent  []slowRequest `json:"slowest_recent"`
	Responses5xx   int64         `json:"responses_5xx"`
	SlowRequests   int64         `json:"slow_requests"`
	TimedOut       int64         `json:"timed_out"`
	PastTimeLimit  int64         `json:"handlers_running_past_time_limit"`
	Reloads        int           `json:"reloads"`
	RecentReloads  []reloadNote  `json:"recent_reloads"`
	MemoryInUse    int64         `json:"memory_in_use_bytes"`
	MemoryLimit    int64         `json:"memory_limit_bytes"`
	OtherProcesses string        `json:"other_processes"`
}

// running is a request in progress.
type running struct {
	Method  string  `json:"method"`
	Path    string  `json:"path"`
	Seconds float64 `json:"seconds"`
	// Answered by REQUEST_TIMEOUT, its handler still running.
	PastTimeLimit bool `json:"past_time_limit,omitempty"`
}

// slowRequest is one of the slowest recent requests.
type slowRequest struct {
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Seconds float64   `json:"seconds"`
	Status  int       `json:"status"`
	Ended   time.Time `json:"ended"`
}

func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

func (p *statusPage) gather(q *requests) status {
	now := time.Now()
	st := status{Version: p.version, Mode: p.mode.String(), PID: os.Getpid(), Started: p.started.UTC().Truncate(time.Second),
		UptimeSeconds: seconds(now.Sub(p.started)), RequestsServed: q.served.Load(), InProgress: q.inProgress(now),
		Responses5xx: q.failed.Load(), SlowRequests: q.slowCount.Load(), TimedOut: q.timedOut.Load(),
		PastTimeLimit: q.pastLimit.Load(), MemoryInUse: memoryInUse(), MemoryLimit: p.memoryLimit,
		SlowestRecent: []slowRequest{}, OtherProcesses: otherProcesses(p.mode)}
	st.Reloads, st.RecentReloads = p.reloads.list()
	q.mu.Lock()
	for _, f := range q.slowest.list(now) {
		st.SlowestRecent = append(st.SlowestRecent, slowRequest{Method: f.method, Path: f.prefix + f.path, Seconds: seconds(f.took),
			Status: f.status, Ended: f.at.UTC().Truncate(time.Second)})
	}
	q.mu.Unlock()
	return st
}

// otherProcesses says what the page cannot show: the figures of the
// site's other processes, which only the web server knows of.
func otherProcesses(m startMode) string {
	switch m {
	case modeExternal:
		return "none: this server serves every request sent to its socket"
	case modePassenger:
		return "not known: Passenger may run several processes of the site (PassengerMaxPoolSize) and sends each request " +
			"to one of them; each counts only its own. Ask again to reach another (pid says which answered)"
	case modeCGI:
		return "not known: under CGI each request runs a process of its own, and this page describes this one"
	}
	return "not known: the web server (mod_fcgid, mod_fastcgi, lighttpd) may run several processes of the site and " +
		"sends each request to one of them; each counts only its own. Ask again to reach another (pid says which answered)"
}

func (p *statusPage) serve(w http.ResponseWriter, r *http.Request, q *requests) {
	st := p.gather(q)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if r.URL.Query().Get("format") == "openmetrics" || strings.Contains(r.Header.Get("Accept"), "application/openmetrics-text") {
		h.Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		w.Write(st.openMetrics())
		return
	}
	h.Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

// openMetrics is st in the OpenMetrics text format, for Prometheus.
func (st *status) openMetrics() []byte {
	var b []byte
	family := func(name, typ, unit, help string) {
		b = append(b, "# TYPE "+name+" "+typ+"\n"...)
		if unit != "" {
			b = append(b, "# UNIT "+name+" "+unit+"\n"...)
		}
		b = append(b, "# HELP "+name+" "+help+"\n"...)
	}
	sample := func(name, labels string, v float64) {
		b = append(b, name...)
		if labels != "" {
			b = append(b, "{"+labels+"}"...)
		}
		b = append(b, ' ')
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
		b = append(b, '\n')
	}
	family("fcgi_build", "info", "", "The site's version, how the process was started, and its PID.")
	sample("fcgi_build_info", label("version", st.Version)+","+label("mode", st.Mode)+","+label("pid", strconv.Itoa(st.PID)), 1)
	family("fcgi_start_time_seconds", "gauge", "seconds", "When the running code started, in Unix time.")
	sample("fcgi_start_time_seconds", "", float64(st.Started.Unix()))
	counter := func(name, help string, v int64) {
		family(name, "counter", "", help)
		sample(name+"_total", "", float64(v))
	}
	counter("fcgi_requests", "Requests this process has served since its code started.", st.RequestsServed)
	counter("fcgi_server_errors", "Responses with a 5xx status.", st.Responses5xx)
	counter("fcgi_slow_requests", "Requests still running after SLOW_REQUEST.", st.SlowRequests)
	counter("fcgi_timed_out_requests", "Requests answered 503 or cut off by REQUEST_TIMEOUT.", st.TimedOut)
	counter("fcgi_reloads", "Hand-overs of this process to new code in place.", int64(st.Reloads))
	family("fcgi_requests_in_progress", "gauge", "", "Requests in progress.")
	sample("fcgi_requests_in_progress", "", float64(len(st.InProgress)))
	family("fcgi_request_age_seconds", "gauge", "seconds", "How long each request in progress has run; n tells apart two on one path.")
	for i, f := range st.InProgress {
		sample("fcgi_request_age_seconds", label("method", f.Method)+","+label("path", f.Path)+","+label("n", strconv.Itoa(i)), f.Seconds)
	}
	family("fcgi_handlers_past_time_limit", "gauge", "", "Handlers still running after REQUEST_TIMEOUT answered for them.")
	sample("fcgi_handlers_past_time_limit", "", float64(st.PastTimeLimit))
	family("fcgi_memory_in_use_bytes", "gauge", "bytes", "Memory the Go runtime holds from the system.")
	sample("fcgi_memory_in_use_bytes", "", float64(st.MemoryInUse))
	family("fcgi_memory_limit_bytes", "gauge", "bytes", "MEMORY_LIMIT; 0 for none.")
	sample("fcgi_memory_limit_bytes", "", float64(st.MemoryLimit))
	return append(b, "# EOF\n"...)
}

// label is name="value", escaped as OpenMetrics wants.
func label(name, value string) string {
	return name + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(value) + `"`
}
