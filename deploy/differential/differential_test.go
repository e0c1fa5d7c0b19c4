// Package differential_test sends the same requests (testdata/corpus.json)
// to a third-party handler, go-httpbin, served by net/http directly and
// through each deploy template's real web server, and compares what comes
// back: a handler must behave through every server as under net/http, but
// for what the server itself does to any program behind it (the corpus's
// "explained" entries, each proven where practical by the same request to a
// static file on that server).
package differential_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// siteBin is the site (./httpbin); probeBin the same handler served by
// the standard library alone (./probe), which proves explanations.
var siteBin, probeBin string

func TestMain(m *testing.M) {
	site, cleanSite := testenv.MustBuild("./httpbin")
	probe, cleanProbe := testenv.MustBuild("./probe")
	siteBin, probeBin = site, probe
	code := m.Run()
	cleanSite()
	cleanProbe()
	os.Exit(code)
}

// request is one entry of the corpus.
type request struct {
	Name    string   `json:"name"`
	Method  string   `json:"method"` // GET when empty
	Path    string   `json:"path"`   // sent as it is, below the site's prefix
	Headers []string `json:"headers"`
	Body    string   `json:"body"`
	Repeat  int      `json:"repeat"`  // the body is Body repeated this many times
	Chunked bool     `json:"chunked"` // sent with Transfer-Encoding: chunked
	// Volatile names the response headers, and "body", that change from
	// one answer to the next (a time, a random boundary): compared only
	// for being there.
	Volatile []string `json:"volatile"`
	// Explained maps servers (names of TestDifferential's subtests, comma
	// separated) to why they answer otherwise, for any program behind them.
	Explained map[string]explanation `json:"explained"`
}

// explanation says why a server answers a request otherwise than net/http
// does. Proof, when set, is a path (below the same prefix) to a static file
// on that server: sent the same request, it must get the same status as the
// handler's answer through that server, which shows the server decided it.
// Probe, when set, is a path (below the same prefix) to the probe on that
// server (probe/: the same handler run by the standard library as a CGI
// script, a FastCGI program or an HTTP server, none of this project): sent
// the same request, it must differ from net/http's answer exactly as the
// site's answer does, which shows any program behind the server would.
type explanation struct {
	Why   string `json:"why"`
	Proof string `json:"proof"`
	Probe string `json:"probe"`
	// Sometimes is for what the server does or not as the request's
	// packets arrive: the same as under net/http is no error then.
	Sometimes bool `json:"sometimes"`
}

func (rq request) method() string {
	if rq.Method == "" {
		return "GET"
	}
	return rq.Method
}

func (rq request) body() string {
	if rq.Repeat > 0 {
		return strings.Repeat(rq.Body, rq.Repeat)
	}
	return rq.Body
}

func (rq request) label() string {
	if rq.Name != "" {
		return rq.Name
	}
	return rq.method() + " " + rq.Path
}

// explainedFor returns the explanation of rq's difference through server.
func (rq request) explainedFor(server string) (explanation, bool) {
	for names, e := range rq.Explained {
		if slices.Contains(strings.Split(names, ","), server) {
			return e, true
		}
	}
	return explanation{}, false
}

// corpus is testdata/corpus.json.
type corpus struct {
	// Servers maps servers (comma separated) to what they change in every
	// answer that shows it, for any program behind them.
	Servers  map[string][]serverChange `json:"servers"`
	Requests []request                 `json:"requests"`
}

// serverChange is a change a server makes to what any program behind it
// sees or sends, undone by replacing each Replace[i] by Replace[i+1] in
// the body and the Location of its answers, by leaving out the response
// headers of Headers, and the request headers of Echoed from what httpbin
// echoes; a request that matches only so is explained.
type serverChange struct {
	Why     string       `json:"why"`
	Replace []string     `json:"replace"`
	Headers []string     `json:"headers"`
	Echoed  []string     `json:"echoed"`
	Probe   *changeProbe `json:"probe"`
}

// changeProbe proves a server's change: the corpus request labelled
// Request, sent to the probe below At on that server, must differ from
// net/http's answer, and match it once the change is undone.
type changeProbe struct {
	At      string `json:"at"`
	Request string `json:"request"`
}

// undoing is what a server's changes are undone with.
type undoing struct {
	replace *strings.Replacer
	headers []string
	echoed  []string
	why     []string
}

// changesOf returns the server's changes.
func (c corpus) changesOf(server string) undoing {
	var changes []serverChange
	for names, cs := range c.Servers {
		if slices.Contains(strings.Split(names, ","), server) {
			changes = append(changes, cs...)
		}
	}
	return undoingOf(changes...)
}

// undoingOf is how changes are undone.
func undoingOf(changes ...serverChange) undoing {
	var pairs []string
	var u undoing
	for _, ch := range changes {
		pairs = append(pairs, ch.Replace...)
		u.headers = append(u.headers, ch.Headers...)
		u.echoed = append(u.echoed, ch.Echoed...)
		u.why = append(u.why, ch.Why)
	}
	u.replace = strings.NewReplacer(pairs...)
	return u
}

func readCorpus(t *testing.T) corpus {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var c corpus
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("testdata/corpus.json: %v", err)
	}
	return c
}

