package responder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/rs/zerolog"
)

// Slow, silent and flooding peers, against the limits of a Server. Memory
// is the heap of the test process, which holds the attackers too, with
// garbage not yet collected: an upper bound on what the server holds.

// heapWatch samples the live heap until stopped, for its high-water mark.
type heapWatch struct {
	stop chan struct{}
	done chan uint64
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func watchHeap() *heapWatch {
	w := &heapWatch{stop: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		peak := liveHeap()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				w.done <- max(peak, liveHeap())
				return
			case <-t.C:
				peak = max(peak, liveHeap())
			}
		}
	}()
	return w
}

func (w *heapWatch) peak() uint64 { close(w.stop); return <-w.done }

// settledHeap is the live heap after garbage collection.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return liveHeap()
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// quietLog counts log lines by message without printing the thousands a
// flood causes.
func quietLog() (*zerolog.Logger, func(substr string) int) {
	var mu sync.Mutex
	var buf bytes.Buffer
	l := zerolog.New(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})).Level(zerolog.InfoLevel)
	return &l, func(substr string) int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(buf.String(), substr)
	}
}

// settle waits for the server to hold no connection and for the process's
// goroutines to come back to want.
func settle(t *testing.T, s *Server, want int) int {
	t.Helper()
	var n, conns int
	if waitUntil(func() bool {
		s.mu.Lock()
		conns = len(s.conns)
		s.mu.Unlock()
		n = runtime.NumGoroutine()
		return conns == 0 && n <= want && s.inFlight.Load() == 0
	}) {
		return n
	}
	t.Fatalf("not settled: %d connections, %d requests in flight, %d goroutines (want at most %d)", conns, s.inFlight.Load(), n, want)
	return n
}

func TestHostile_SlowAndSilentPeers(t *testing.T) {
	// In a synctest bubble, over net.Pipe: the clock moves only when every
	// goroutine waits, so each peer meets the timeout meant for it (the
	// server reads a begun request before IdleTimeout can drop it), and
	// each drop is counted exactly, however slow the machine.
	const silent, slow, nonReaders = 300, 100, 50
	logger, count := quietLog()
	heap := watchHeap() // outside the bubble: it samples in real time
	var served, failed, baseGoroutines, after int
	var baseHeap, left uint64
	synctest.Test(t, func(t *testing.T) {
		big := bytes.Repeat([]byte("z"), 64<<10)
		s := &Server{Logger: logger, ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/big" {
					io.WriteString(w, "ok")
					return
				}
				for range 256 { // 16 MiB
					if _, err := w.Write(big); err != nil {
						return
					}
				}
			})}
		l := testenv.NewPipeListener()
		serveDone := make(chan struct{})
		go func() { s.Serve(l); close(serveDone) }()
		var peers []net.Conn
		dial := func() net.Conn {
			c := l.Dial()
			peers = append(peers, c)
			return c
		}
		good := NewClient(dial())
		do(t, good, &ClientRequest{KeepConn: true, Params: baseParams()})
		baseGoroutines, baseHeap = runtime.NumGoroutine(), settledHeap()

		for range silent {
			dial()
		}
		var wg sync.WaitGroup
		slowParams := paramsRecords(1, baseParams())
		for range slow {
			c := dial()
			c.Write(beginRecord(1, RoleResponder, false))
			wg.Go(func() {
				for _, b := range slowParams { // a byte every 30 ms, until the server hangs up
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(30 * time.Millisecond)
				}
			})
		}
		for range nonReaders {
			dial().Write(requestRecords(1, false, withParams(map[string]string{"REQUEST_URI": "/big", "PATH_INFO": "/big"})))
		}

		// Meanwhile the web server's own connection is served as ever,
		// a request every 5 ms, past every timeout.
		for range 100 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := good.Do(ctx, &ClientRequest{KeepConn: true, Params: baseParams()})
			if err == nil {
				_, err = io.ReadAll(resp.Body)
			}
			cancel()
			if err != nil {
				failed++
			} else {
				served++
			}
			time.Sleep(5 * time.Millisecond)
		}
		wg.Wait()
		synctest.Wait() // the dropped connections' goroutines are gone
		s.mu.Lock()
		conns := len(s.conns)
		s.mu.Unlock()
		if conns != 1 || s.inFlight.Load() != 0 {
			t.Errorf("%d connections and %d requests left, want the good connection alone", conns, s.inFlight.Load())
		}
		left, after = settledHeap(), runtime.NumGoroutine()

		for _, c := range peers {
			c.Close()
		}
		s.Close()
		<-serveDone
	})
	peak := heap.peak()
	if failed > 0 {
		t.Errorf("%d of %d requests of the good connection failed", failed, served+failed)
	}
	if after > baseGoroutines {
		t.Errorf("%d goroutines after the peers were dropped, %d before", after, baseGoroutines)
	}
	if n := count("ReadTimeout"); n != slow {
		t.Errorf("%d ReadTimeout log lines, want one per slow peer (%d)", n, slow)
	}
	if n := count("WriteTimeout"); n != nonReaders {
		t.Errorf("%d WriteTimeout log lines, want one per peer that stopped reading (%d)", n, nonReaders)
	}
	if left > baseHeap+8<<20 {
		t.Errorf("live heap %.1f MiB after the peers were dropped, %.1f MiB before", mib(left), mib(baseHeap))
	}
	t.Logf("reliability: slow and silent peers: %d silent, %d sending a byte every 30 ms, %d not reading a 16 MiB response; "+
		"all dropped by the timeouts; good connection %d served, %d failed; live heap %.1f MiB before, peak %.1f MiB, %.1f MiB after; goroutines %d before, %d after",
		silent, slow, nonReaders, served, failed, mib(baseHeap), mib(peak), mib(left), baseGoroutines, after)
}

