package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"time"
)

// ftpDialer dials the FTP connections: the first is the control
// connection (jlaffaye/ftp upgrades it itself after AUTH TLS), the others
// are data connections, which it hands to us whole once a dial function
// is set: they are wrapped in TLS here for FTPS, over a lingerConn.
type ftpDialer struct {
	ctx     context.Context
	tls     *tls.Config // nil for plain FTP
	control net.Conn
}

func (d *ftpDialer) dial(network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: ftpTimeout}
	c, err := nd.DialContext(d.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if d.control == nil {
		d.control = c
		return c, nil
	}
	var data net.Conn = &lingerConn{TCPConn: c.(*net.TCPConn)}
	if d.tls != nil {
		data = tls.Client(data, d.tls)
	}
	return data, nil
}

// lingerConn is a data connection that ends with a half-close and waits
// for the server's end before closing, so that what it sent all arrives.
//
// Over TLS 1.3 the server sends its session tickets after the handshake,
// on the data connection too, and an uploading client never reads them.
// Linux answers the close of a socket with unread data by a reset (RFC
// 2525), and a reset makes the server's kernel drop what the server has
// not read yet: the end of the upload, megabytes of it when the server
// reads slowly (a rate limit, a busy host). vsftpd then answers "426
// Failure reading network stream" and keeps a truncated file; ProFTPD's
// "450 Transfer aborted" (its issue 959) is the same. With a half-close,
// the server reads to the end and closes, and the tickets are read here.
// A connection that sent nothing (the command failed, as a RETR of a file
// not there) closes at once: the server would keep it open.
type lingerConn struct {
	*net.TCPConn
	wrote bool
}

func (c *lingerConn) Write(b []byte) (int, error) {
	c.wrote = true
	return c.TCPConn.Write(b)
}

// lingerLimit bounds what Close reads: a server's tickets and close are a
// few hundred bytes; a download stopped early (the head of a binary) is
// closed without reading the rest.
const lingerLimit = 64 << 10

func (c *lingerConn) Close() error {
	if c.wrote && c.CloseWrite() == nil {
		c.SetReadDeadline(time.Now().Add(ftpTimeout))
		io.Copy(io.Discard, io.LimitReader(c.TCPConn, lingerLimit))
	}
	return c.TCPConn.Close()
}