// reference serves the handler with net/http on 127.0.0.1 below prefix,
// as the site runs below it, and returns its address.
func reference(t *testing.T, prefix string) string {
	var h http.Handler = httpbin.New(httpbin.WithMaxBodySize(8 << 20))
	if prefix != "" {
		h = keepRedirectsBelow(prefix, http.StripPrefix(prefix, h))
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// keepRedirectsBelow puts prefix before the handler's redirects to a path
// of its site (httpbin's /redirect/N, ServeMux's final slash), as hosting
// does for a site below a prefix; http.StripPrefix alone sends them off it.
// A request whose dot segments lead off the site is the web server's to
// send elsewhere.
func keepRedirectsBelow(prefix string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := path.Clean(r.URL.Path); p != prefix && !strings.HasPrefix(p, prefix+"/") {
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&belowPrefix{ResponseWriter: w, prefix: prefix}, r)
	})
}

type belowPrefix struct {
	http.ResponseWriter
	prefix string
}

func (w *belowPrefix) WriteHeader(code int) {
	loc := w.Header().Get("Location")
	if code/100 == 3 && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, w.prefix+"/") {
		w.Header().Set("Location", w.prefix+loc)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *belowPrefix) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// TestDifferential runs the corpus through each server, after the same
// requests to net/http.
func TestDifferential(t *testing.T) {
	c := readCorpus(t)
	if len(c.Requests) < 150 {
		t.Errorf("the corpus has %d requests; the issue asks for 150 or more", len(c.Requests))
	}
	want := map[string][]answer{} // net/http's answers, by prefix
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			addr := strings.TrimPrefix(s.start(t), "http://")
			for _, site := range s.sites() {
				if want[site.prefix] == nil {
					ref := reference(t, site.prefix)
					for _, rq := range c.Requests {
						a := send(ref, site.prefix, rq)
						if a.err != nil {
							t.Fatalf("%s: net/http: %v", rq.label(), a.err)
						}
						want[site.prefix] = append(want[site.prefix], a)
					}
				}
				testenv.WaitFor(t, site.name+" to serve the site", func() bool {
					return send(addr, site.prefix, request{Path: "/get"}).status == 200
				})
				compareSite(t, c, addr, site, want[site.prefix])
			}
		})
	}
}

// compareSite sends the corpus to site at addr, and fails t for each
// answer that is not want's, unless explained.
func compareSite(t *testing.T, c corpus, addr string, site site, want []answer) {
	undo := c.changesOf(site.name)
	var matched, explained int
	for i, rq := range c.Requests {
		ref := want[i]
		got := send(addr, site.prefix, rq)
		diffs := compare(rq, ref, got, nil)
		e, isExplained := rq.explainedFor(site.name)
		switch {
		case len(diffs) == 0 && isExplained && !e.Sometimes:
			t.Errorf("%s: explained (%s) but the same as under net/http: drop the explanation", rq.label(), e.Why)
		case len(diffs) == 0:
			matched++
		case isExplained:
			explained++
			if e.Proof != "" {
				proof := rq
				proof.Path = e.Proof
				if p := send(addr, site.prefix, proof); p.status != got.status {
					t.Errorf("%s: explained as %s, but %s answers %d (%v), not %d", rq.label(), e.Why, e.Proof, p.status, p.err, got.status)
				}
			}
			if e.Probe != "" {
				probe := rq
				probe.Path = e.Probe
				if pd := compare(rq, ref, send(addr, site.prefix, probe), nil); !slices.Equal(pd, diffs) {
					t.Errorf("%s: explained as %s, but the probe %s differs from net/http otherwise:\n\t%s\nthe site:\n\t%s",
						rq.label(), e.Why, e.Probe, strings.Join(pd, "\n\t"), strings.Join(diffs, "\n\t"))
				}
			}
		case len(undo.why) != 0 && len(compare(rq, ref.undo(undo), got.undo(undo), undo.echoed)) == 0:
			explained++ // by the server's changes
		default:
			t.Errorf("%s %s: through %s, not as under net/http:\n\t%s", rq.method(), site.prefix+rq.Path, site.name, strings.Join(diffs, "\n\t"))
		}
	}
	t.Logf("%s: %d requests, %d matched, %d explained (%s)", site.name, len(c.Requests), matched, explained, strings.Join(undo.why, "; "))
	proveChanges(t, c, addr, site, want)
}

// proveChanges sends the probe requests of site's server changes, and
// fails t for each that does not show its change.
func proveChanges(t *testing.T, c corpus, addr string, site site, want []answer) {
	for names, cs := range c.Servers {
		if !slices.Contains(strings.Split(names, ","), site.name) {
			continue
		}
		for _, ch := range cs {
			if ch.Probe == nil {
				continue
			}
			i := slices.IndexFunc(c.Requests, func(rq request) bool { return rq.label() == ch.Probe.Request })
			if i < 0 {
				t.Errorf("%s: the probe's request %q is not in the corpus", ch.Why, ch.Probe.Request)
				continue
			}
			rq, u := c.Requests[i], undoingOf(ch)
			probe := rq
			probe.Path = ch.Probe.At + rq.Path
			got := send(addr, site.prefix, probe)
			if len(compare(rq, want[i], got, nil)) == 0 {
				t.Errorf("%s: the probe answers %s as net/http does", ch.Why, ch.Probe.Request)
			} else if d := compare(rq, want[i].undo(u), got.undo(u), u.echoed); len(d) != 0 {
				t.Errorf("%s: the probe answers %s otherwise, not only by that change:\n\t%s", ch.Why, ch.Probe.Request, strings.Join(d, "\n\t"))
			}
		}
	}
}
