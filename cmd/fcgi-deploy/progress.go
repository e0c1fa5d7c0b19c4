package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// reporter writes what the deploy does: plain lines, and on a terminal a
// progress line per upload (the file and the whole) redrawn in place.
type reporter struct {
	w        io.Writer
	terminal bool
	rate     int64 // bytes a second per upload; 0: no limit
	total    int64 // bytes to upload in this run
	done     int64 // uploaded so far
}

func newReporter(w io.Writer) *reporter {
	f, ok := w.(*os.File)
	return &reporter{w: w, terminal: ok && isatty.IsTerminal(f.Fd())}
}

func (r *reporter) printf(format string, args ...any) {
	fmt.Fprintf(r.w, format+"\n", args...)
}

// transfer wraps src, the upload of name (size bytes, from offset on), to
// show its progress on a terminal.
func (r *reporter) transfer(name string, src io.Reader, offset, size int64) *progress {
	p := &progress{r: r, src: src, name: name, size: size, n: offset, start: time.Now()}
	return p
}

// progress counts the bytes of an upload as they are read.
type progress struct {
	r       *reporter
	src     io.Reader
	name    string
	size, n int64
	sent    int64 // read in this run
	start   time.Time
	mu      sync.Mutex
	drawn   time.Time
}

func (p *progress) Read(b []byte) (int, error) {
	if p.r.rate > 0 {
		b = b[:min(len(b), 32<<10)]
		// Read no faster than the rate allows since the upload began.
		due := p.start.Add(time.Duration(float64(p.sent) / float64(p.r.rate) * float64(time.Second)))
		time.Sleep(time.Until(due))
	}
	n, err := p.src.Read(b)
	p.mu.Lock()
	p.sent += int64(n)
	p.n += int64(n)
	p.r.done += int64(n)
	if p.r.terminal && time.Since(p.drawn) > 100*time.Millisecond {
		p.drawn = time.Now()
		fmt.Fprintf(p.r.w, "\r\x1b[K  %s %s %s  all %s", p.name, bar(p.n, p.size), bytesText(p.n), bar(p.r.done, p.r.total))
	}
	p.mu.Unlock()
	return n, err
}

// end clears the progress line.
func (p *progress) end() {
	if p.r.terminal {
		fmt.Fprint(p.r.w, "\r\x1b[K")
	}
}

// bar draws n of total as 20 cells and a percentage.
func bar(n, total int64) string {
	if total <= 0 {
		total = 1
	}
	const width = 20
	fill := int(min(n, total) * width / total)
	b := make([]byte, 0, width+2)
	b = append(b, '[')
	for i := range width {
		if i < fill {
			b = append(b, '#')
		} else {
			b = append(b, ' ')
		}
	}
	return fmt.Sprintf("%s] %3d%%", append(b, ']')[:width+1], min(n, total)*100/total)
}

// bytesText writes n as people read it: 512 B, 6.1 MB.
func bytesText(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
}
