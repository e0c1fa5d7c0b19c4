package testenv

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Browser is a headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands on its fd 3, answers on fd 4,
// each a JSON message ended by a NUL), so no driver or library is needed.
type Browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	toPipe  *os.File
	from    *bufio.Reader
	lastID  int
	session string
}

// StartBrowser starts Debian's chromium headless with a page of its own.
func StartBrowser(t *testing.T) *Browser {
	t.Helper()
	bin := Require(t, "chromium", "chromium")
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Flags that keep it off the network, which the test machine closes.
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	outW.Close()
	b := &Browser{t: t, cmd: cmd, toPipe: cmdW, from: bufio.NewReader(outR)}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmdW.Close() // chromium exits when its command pipe closes
		select {
		case <-exited:
		case <-time.After(Patience):
			cmd.Process.Kill()
			<-exited
		}
		outR.Close()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})
	var target struct{ TargetID string }
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	return b
}

// call sends one command and decodes its result, skipping events.
func (b *Browser) call(session, method string, params any, result any) {
	b.t.Helper()
	b.lastID++
	msg := map[string]any{"id": b.lastID, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	out, _ := json.Marshal(msg)
	if _, err := b.toPipe.Write(append(out, 0)); err != nil {
		b.t.Fatalf("chromium: %s: %v", method, err)
	}
	for {
		raw, err := b.from.ReadBytes(0)
		if err != nil {
			b.t.Fatalf("chromium: reading the answer to %s: %v", method, err)
		}
		var reply struct {
			ID     int
			Result json.RawMessage
			Error  *struct{ Message string }
		}
		if err := json.Unmarshal(raw[:len(raw)-1], &reply); err != nil {
			b.t.Fatalf("chromium: %s: %v", method, err)
		}
		if reply.ID != b.lastID {
			continue // an event
		}
		if reply.Error != nil {
			b.t.Fatalf("chromium: %s: %s", method, reply.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(reply.Result, result); err != nil {
				b.t.Fatalf("chromium: %s result: %v", method, err)
			}
		}
		return
	}
}

// Eval runs a JavaScript expression in the page and returns its value as
// a string.
func (b *Browser) Eval(expr string) string {
	b.t.Helper()
	var r struct {
		Result           struct{ Value any }
		ExceptionDetails *struct{ Text string }
	}
	b.call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("chromium: %s: %s", expr, r.ExceptionDetails.Text)
	}
	return fmt.Sprint(r.Result.Value)
}

// Navigate opens url and waits for the page to load.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.call(b.session, "Page.navigate", map[string]any{"url": url}, nil)
	b.WaitFor("the page at "+url, `document.readyState === "complete" && location.href !== "about:blank"`)
}

// WaitFor polls a JavaScript condition until it holds.
func (b *Browser) WaitFor(what, cond string) {
	b.t.Helper()
	if !eventually(func() bool { return b.Eval(cond) == "true" }) {
		b.t.Fatalf("chromium: timed out waiting for %s", what)
	}
}

// Screenshot returns the page as PNG.
func (b *Browser) Screenshot() []byte {
	b.t.Helper()
	var r struct{ Data string }
	b.call(b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatalf("chromium: screenshot: %v", err)
	}
	return png
}
