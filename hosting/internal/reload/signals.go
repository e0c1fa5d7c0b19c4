package reload

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// sigaction holds the kernel's struct sigaction (handler, flags, restorer,
// 64-bit mask on amd64 and arm64; less on 386); zero is SIG_DFL.
type sigaction [4]uint64

// KernelDefault has the kernel itself take the default action for sigs,
// ending the process, until restore puts back the actions they had, the
// Go runtime's. For a process about to exec: signal.Reset leaves the
// runtime's handler in place, which takes the signal off the queue and
// raises it again at its own thread to die from it; an exec by another
// thread meanwhile kills that thread, and the signal with it, and the new
// code runs on, never told. The kernel's default action cannot be lost so:
// before the exec it ends the process; from the exec on it waits, pending,
// and ends the new code before that catches it.
func KernelDefault(sigs ...syscall.Signal) (restore func(), err error) {
	old := make([]sigaction, len(sigs))
	restore = func() {
		for i := range old {
			if old[i] != (sigaction{}) {
				rtSigaction(sigs[i], &old[i], nil)
			}
		}
	}
	for i, sig := range sigs {
		if e := rtSigaction(sig, &sigaction{}, &old[i]); e != 0 {
			restore()
			return nil, os.NewSyscallError("rt_sigaction", errors.Join(e, errors.New("for "+sig.String())))
		}
	}
	return restore, nil
}

func rtSigaction(sig syscall.Signal, act, old *sigaction) syscall.Errno {
	const sigsetSize = 8 // the kernel's sigset_t where signals number 64
	_, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(act)),
		uintptr(unsafe.Pointer(old)), sigsetSize, 0, 0)
	return e
}
