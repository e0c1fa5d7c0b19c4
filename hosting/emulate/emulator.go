// Package emulate runs a site directory on 127.0.0.1 the way a shared host
// with Apache 2.4 and mod_fcgid would: it reads the .htaccess files, serves
// existing files itself, and spawns .fcgi scripts with a listening socket
// on fd 0, sending them the FastCGI parameters Apache sends. It is not
// specific to Go: any FastCGI or CGI script works.
package emulate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/cgi"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/cgivar"
	"github.com/fcgi-hosting/fcgi/responder"
)

// DefaultMaxRequestLen is mod_fcgid's FcgidMaxRequestLen default: larger
// request bodies get a 500 from Apache itself.
const DefaultMaxRequestLen = 131072

// DefaultOutputBufferSize is mod_fcgid's FcgidOutputBufferSize default:
// Apache holds up to this much of a response before it passes it on.
const DefaultOutputBufferSize = 65536

// LocalVar=1 is in the environment of every script the emulation runs,
// and of none a web server runs, so that a script can tell the developer's
// machine from the host: sites built with package hosting read their
// development settings, NAME.dev.env, over NAME.env then.
const LocalVar = "FCGI_LOCAL_EMULATION"

// AllowHostsVar, in the environment of Run, lists host names besides the
// loopback ones and IP addresses that requests may name (see AllowHosts).
const AllowHostsVar = "FCGI_LOCAL_ALLOW_HOSTS"

