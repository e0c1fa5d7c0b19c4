//go:build !race

package responder

import (
	"testing"

	"github.com/rs/zerolog"
)

// maxHelloAllocs is what a hello request may cost the whole process
// (server and the buffer-reusing client). net/http's own HTTP/1.1 server
// needs 20 for the same request (BenchmarkHello/nethttp); we must stay below.
const maxHelloAllocs = 19

func TestAllocs_Hello(t *testing.T) {
	l := listenBench(t)
	nop := zerolog.Nop()
	s := &Server{Handler: benchHandler(), Logger: &nop}
	go s.Serve(l)
	defer s.Close()
	fc := newFCGIBenchConn(t, l.Addr().String(), "/hello", nil, 1)
	defer fc.c.Close()
	for range 100 { // warm the pools
		fc.roundTrip(t)
	}
	if n := testing.AllocsPerRun(1000, func() { fc.roundTrip(t) }); n > maxHelloAllocs {
		t.Errorf("%.1f allocations per hello request, want at most %d", n, maxHelloAllocs)
	}
}
