package hosting

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// connFDsVar passes kept-alive connections (responder.Server.Handoff) to
// the re-executed binary, as comma-separated descriptors.
const connFDsVar = "FCGI_HOSTING_CONN_FDS"

// passConns readies conns to survive exec and names them in the
// environment of the new code.
func passConns(extra []string, conns []*os.File) ([]string, error) {
	if len(conns) == 0 {
		return extra, nil
	}
	fds := make([]string, len(conns))
	for i, f := range conns {
		if err := keepOnExec(f); err != nil {
			return nil, err
		}
		fds[i] = strconv.Itoa(int(f.Fd()))
	}
	return append(extra, connFDsVar+"="+strings.Join(fds, ",")), nil
}

// keepOnExec clears close-on-exec, so the descriptor passes to the new code.
func keepOnExec(f *os.File) error {
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETFD, 0); e != 0 {
		return e
	}
	return nil
}

func inheritedConns(v string) []*os.File {
	var files []*os.File
	for _, s := range strings.Split(v, ",") {
		if fd, err := strconv.Atoi(s); err == nil && fd > 2 {
			files = append(files, os.NewFile(uintptr(fd), "connection"))
		}
	}
	return files
}

// adoptConns gives srv the connections a previous run passed on.
func (rt *Runtime) adoptConns(srv engine) {
	for _, f := range rt.adopt {
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			rt.log.Warn().Err(err).Msg("a connection passed on cannot be served")
			continue
		}
		srv.ServeConn(rt.ext.speakingConn(c))
	}
	rt.adopt = nil
}
