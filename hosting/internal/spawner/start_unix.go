//go:build unix

package spawner

import (
	"runtime"
	"syscall"
)

// atStart is the spawner read as the program started, when fd 0 was a
// listening socket.
var atStart struct {
	kind Kind
	read bool
}

// A process that its spawner sends one request at a time gets one P here,
// early in the program's start: this package imports only runtime and
// syscall, and is the 15th of the hello example's 99 packages to be
// initialised. Set once main runs, the switch hands back the allocation
// caches that the start filled on the second P, which cost the example
// about a millisecond and 40 more page faults before its first answer.
// GOMAXPROCS in the environment wins, as the runtime applied it; the
// settings file's is applied later.
func init() {
	if _, set := syscall.Getenv("GOMAXPROCS"); set || !StdinListens() {
		return
	}
	atStart.kind, atStart.read = parent(), true
	if atStart.kind.OneRequestAtATime() {
		runtime.GOMAXPROCS(1)
	}
}

// Parent is what started this process: its parent process, looked at as
// the program started when fd 0 was a listening socket then.
func Parent() Kind {
	if atStart.read {
		return atStart.kind
	}
	return parent()
}

// StdinListens reports whether fd 0 is a listening socket: how mod_fcgid,
// mod_fastcgi, lighttpd and spawn-fcgi hand the application its socket.
func StdinListens() bool {
	v, err := syscall.GetsockoptInt(0, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	return err == nil && v == 1
}

func parent() Kind {
	ppid := syscall.Getppid()
	if ppid == 1 {
		return None
	}
	proc := "/proc/" + itoa(ppid)
	comm, ok := readFile(proc+"/comm", 64)
	if !ok {
		return Unknown
	}
	if n := len(comm); n > 0 && comm[n-1] == '\n' {
		comm = comm[:n-1]
	}
	return Of(comm, func() string {
		cmdline, _ := readFile(proc+"/cmdline", 4096)
		return cmdline
	})
}

// readFile reads up to max bytes of a small file of /proc with plain
// system calls: before main, and without the poller's registration that
// os.ReadFile tries on every file.
func readFile(path string, max int) (string, bool) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer syscall.Close(fd)
	buf := make([]byte, max)
	n := 0
	for n < max {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", false
		}
		if m == 0 {
			break
		}
		n += m
	}
	return string(buf[:n]), true
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}
