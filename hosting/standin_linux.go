package hosting

import "syscall"

// standInAttr has the kernel send a stand-in SIGHUP when the thread that
// started it exits: with the whole process (then it stops at once), or at
// the process's re-exec (then it finds the same parent, and serves on).
var standInAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGHUP}
