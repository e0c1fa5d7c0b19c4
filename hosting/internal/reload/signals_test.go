package reload

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

func handlerOf(t *testing.T, sig syscall.Signal) uint64 {
	t.Helper()
	var cur sigaction
	if e := rtSigaction(sig, nil, &cur); e != 0 {
		t.Fatal(e)
	}
	return cur[0]
}

// While KernelDefault holds, the kernel, not the runtime's handler, acts
// on the signal: signal.Reset left the handler, which could lose a SIGTERM
// to an exec. restore gives it back to the runtime.
func TestKernelDefault(t *testing.T) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	defer signal.Stop(c)
	caught := handlerOf(t, syscall.SIGTERM)
	if caught == 0 {
		t.Fatal("SIGTERM not caught after signal.Notify")
	}

	restore, err := KernelDefault(syscall.SIGTERM)
	if err != nil {
		t.Fatal(err)
	}
	if h := handlerOf(t, syscall.SIGTERM); h != 0 {
		restore()
		t.Fatalf("SIGTERM's handler is %#x, want SIG_DFL", h)
	}
	restore()
	if h := handlerOf(t, syscall.SIGTERM); h != caught {
		t.Fatalf("after restore SIGTERM's handler is %#x, want the runtime's %#x", h, caught)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM not delivered to the channel after restore")
	}
}
