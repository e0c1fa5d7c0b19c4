// Package rawunix serves the unix listening socket a web server spawns a
// process with through system calls that the Go scheduler is not told
// about.
//
// A process that Apache sends one request at a time is idle between
// requests, and the Go runtime's monitor thread (sysmon) then sleeps. The
// first system call made through package syscall after the process wakes
// (accept, read, write, close) wakes that thread, which then polls every
// 20 µs until the process is idle again: several context switches per
// request, a third of its CPU time. Accepting, reading, writing and
// closing with raw system calls on non-blocking descriptors, which never
// block, leaves it asleep; an operation that would have to wait goes
// through the runtime's poller as usual. Linux only; elsewhere Wrap
// returns the listener as it is.
package rawunix
