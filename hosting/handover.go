package hosting

import (
	"net"
	"os"
)

// handover is what passes between a process and the code it re-executes.
type handover struct {
	spawnIno uint64         // inode of the binary the web server started
	listenFD int            // the -listen socket, passed on
	conns    []*os.File     // kept-alive connections passed on, for the next engine
	sigs     chan os.Signal // caught from the start when re-executed
	readied  []*os.File     // descriptors readied for the next exec
	standIn  *os.File       // a stand-in's: where it says that it serves
}

// adoptConns gives srv the connections a previous run passed on.
func (rt *Runtime) adoptConns(srv engine) {
	for _, f := range rt.handover.conns {
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			rt.log.Warn().Err(err).Msg("a connection passed on cannot be served")
			continue
		}
		srv.ServeConn(rt.ext.speakingConn(c))
	}
	rt.handover.conns = nil
}
