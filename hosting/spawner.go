package hosting

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// fcgidSocket says whether addr is a socket mod_fcgid made for one process
// alone: it names each <process manager's pid>.<counter> in FcgidIPCDir.
// mod_fastcgi's process manager and spawn-fcgi -F listen on one socket for
// all the processes of an application, which one of them must not shut.
func fcgidSocket(addr net.Addr) bool {
	ua, ok := addr.(*net.UnixAddr)
	if !ok {
		return false
	}
	pid, n, ok := strings.Cut(filepath.Base(ua.Name), ".")
	_, errPID := strconv.ParseUint(pid, 10, 64)
	_, errN := strconv.ParseUint(n, 10, 64)
	return ok && errPID == nil && errN == nil
}
