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
//
// The cost: while sysmon sleeps it preempts nothing, so a handler that
// computes without any system call keeps the process's one P (GOMAXPROCS
// 1 under Apache) until sysmon wakes for the next timer (the reload
// watcher's, every RELOAD_POLL, 2 s by default; at most a minute) rather
// than for 10 ms; signals and timers wait meanwhile. Any system call the handler makes
// through package syscall (a file, a database) wakes sysmon as before.
package rawunix
