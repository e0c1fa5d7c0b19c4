package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/textproto"
	"strings"
)

// siteConn is a control connection of our own for the one command
// github.com/jlaffaye/ftp (v0.2.4) cannot send: SITE CHMOD, which
// FileZilla's "File permissions..." sends, and which a binary uploaded
// over FTP needs (the server stores it 0644; suEXEC runs only 0755). The
// library keeps its control connection unexported and checks every
// command against a fixed list, so rather than fork it, this logs in
// beside it (AUTH TLS first for FTPS) and sends commands that need no
// data connection.
type siteConn struct {
	conn *textproto.Conn
}

func dialSite(cfg *config, tlsConf *tls.Config) (*siteConn, error) {
	nc, err := net.DialTimeout("tcp", cfg.address(), ftpTimeout)
	if err != nil {
		return nil, fmt.Errorf("connect to %s for SITE CHMOD: %w", cfg.address(), err)
	}
	s := &siteConn{conn: textproto.NewConn(nc)}
	fail := func(err error) (*siteConn, error) {
		s.conn.Close()
		return nil, fmt.Errorf("log in to %s for SITE CHMOD: %w", cfg.address(), err)
	}
	if _, _, err := s.conn.ReadResponse(220); err != nil {
		return fail(err)
	}
	if tlsConf != nil {
		if err := s.exchange("AUTH TLS", 234); err != nil {
			return fail(err)
		}
		s.conn = textproto.NewConn(tls.Client(nc, tlsConf))
	}
	if err := s.exchange("USER "+cfg.user, 331); err != nil {
		return fail(err)
	}
	if err := s.exchange("PASS "+cfg.password, 230); err != nil {
		return fail(fmt.Errorf("the password was refused"))
	}
	return s, nil
}

// exchange sends a command and wants the answer code (2xx or 3xx).
func (s *siteConn) exchange(cmd string, want int) error {
	if strings.ContainsAny(cmd, "\r\n") {
		return fmt.Errorf("a line break in an FTP command")
	}
	if err := s.conn.PrintfLine("%s", cmd); err != nil {
		return err
	}
	_, _, err := s.conn.ReadResponse(want)
	return err
}

// command sends cmd and wants a 2xx answer.
func (s *siteConn) command(cmd string) error {
	if err := s.exchange(cmd, 2); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

func (s *siteConn) close() {
	s.conn.PrintfLine("QUIT")
	s.conn.Close()
}
