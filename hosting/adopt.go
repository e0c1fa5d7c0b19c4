package hosting

import "net"

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