func TestHostile_Floods(t *testing.T) {
	logger, count := quietLog()
	const maxConns, maxReqs = 50, 200
	var release = make(chan struct{})
	var cancelled, peakConns atomic.Int64
	var s *Server
	s = &Server{Logger: logger, MaxConns: maxConns, MaxConcurrentRequests: maxReqs, MaxRequestsPerConn: maxReqs, ReadTimeout: 2 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/hold":
				select {
				case <-release:
				case <-r.Context().Done():
					cancelled.Add(1)
					return
				}
			case "/slow":
				// Counted where a connection surely is being served.
				s.mu.Lock()
				peakConns.Store(max(peakConns.Load(), int64(len(s.conns))))
				s.mu.Unlock()
				time.Sleep(2 * time.Millisecond) // pacing: connections pile up against MaxConns
			}
			io.WriteString(w, "ok")
		})}
	path := startServer(t, s)
	hold := withParams(map[string]string{"REQUEST_URI": "/hold", "PATH_INFO": "/hold"})
	warm := dialClient(t, path)
	do(t, warm, &ClientRequest{KeepConn: true, Params: baseParams()})
	baseGoroutines, baseHeap := runtime.NumGoroutine(), settledHeap()
	heap := watchHeap()
	var conns, requests int
	var peaks []string
	// run is t.Run noting the subtest's heap high-water mark.
	run := func(name string, f func(t *testing.T)) {
		settledHeap()
		w := watchHeap()
		t.Run(name, f)
		peaks = append(peaks, name+" "+strconv.FormatFloat(mib(w.peak()), 'f', 1, 64)+" MiB")
	}

	run("more connections than MaxConns", func(t *testing.T) {
		const n = 500
		var wg sync.WaitGroup
		var ok atomic.Int64
		for range n {
			wg.Go(func() {
				c, err := Dial("unix", path)
				if err != nil {
					return
				}
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				resp, err := c.Do(ctx, &ClientRequest{Params: withParams(map[string]string{"REQUEST_URI": "/slow", "PATH_INFO": "/slow"})})
				if err == nil {
					if b, _ := io.ReadAll(resp.Body); string(b) == "ok" {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if ok.Load() != n {
			t.Errorf("%d of %d connections served; the rest should have waited their turn", ok.Load(), n)
		}
		if p := peakConns.Load(); p > maxConns {
			t.Errorf("%d connections served at once, MaxConns is %d", p, maxConns)
		}
		conns += n
		requests += n
	})

	run("more requests than MaxConcurrentRequests", func(t *testing.T) {
		const n = 1000
		c := dialClient(t, path)
		var wg sync.WaitGroup
		var overloaded, ok atomic.Int64
		for range n {
			wg.Go(func() {
				resp, err := c.Do(context.Background(), &ClientRequest{KeepConn: true, Params: hold})
				var ere *EndRequestError
				switch {
				case errors.As(err, &ere) && ere.Overloaded():
					overloaded.Add(1)
				case err == nil:
					if b, _ := io.ReadAll(resp.Body); string(b) == "ok" {
						ok.Add(1)
					}
				}
			})
		}
		// Every request has reached the server once the refusals are in.
		if !waitUntil(func() bool { return overloaded.Load() == n-maxReqs }) {
			t.Errorf("%d refused with FCGI_OVERLOADED, want %d", overloaded.Load(), n-maxReqs)
		}
		close(release)
		wg.Wait()
		if overloaded.Load() != n-maxReqs || ok.Load() != maxReqs {
			t.Errorf("%d answered, %d refused with FCGI_OVERLOADED; want %d and %d", ok.Load(), overloaded.Load(), maxReqs, n-maxReqs)
		}
		if count("FCGI_OVERLOADED") < n-maxReqs {
			t.Errorf("%d refusals logged, want %d", count("FCGI_OVERLOADED"), n-maxReqs)
		}
		conns++
		requests += n
	})

	run("unfinished multiplexed requests", func(t *testing.T) {
		// golang/go#81548: a request whose parameters never end must not
		// grow memory; here 2000 of them send 64 KiB each on one connection.
		// Its own server, in a synctest bubble over net.Pipe: ReadTimeout's
		// clock stands still while the flood is read, however slow the
		// machine, so every request reaches the server before the timeout
		// drops the connection.
		const n, each = 2000, 64 << 10
		logger, count := quietLog()
		var ends, late int
		synctest.Test(t, func(t *testing.T) {
			fs := &Server{Logger: logger, MaxConcurrentRequests: maxReqs, MaxRequestsPerConn: maxReqs,
				ReadTimeout: 2 * time.Second, Handler: http.NotFoundHandler()}
			client, server := net.Pipe()
			defer client.Close()
			fs.ServeConn(server)
			readerDone := make(chan struct{})
			go func() {
				defer close(readerDone)
				rr := recordReader{r: client, buf: make([]byte, recordBufLen)}
				marked := false
				for {
					h, content, err := rr.next()
					switch {
					case err != nil:
						return // the connection dropped by ReadTimeout
					case isMarkerAnswer(rec{h.recType, h.id, string(content)}):
						marked = true
					case h.recType == typeEndRequest && !marked:
						ends++
					default:
						late++
					}
				}
			}()
			chunk := appendRecord(nil, typeParams, 0, bytes.Repeat([]byte{'p'}, each-8))
			var stream []byte
			for id := uint16(1); id <= n; id++ {
				stream = append(stream[:0], beginRecord(id, RoleResponder, true)...)
				hdr := len(stream)
				stream = append(stream, chunk...)
				stream[hdr+2], stream[hdr+3] = byte(id>>8), byte(id)
				if _, err := client.Write(stream); err != nil {
					t.Fatalf("request %d: %v", id, err)
				}
			}
			// The marker's answer follows every refusal.
			if _, err := client.Write(marker); err != nil {
				t.Fatal(err)
			}
			<-readerDone
		})
		if ends != n-maxReqs || late != 0 {
			t.Errorf("%d requests refused with FCGI_OVERLOADED, %d other records; want %d and none", ends, late, n-maxReqs)
		}
		if got := count("FCGI_OVERLOADED"); got != n-maxReqs {
			t.Errorf("%d refusals logged, want %d", got, n-maxReqs)
		}
		if count("ReadTimeout") != 1 {
			t.Error("no log line for the connection dropped by ReadTimeout")
		}
		conns++
		requests += n
	})

	run("abort storm", func(t *testing.T) {
		const clients, each = 20, 100
		var wg sync.WaitGroup
		var ended atomic.Int64
		for range clients {
			rc := dialRaw(t, path)
			wg.Go(func() {
				var b []byte
				for id := uint16(1); id <= each; id++ {
					b = append(b, hostileRequest(id, hold, []byte{})...)
					b = appendRecord(b, typeAbortRequest, id, nil)
				}
				rc.Write(b)
				rc.SetReadDeadline(time.Now().Add(30 * time.Second))
				for n := 0; n < each; {
					h, _, err := rc.rr.next()
					if err != nil {
						t.Errorf("after %d ends: %v", n, err)
						return
					}
					if h.recType == typeEndRequest {
						n++
						ended.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if ended.Load() != clients*each {
			t.Errorf("%d of %d aborted requests ended", ended.Load(), clients*each)
		}
		conns += clients
		requests += clients * each
	})

	warm.Close()
	after := settle(t, s, baseGoroutines)
	peak, left := heap.peak(), settledHeap()
	if left > baseHeap+8<<20 {
		t.Errorf("live heap %.1f MiB after the floods, %.1f MiB before", mib(left), mib(baseHeap))
	}
	t.Logf("reliability: floods: %d connections and %d requests thrown (MaxConns %d, MaxConcurrentRequests %d); "+
		"%d handlers cancelled by FCGI_ABORT_REQUEST; live heap %.1f MiB before, peak %.1f MiB (%s), %.1f MiB after; goroutines %d before, %d after",
		conns, requests, maxConns, maxReqs, cancelled.Load(), mib(baseHeap), mib(peak), strings.Join(peaks, ", "), mib(left), baseGoroutines, after)
}
