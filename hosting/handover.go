package hosting

import (
	"net"
	"os"
	"sync"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
)

// handover is what passes between a process and the code it re-executes.
type handover struct {
	spawnIno uint64          // inode of the binary the web server started
	listenFD int             // the -listen socket, passed on
	sigs     chan os.Signal  // caught from the start when re-executed
	readied  []*os.File      // descriptors readied for the next exec
	standIn  *reload.Channel // a stand-in's: to the process that started it

	standInParent int // a stand-in's: the PID of the process that started it

	mu      sync.Mutex
	conns   []*os.File      // kept-alive connections passed on, for the next engine
	serving engine          // the engine they go to; nil while handing over
	forward *reload.Channel // where they go then: the stand-in beside, if any
}

// adoptConns makes srv the server of this process, and gives it the
// connections passed on to it so far.
func (rt *Runtime) adoptConns(srv engine) {
	rt.handover.mu.Lock()
	defer rt.handover.mu.Unlock()
	rt.handover.serving, rt.handover.forward = srv, nil
	for _, f := range rt.handover.conns {
		rt.serveConnLocked(f)
	}
	rt.handover.conns = nil
}

// handingOver says that this process's server is handing over: the
// connections a stand-in passes on from now on go over to, to the stand-in
// serving beside, or, without one, wait to be passed across the exec.
func (rt *Runtime) handingOver(to *reload.Channel) {
	rt.handover.mu.Lock()
	rt.handover.serving, rt.handover.forward = nil, to
	rt.handover.mu.Unlock()
}

// keepConns adds conns to those waiting for the next server (after the
// exec, or this process's own if the exec fails), and returns them all.
func (rt *Runtime) keepConns(conns []*os.File) []*os.File {
	rt.handover.mu.Lock()
	defer rt.handover.mu.Unlock()
	rt.handover.conns = append(rt.handover.conns, conns...)
	return rt.handover.conns
}

// serveConn serves a connection passed on by a stand-in, or by the process
// that started this stand-in; while this process hands over, it goes on.
func (rt *Runtime) serveConn(f *os.File) {
	rt.handover.mu.Lock()
	defer rt.handover.mu.Unlock()
	switch {
	case rt.handover.serving != nil:
		rt.serveConnLocked(f)
	case rt.handover.forward != nil && rt.handover.forward.Send(reload.MsgConn, f) == nil:
		f.Close()
	default:
		rt.handover.conns = append(rt.handover.conns, f)
	}
}
func (rt *Runtime) serveConnLocked(f *os.File) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		rt.log.Warn().Err(err).Msg("a connection passed on cannot be served")
		return
	}
	rt.handover.serving.ServeConn(rt.ext.speakingConn(c))
}