// stockDenied is <FilesMatch "^\.ht"> Require all denied, which Apache's
// stock configuration (httpd.conf, Debian's apache2.conf) has: .htaccess
// and .htpasswd are refused in every directory, whether they exist or not.
var stockDenied = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\.ht`) })

// serverSoftware is what Apache on Debian 12 reports.
const serverSoftware = "Apache/2.4.71 (Debian) mod_fcgid/2.3.9 (local emulation)"

// Emulator serves a site directory as Apache + mod_fcgid would.
type Emulator struct {
	// Root is the site's directory, Apache's DocumentRoot.
	Root string
	// Env is added to the spawned processes' environment, as
	// FcgidInitialEnv would; PATH and LocalVar=1 are always passed.
	Env []string
	// MaxProcesses limits the processes per script. Zero means 4.
	MaxProcesses int
	// MaxRequestLen refuses larger request bodies with 500, as mod_fcgid
	// does. Zero means DefaultMaxRequestLen.
	MaxRequestLen int64
	// OutputBufferSize holds up to this many bytes of a response before
	// they are sent, as mod_fcgid's FcgidOutputBufferSize does, so that a
	// stream that reaches the browser only in pieces on the host does so
	// here too. Zero means DefaultOutputBufferSize; negative sends what the
	// application writes at once (FcgidOutputBufferSize 0).
	OutputBufferSize int
	// AllowHosts are host names, besides localhost, *.localhost and IP
	// addresses, that the Host header of a request may name; ".example.test"
	// allows its subdomains too. Requests for other names get 403: the
	// emulation runs on the developer's machine, and a page of any site
	// the browser shows could otherwise read it through DNS rebinding (its
	// own name made to resolve to 127.0.0.1), as it could read any local
	// development server that answers every name.
	AllowHosts []string
	// Log receives one line per request and every warning; nil discards.
	Log io.Writer
	// Stderr receives the applications' standard error; nil means Log.
	Stderr io.Writer

	once       sync.Once
	env        []string // what every script gets: LocalVar, then Env
	listenName string   // the host name of ListenAndServe's address, which requests may name too
	pool       *pool
	initErr    error
	warned     sync.Map    // warnings already shown
	limits     *readLimits // what Serve enforces while reading requests; nil means stockLimits
}

func (e *Emulator) init() error {
	e.once.Do(func() {
		if e.Log == nil {
			e.Log = io.Discard
		}
		if e.Stderr == nil {
			e.Stderr = e.Log
		}
		max := e.MaxProcesses
		if max <= 0 {
			max = 4
		}
		e.env = append([]string{LocalVar + "=1"}, e.Env...)
		root, err := filepath.Abs(e.Root)
		if err != nil {
			e.initErr = err
			return
		}
		e.Root = root
		e.pool, e.initErr = newPool(append([]string{"PATH=" + os.Getenv("PATH")}, e.env...), e.Stderr, e.logf, max)
	})
	return e.initErr
}

func (e *Emulator) readLimits() *readLimits {
	if e.limits != nil {
		return e.limits
	}
	return &stockLimits
}

// Close stops every spawned process and removes their sockets.
func (e *Emulator) Close() {
	if e.init() == nil {
		e.pool.close()
	}
}

// Warnings lists what the emulator does not emulate in the site's
// .htaccess files, with file and line.
func (e *Emulator) Warnings() []string {
	var out []string
	filepath.WalkDir(e.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if h, err := loadHtaccess(p); err != nil {
				out = append(out, err.Error())
			} else if h != nil {
				out = append(out, h.warnings...)
			}
		}
		return nil
	})
	return out
}

func (e *Emulator) logf(format string, args ...any) {
	fmt.Fprintf(e.Log, format+"\n", args...)
}

func (e *Emulator) warnOnce(msgs []string) {
	for _, m := range msgs {
		if _, seen := e.warned.LoadOrStore(m, true); !seen {
			e.logf("warning: %s", m)
		}
	}
}

// dirConfig is the merged .htaccess configuration along a path.
type dirConfig struct {
	handlers  map[string]string
	execCGI   bool
	indexes   bool
	index     []string
	denyAll   bool
	denyFiles []*regexp.Regexp
	passAuth  bool
	errorDocs map[int]string
	rewrite   *htaccess // the deepest file with rules in force
	rewriteAt string    // its directory's URL
	// vars are the request's variables and environment after the rewrite,
	// for the ErrorDocument expression and the application.
	vars *rewriteVars
}

// config merges the .htaccess files from the root down to the directory
// that holds urlPath (existing directories only).
func (e *Emulator) config(urlPath string) *dirConfig {
	cfg := &dirConfig{handlers: map[string]string{}, index: []string{"index.html"}, errorDocs: map[int]string{}}
	segs := strings.Split(strings.Trim(urlPath, "/"), "/")
	dirURL := ""
	engine := false
	for i := 0; i <= len(segs); i++ {
		if i > 0 {
			if segs[i-1] == "" {
				break
			}
			dirURL += "/" + segs[i-1]
		}
		dir := filepath.Join(e.Root, filepath.FromSlash(dirURL))
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			break
		}
		h, err := loadHtaccess(dir)
		if err != nil {
			e.warnOnce([]string{err.Error()})
			continue
		}
		if h == nil {
			continue
		}
		e.warnOnce(h.warnings)
		for k, v := range h.handlers {
			cfg.handlers[k] = v
		}
		if h.execCGI != nil {
			cfg.execCGI = *h.execCGI
		}
		if h.indexes != nil {
			cfg.indexes = *h.indexes
		}
		if h.directoryIdx != nil {
			cfg.index = h.directoryIdx
		}
		cfg.denyAll = cfg.denyAll || h.denyAll
		cfg.denyFiles = append(cfg.denyFiles, h.denyFiles...)
		cfg.passAuth = cfg.passAuth || h.passAuth
		for k, v := range h.errorDocs {
			cfg.errorDocs[k] = v
		}
		// As mod_rewrite merges per-directory configurations: the engine
		// state is inherited, the rules are not.
		if h.engineSet {
			engine = h.rewriteOn
		}
		cfg.rewrite, cfg.rewriteAt = nil, ""
		if engine && len(h.rules) > 0 {
			cfg.rewrite, cfg.rewriteAt = h, dirURL
		}
	}
	return cfg
}

// ServeHTTP serves one request as Apache would.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r.Body = readingBody(r)
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	if e.allowedHost(r.Host) {
		e.serve(rec, r)
	} else {
		e.refuseHost(rec, r)
	}
	e.logf("%s %s %s -> %d (%s)", time.Now().Format("15:04:05"), r.Method, r.RequestURI, rec.status, time.Since(start).Round(time.Microsecond))
}

// allowedHost reports whether hostport, a request's Host, names this
// machine in a way DNS rebinding cannot fake: an IP address, localhost or
// a name under .localhost (which browsers resolve to loopback themselves),
// the name the emulation listens on, or one of AllowHosts. A request
// without Host comes from no browser. The port is not compared: rebinding
// keeps it, and a forwarded port (ssh -L, docker -p) changes it.
func (e *Emulator) allowedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil ||
		host == e.listenName {
		return true
	}
	return slices.ContainsFunc(e.AllowHosts, func(a string) bool {
		a = strings.TrimSuffix(strings.ToLower(a), ".")
		return host == a || strings.HasPrefix(a, ".") && (host == a[1:] || strings.HasSuffix(host, a))
	})
}

// refuseHost answers a request for a name allowedHost refuses, saying in
// the log what to do if the name is the developer's own.
func (e *Emulator) refuseHost(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	e.logf("refused: Host %q is not a name of this machine, so a page of another site may be reading the site through DNS rebinding. "+
		"If it is yours, allow it: %s=%s", r.Host, AllowHostsVar, host)
	http.Error(w, "403 Forbidden: this local emulation answers requests for localhost, its IP addresses and the names in "+
		AllowHostsVar+" only.", http.StatusForbidden)
}

func (e *Emulator) serve(w http.ResponseWriter, r *http.Request) {
	if err := e.init(); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") { // absolute-form, or a request made in a test
		target = r.URL.EscapedPath()
	}
	uriPath, status := requestPath(target)
	if status != 0 {
		e.errorPage(w, r, nil, status)
		return
	}
	requested := uriPath
	query := r.URL.RawQuery
	rewritten := false
	env := map[string]string{}
	var cfg *dirConfig
	for round := 0; ; round++ {
		if round == 10 {
			e.logf("error: more than 10 internal redirects for %s: a RewriteRule loops (add a RewriteCond)", r.RequestURI)
			e.errorPage(w, r, nil, http.StatusInternalServerError)
			return
		}
		cfg = e.config(uriPath)
		cfg.vars = &rewriteVars{r: r, uri: uriPath, filename: e.requestFilename(uriPath), query: query, env: env}
		// Apache authorizes before per-directory rewriting, and again after
		// each internal redirect: a refused name is refused whether the file
		// exists or a rule would send it to the application.
		if cfg.denies(e.walkedName(uriPath)) {
			e.errorPage(w, r, cfg, http.StatusForbidden)
			return
		}
		if cfg.rewrite == nil {
			break
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(uriPath, cfg.rewriteAt), "/")
		res := cfg.rewrite.apply(cfg.vars, cfg.rewriteAt, rel)
		if res.status != 0 {
			if res.location != "" {
				loc := res.location
				if strings.HasPrefix(loc, "/") {
					loc = "http://" + r.Host + loc
				}
				http.Redirect(w, r, loc, res.status)
				return
			}
			e.errorPage(w, r, cfg, res.status)
			return
		}
		if !res.changed || e.sameFile(res.uri, uriPath) {
			break
		}
		// The rewritten URL is decoded again, as Apache does on the
		// internal redirect: a back-reference the B flag left decoded may
		// now be a bad escape (400) or an encoded slash (404).
		next, err := url.PathUnescape(res.uri)
		switch {
		case err != nil:
			e.errorPage(w, r, cfg, http.StatusBadRequest)
			return
		case strings.Contains(strings.ToLower(res.uri), "%2f"):
			e.errorPage(w, r, cfg, http.StatusNotFound)
			return
		}
		// mod_dir's fixup runs after mod_rewrite's: a directory named
		// without its slash is redirected, whatever a rule did with it.
		if e.isDir(uriPath) && !strings.HasSuffix(uriPath, "/") {
			redirectSlash(w, r, uriPath, res.query)
			return
		}
		uriPath, query, rewritten = next, res.query, true
		env = redirected(env, http.StatusOK)
	}

	file, pathInfo, fi := e.resolve(uriPath)
	if fi == nil {
		e.errorPage(w, r, cfg, http.StatusNotFound)
		return
	}
	if !e.inside(file) {
		e.logf("refused: %s leads outside the site directory (symlink?)", uriPath)
		e.errorPage(w, r, cfg, http.StatusForbidden)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(uriPath, "/") {
			redirectSlash(w, r, uriPath, query)
			return
		}
		for _, idx := range cfg.index {
			if st, err := os.Stat(filepath.Join(file, idx)); err == nil && !st.IsDir() {
				file, fi = filepath.Join(file, idx), st
				uriPath += idx
				break
			}
		}
		if fi.IsDir() {
			// Options -Indexes (the shared-hosting norm) or no index.
			e.errorPage(w, r, cfg, http.StatusForbidden)
			return
		}
	}
	handler := cfg.handlers[strings.ToLower(filepath.Ext(file))]
	switch handler {
	case "fcgid-script", "fastcgi-script", "cgi-script":
		if !cfg.execCGI {
			e.logf("error: %s: Options ExecCGI is off in this directory (add Options +ExecCGI to .htaccess)", file)
			e.errorPage(w, r, cfg, http.StatusForbidden)
			return
		}
		scriptName := strings.TrimSuffix(uriPath, pathInfo)
		redirectURL := ""
		if rewritten {
			redirectURL = requested
		}
		if handler == "cgi-script" {
			e.serveCGI(w, r, cfg, file, scriptName, pathInfo, query)
			return
		}
		e.serveFastCGI(w, r, cfg, file, scriptName, pathInfo, query, redirectURL)
		return
	}
	if pathInfo != "" {
		// AcceptPathInfo is off for ordinary files.
		e.errorPage(w, r, cfg, http.StatusNotFound)
		return
	}
	// Apache's default handler reads and drops a body before it answers.
	if _, err := io.Copy(io.Discard, r.Body); bodyTimedOut(err) {
		e.logf("error: request body read timeout: Apache's mod_reqtimeout cuts a body slower than it allows, with 408")
		w.Header().Set("Connection", "close")
		e.errorPage(w, r, nil, http.StatusRequestTimeout)
		return
	}
	e.serveFile(w, r, file, fi)
}

// sameFile reports whether the rewritten URL names the file Apache's core
// mapped the request to: mod_rewrite then ignores the rewrite ("initial
// URL equal rewritten URL"), so that mysite.fcgi/x, the program missing,
// is a 404 rather than a rewrite to mysite.fcgi.
func (e *Emulator) sameFile(rewritten, uriPath string) bool {
	target, err := url.PathUnescape(strings.SplitN(rewritten, "?", 2)[0])
	if err != nil {
		return false
	}
	file, _ := e.walked(uriPath)
	return e.filename(target) == file
}

// isDir reports whether uriPath names a directory of the site.
func (e *Emulator) isDir(uriPath string) bool {
	fi, err := os.Stat(e.filename(uriPath))
	return err == nil && fi.IsDir()
}

// redirectSlash answers as mod_dir's DirectorySlash: a directory named
// without its final slash is redirected, with the query, to its URL with
// one, which Apache makes absolute.
func redirectSlash(w http.ResponseWriter, r *http.Request, uriPath, query string) {
	target := (&url.URL{Path: uriPath + "/"}).EscapedPath()
	if query != "" {
		target += "?" + query
	}
	if r.Host != "" {
		target = "http://" + r.Host + target
	}
	http.Redirect(w, r, target, http.StatusMovedPermanently)
}

// denies reports whether Apache refuses the file named name (a base name)
// in this configuration: Require all denied, a FilesMatch of the
// .htaccess files, or the stock configuration's.
func (cfg *dirConfig) denies(name string) bool {
	return cfg.denyAll || stockDenied().MatchString(name) ||
		slices.ContainsFunc(cfg.denyFiles, func(re *regexp.Regexp) bool { return re.MatchString(name) })
}

// walked is the file name Apache's core maps uriPath to: the path up to
// its first part that is not an existing directory (the rest is
// PATH_INFO), whether that part exists or not; or the whole path, a
// directory (dir true).
func (e *Emulator) walked(uriPath string) (file string, dir bool) {
	file = e.Root
	for _, seg := range strings.Split(strings.Trim(path.Clean("/"+uriPath), "/"), "/") {
		file = filepath.Join(file, seg)
		if fi, err := os.Stat(file); err != nil || !fi.IsDir() {
			return file, false
		}
	}
	return file, true
}

// walkedName is the last part of the file name walked gives, which
// <Files> and <FilesMatch> sections match: "" for a directory named with
// a final slash.
func (e *Emulator) walkedName(uriPath string) string {
	file, dir := e.walked(uriPath)
	if dir && strings.HasSuffix(uriPath, "/") {
		return ""
	}
	return filepath.Base(file)
}

// filename maps a URL path to the file it names, for %{REQUEST_FILENAME}.
func (e *Emulator) filename(uriPath string) string {
	return filepath.Join(e.Root, filepath.FromSlash(path.Clean("/"+uriPath)))
}

// requestFilename is %{REQUEST_FILENAME}: the file Apache's core mapped
// the path to, which stops at an existing file (the rest is PATH_INFO).
func (e *Emulator) requestFilename(uriPath string) string {
	if file, _, fi := e.resolve(uriPath); fi != nil {
		return file
	}
	return e.filename(uriPath)
}

// resolve finds the file a URL path names, with the PATH_INFO after it.
func (e *Emulator) resolve(uriPath string) (string, string, os.FileInfo) {
	full := e.filename(uriPath)
	if fi, err := os.Stat(full); err == nil {
		if !fi.IsDir() && strings.HasSuffix(uriPath, "/") {
			return full, "/", fi // /mysite.fcgi/ has PATH_INFO "/"
		}
		return full, "", fi
	}
	segs := strings.Split(strings.Trim(path.Clean(uriPath), "/"), "/")
	for i := len(segs) - 1; i > 0; i-- {
		candidate := filepath.Join(e.Root, filepath.Join(segs[:i]...))
		fi, err := os.Stat(candidate)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			return "", "", nil
		}
		info := "/" + strings.Join(segs[i:], "/")
		if strings.HasSuffix(uriPath, "/") {
			info += "/"
		}
		return candidate, info, fi
	}
	return "", "", nil
}

// inside reports whether file, with symlinks resolved, is in the site.
func (e *Emulator) inside(file string) bool {
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		return false
	}
	root, err := filepath.EvalSymlinks(e.Root)
	if err != nil {
		return false
	}
	return real == root || strings.HasPrefix(real, root+string(filepath.Separator))
}

func (e *Emulator) serveFile(w http.ResponseWriter, r *http.Request, file string, fi os.FileInfo) {
	f, err := os.Open(file)
	if err != nil {
		e.errorPage(w, r, nil, http.StatusForbidden)
		return
	}
	defer f.Close()
	if ct := mime.TypeByExtension(filepath.Ext(file)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// errorPage answers with Apache's page for code, or the ErrorDocument: a
// file of the site, at a URL-path that may be an expression.
func (e *Emulator) errorPage(w http.ResponseWriter, r *http.Request, cfg *dirConfig, code int) {
	additionally := ""
	if cfg != nil {
		if doc, ok := cfg.errorDocs[code]; ok && strings.HasPrefix(doc, "/") {
			if cfg.vars != nil {
				doc = cfg.vars.expr(doc)
			}
			// Apache redirects to it internally, as to a URL it decodes.
			status := http.StatusBadRequest
			if name, err := url.PathUnescape(doc); err == nil {
				b, err := os.ReadFile(e.filename(name))
				if err == nil {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					w.WriteHeader(code)
					w.Write(b)
					return
				}
				status = http.StatusNotFound
				e.logf("error: ErrorDocument %d %s: %v", code, doc, err)
			}
			additionally = fmt.Sprintf("<p>Additionally, a %s\nerror was encountered while trying to use an ErrorDocument to handle the request.</p>\n", statusText(status))
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>%s</title>\n</head><body>\n<h1>%s</h1>\n%s</body></html>\n",
		statusText(code), http.StatusText(code), additionally)
}

// params are the CGI variables Apache sends (see ../shared/hosts.md).
func (e *Emulator) params(r *http.Request, cfg *dirConfig, file, scriptName, pathInfo, query, redirectURL string) map[string]string {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
	}
	remoteAddr, remotePort, _ := net.SplitHostPort(r.RemoteAddr)
	p := map[string]string{
		"GATEWAY_INTERFACE":     "CGI/1.1",
		"SERVER_SOFTWARE":       serverSoftware,
		"SERVER_PROTOCOL":       r.Proto,
		"SERVER_NAME":           host,
		"SERVER_ADDR":           "127.0.0.1",
		"SERVER_PORT":           port,
		"REQUEST_METHOD":        r.Method,
		"REQUEST_URI":           r.RequestURI,
		"REQUEST_SCHEME":        "http",
		"QUERY_STRING":          query,
		"SCRIPT_NAME":           scriptName,
		"SCRIPT_FILENAME":       file,
		"DOCUMENT_ROOT":         e.Root,
		"CONTEXT_DOCUMENT_ROOT": e.Root,
		"CONTEXT_PREFIX":        "",
		"REMOTE_ADDR":           remoteAddr,
		"REMOTE_PORT":           remotePort,
		"SERVER_ADMIN":          "[no address given]",
		"SERVER_SIGNATURE":      "",
	}
	if pathInfo != "" {
		p["PATH_INFO"] = pathInfo
		p["PATH_TRANSLATED"] = e.filename(pathInfo)
	}
	if redirectURL != "" {
		p["REDIRECT_URL"] = redirectURL
		p["REDIRECT_STATUS"] = "200"
		if query != "" {
			p["REDIRECT_QUERY_STRING"] = query
		}
	}
	// What the .htaccess set (E=), and REDIRECT_ copies of it.
	for k, v := range cfg.vars.env {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		p["CONTENT_TYPE"] = ct
	}
	for k, vv := range r.Header {
		if k == "Content-Type" || k == "Content-Length" || (k == "Authorization" && !cfg.passAuth) || k == "Proxy" {
			continue
		}
		p[cgivar.FromHeader(k)] = strings.Join(vv, ", ")
	}
	if r.Host != "" {
		p["HTTP_HOST"] = r.Host
	}
	return p
}

func (e *Emulator) serveFastCGI(w http.ResponseWriter, r *http.Request, cfg *dirConfig, file, scriptName, pathInfo, query, redirectURL string) {
	limit := e.MaxRequestLen
	if limit <= 0 {
		limit = DefaultMaxRequestLen
	}
	// mod_fcgid reads the whole body before it connects.
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if bodyTimedOut(err) {
		// Apache's mod_reqtimeout cuts it, and mod_fcgid answers 500.
		lim := e.readLimits()
		e.logf("error: request body read timeout (%d bytes read): Apache's mod_reqtimeout (body=%s,MinRate=%d) cuts a body slower than that, "+
			"and mod_fcgid (\"can't get data from http client\") answers 500", len(body), secs(lim.body), lim.minRate)
		w.Header().Set("Connection", "close")
		e.errorPage(w, r, cfg, http.StatusInternalServerError)
		return
	}
	if err != nil {
		e.errorPage(w, r, cfg, http.StatusBadRequest)
		return
	}
	if int64(len(body)) > limit {
		e.logf("error: request body over FcgidMaxRequestLen (%d bytes): Apache answers 500 without calling the application. "+
			"Hosts rarely raise it; keep uploads smaller or send them elsewhere", limit)
		e.errorPage(w, r, cfg, http.StatusInternalServerError)
		return
	}
	params := e.params(r, cfg, file, scriptName, pathInfo, query, redirectURL)
	params["CONTENT_LENGTH"] = strconv.Itoa(len(body))
	if len(body) == 0 && r.ContentLength <= 0 && r.Header.Get("Content-Length") == "" {
		delete(params, "CONTENT_LENGTH")
	}

	c := e.pool.classFor(file)
	for attempt := 0; ; attempt++ {
		proc, err := e.pool.acquire(r.Context(), c)
		if err != nil && r.Context().Err() != nil {
			e.errorPage(w, r, cfg, http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			// As on the host, where suEXEC or the kernel refuses it: a 500
			// with the site's ErrorDocument.
			hint := ""
			switch {
			case errors.Is(err, syscall.EACCES):
				hint = ": give it mode 755, which the host needs too"
			case errors.Is(err, syscall.ENOEXEC):
				hint = ": not a program for this machine, or cut short; upload it again"
			}
			e.logf("error: %v%s", err, hint)
			e.errorPage(w, r, cfg, http.StatusInternalServerError)
			return
		}
		conn, err := proc.dial()
		if err != nil {
			// A connect that fails goes to another process, as in mod_fcgid;
			// the one that refused it (stopping, say) gets no other.
			c.discard(proc)
			if attempt < 5 {
				continue
			}
			e.logf("error: cannot connect to %s: %v", file, err)
			e.errorPage(w, r, cfg, http.StatusInternalServerError)
			return
		}
		e.relay(w, r, cfg, conn, params, body)
		c.release(proc)
		return
	}
}

// relay runs one request on conn and streams the answer back.
func (e *Emulator) relay(w http.ResponseWriter, r *http.Request, cfg *dirConfig, conn net.Conn, params map[string]string, body []byte) {
	client := responder.NewClient(conn)
	defer client.Close()
	resp, err := client.Do(r.Context(), &responder.ClientRequest{Params: params, Stdin: bytes.NewReader(body)})
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			e.logf("error: End of script output before headers: %s (%v)", params["SCRIPT_FILENAME"], err)
		}
		e.errorPage(w, r, cfg, http.StatusInternalServerError)
		return
	}
	for k, vv := range resp.Header {
		w.Header()[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	hold := e.OutputBufferSize
	if hold == 0 {
		hold = DefaultOutputBufferSize
	}
	// mod_fcgid passes the response on once more than hold bytes wait, and
	// at its end: pending is what waits, since heldSince.
	pending := make([]byte, 0, max(hold, 0)+32<<10)
	var heldSince time.Time
	flusher, _ := w.(http.Flusher)
	send := func() bool {
		if len(pending) == 0 {
			return true
		}
		if held := time.Since(heldSince); hold > 0 && held > time.Second {
			if _, seen := e.warned.LoadOrStore("output held", true); !seen {
				e.logf("note: %d bytes of the response to %s were held %.1f s, as mod_fcgid holds them (FcgidOutputBufferSize %d): "+
					"a stream reaches the browser in pieces on the host too, unless its server configuration says FcgidOutputBufferSize 0, which an .htaccess cannot",
					len(pending), r.URL.Path, held.Seconds(), hold)
			}
		}
		_, werr := w.Write(pending)
		pending = pending[:0]
		if flusher != nil {
			flusher.Flush()
		}
		return werr == nil
	}
	for {
		n, err := resp.Body.Read(pending[len(pending):cap(pending)])
		if n > 0 && len(pending) == 0 {
			heldSince = time.Now()
		}
		pending = pending[:len(pending)+n]
		if len(pending) > hold && !send() {
			return
		}
		if err != nil {
			if !send() {
				return
			}
			if err != io.EOF {
				e.logf("error: response from %s cut short: %v", params["SCRIPT_FILENAME"], err)
				panic(http.ErrAbortHandler)
			}
			break
		}
	}
	if s := resp.Stderr(); s != "" {
		e.logf("stderr of %s: %s", params["SCRIPT_FILENAME"], strings.TrimSpace(s))
	}
}

func (e *Emulator) serveCGI(w http.ResponseWriter, r *http.Request, cfg *dirConfig, file, scriptName, pathInfo, query string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = scriptName + pathInfo
	r2.URL.RawPath = ""
	r2.URL.RawQuery = query
	env := slices.Clone(e.env)
	for k, v := range cfg.vars.env {
		env = append(env, k+"="+v)
	}
	h := &cgi.Handler{Path: file, Dir: filepath.Dir(file), Root: scriptName, Env: env, Stderr: e.Stderr}
	h.ServeHTTP(w, r2)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ListenAndServe serves the site on addr until ctx ends, then stops every
// spawned process.
func (e *Emulator) ListenAndServe(ctx context.Context, addr string) error {
	if err := e.init(); err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		e.Close() // removes the sockets' directory init made
		return err
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		e.listenName = strings.TrimSuffix(strings.ToLower(host), ".")
	}
	return e.Serve(ctx, l)
}

// Serve is ListenAndServe on a listener of the caller's.
func (e *Emulator) Serve(ctx context.Context, l net.Listener) error {
	if err := e.init(); err != nil {
		return err
	}
	// The connections time requests out, as mod_reqtimeout does.
	srv := &http.Server{Handler: e, ConnContext: connContext, ConnState: connState}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(&limitedListener{Listener: l, lim: e.readLimits(), logf: e.logf}) }()
	select {
	case err := <-done:
		e.Close()
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		e.Close()
		return nil
	}
}
