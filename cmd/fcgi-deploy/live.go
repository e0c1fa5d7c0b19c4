package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// watch learns whether the staged binary went live, from what the site's
// owner can see and no visitor can: the site's own log (SITE.log, read over
// the same connection, from where it ended before the upload), the
// directory listing, and the site's answer.
type watch struct {
	d      *deployer
	name   string // SITE.fcgi
	offset int64  // the log's size before the upload
	tail   []byte // the log since
}

// logLine is what the watch reads of a line of the site's log.
type logLine struct {
	Message string `json:"message"`
	Version string `json:"version"`
	PID     int    `json:"pid"`
	Error   string `json:"error"`
	Output  string `json:"output"`
	Level   string `json:"level"`
}

func (w *watch) logName() string { return strings.TrimSuffix(w.name, ".fcgi") + ".log" }

// mark notes where the log ends now: only lines after it count.
func (w *watch) mark() {
	if n, err := w.d.r.size(w.logName()); err == nil {
		w.offset = n
	}
}

// readLog reads what the log gained since mark. A log rotated meanwhile
// (SITE.log.1) is read from its start.
func (w *watch) readLog() {
	n, err := w.d.r.size(w.logName())
	if err != nil {
		return
	}
	if n < w.offset {
		w.offset, w.tail = 0, nil
	}
	if have := w.offset + int64(len(w.tail)); n > have {
		if b, err := w.d.r.read(w.logName(), have, n-have); err == nil {
			w.tail = append(w.tail, b...)
		}
	}
}

// lines are the complete log lines since mark.
func (w *watch) lines() []logLine {
	var lines []logLine
	for raw := range bytes.Lines(w.tail) {
		var l logLine
		if json.Unmarshal(raw, &l) == nil {
			lines = append(lines, l)
		}
	}
	return lines
}

// live polls until the site runs version: SITE.fcgi.new gone from the
// listing, a "starting" line of that version in the log, and the site's
// URL answering without a server error. Each poll requests the URL: under
// mod_fcgid a process only starts, and adopts the staged file, on a
// request. A refusal (SITE.fcgi.rejected, and the log's "refused" line)
// ends the wait at once with the site's reason.
func (w *watch) live(ctx context.Context, version string, patience time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var status string
	var started, staged bool
	for {
		status = get(ctx, client, w.d.cfg.siteURL)
		w.readLog()
		delete(w.d.listed, ".")
		listing := w.d.sizes(".")
		_, staged = listing[w.name+".new"]
		_, rejected := listing[w.name+".rejected"]
		started = false
		for _, l := range w.lines() {
			switch {
			case l.Message == "starting" && l.Version == version:
				started = true
			case strings.HasPrefix(l.Message, "refused "+w.name+".new") && rejected:
				w.refused(l)
				return errRefused
			}
		}
		if started && !staged && strings.HasPrefix(status, "answered ") && !strings.HasPrefix(status, "answered 5") {
			return nil
		}
		select {
		case <-ctx.Done():
			w.notLive(version, status, started, staged)
			return errRefused
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// get requests url and says how it went: "answered 200", or the error.
func get(ctx context.Context, client *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("User-Agent", "fcgi-deploy")
	resp, err := client.Do(req)
	if err != nil {
		return "no answer: " + err.Error()
	}
	resp.Body.Close()
	return fmt.Sprintf("answered %d", resp.StatusCode)
}

// refused reports the site's refusal of the staged binary.
func (w *watch) refused(l logLine) {
	o := w.d.out
	o.printf("REFUSED: the site tried %s.new and refused it; the previous version keeps serving.", w.name)
	o.printf("  why: %s", l.Error)
	if l.Output != "" {
		o.printf("  its output:")
		for line := range strings.Lines(l.Output) {
			o.printf("    %s", strings.TrimRight(line, "\n"))
		}
	}
	o.printf("It is now %s.rejected on the host (removed by the next deploy). Fix the site, and deploy again.", w.name)
}

// notLive reports a wait that ran out, with the log's last lines.
func (w *watch) notLive(version, status string, started, staged bool) {
	o := w.d.out
	o.printf("NOT LIVE: %s did not go live within %v.", version, w.d.cfg.wait)
	o.printf("  the site's URL: %s", status)
	if staged {
		o.printf("  %s.new is still on the host, not taken: is a process of the site running the fcgi runtime? Is RELOAD_POLL 0?", w.name)
	}
	if !started {
		o.printf("  %s has no \"starting\" line of version %s", w.logName(), version)
	}
	lines := strings.Split(strings.TrimSpace(string(w.tail)), "\n")
	if len(w.tail) > 0 {
		o.printf("  the last lines of %s:", w.logName())
		for _, l := range lines[max(0, len(lines)-15):] {
			o.printf("    %s", l)
		}
	}
}
