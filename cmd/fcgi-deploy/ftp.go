package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/textproto"
	"path"
	"strings"
	"time"

	"github.com/jlaffaye/ftp"
)

// ftpRemote is the site's directory over FTP, or FTPS with explicit TLS
// (AUTH TLS on the control connection, PROT P for data), through
// github.com/jlaffaye/ftp.
type ftpRemote struct {
	c    *ftp.ServerConn
	cfg  *config
	tls  *tls.Config // nil for plain FTP
	dir  string      // the site's directory, as CWD took it
	ctrl net.Conn    // the control connection, below any TLS
	site *siteConn   // for SITE CHMOD, opened when first needed
	stop func() bool // ends the watch on the deploy's context
}

// ftpTimeout bounds each exchange with the server, not a whole transfer.
var ftpTimeout = 30 * time.Second

// awake gives the control connection a deadline for the exchange to come.
// jlaffaye/ftp (v0.2.4) sets one after each transfer (DialWithShutTimeout)
// and never clears it: a command sent more than ftpTimeout after the last
// transfer (the build of a big site, on a busy machine) failed with "i/o
// timeout", and the listing that failed so made every file look absent.
func (r *ftpRemote) awake() { r.ctrl.SetDeadline(time.Now().Add(ftpTimeout)) }

func dialFTP(ctx context.Context, cfg *config, tlsConf *tls.Config) (*ftpRemote, error) {
	dialer := &ftpDialer{ctx: ctx, tls: tlsConf}
	opts := []ftp.DialOption{ftp.DialWithDialFunc(dialer.dial), ftp.DialWithShutTimeout(ftpTimeout)}
	if tlsConf != nil {
		opts = append(opts, ftp.DialWithExplicitTLS(tlsConf))
	}
	c, err := ftp.Dial(cfg.address(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.address(), err)
	}
	r := &ftpRemote{c: c, cfg: cfg, tls: tlsConf, ctrl: dialer.control}
	// The connection must not outlive a cancelled deploy (Ctrl-C, -wait).
	r.stop = context.AfterFunc(ctx, func() { c.Quit() })
	if err := c.Login(cfg.user, cfg.password); err != nil {
		c.Quit()
		// The TLS handshake comes with the first command, before USER.
		var ce *tls.CertificateVerificationError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("the certificate of %s does not verify, so the password was not sent: %v; "+
				"if the host uses a self-signed certificate, set DEPLOY_INSECURE_TLS=true (-insecure-tls)", cfg.address(), ce.Err)
		}
		return nil, fmt.Errorf("log in to %s as %s: %w; check DEPLOY_USER and DEPLOY_PASSWORD", cfg.address(), cfg.user, err)
	}
	if err := c.ChangeDir(cfg.remoteDir); err != nil {
		if err := r.mkdirAll(cfg.remoteDir); err != nil {
			c.Quit()
			return nil, err
		}
		if err := c.ChangeDir(cfg.remoteDir); err != nil {
			c.Quit()
			return nil, fmt.Errorf("change to %s on the host: %w; check DEPLOY_DIR", cfg.remoteDir, err)
		}
	}
	if r.dir, err = c.CurrentDir(); err != nil {
		r.dir = cfg.remoteDir
	}
	return r, nil
}

// missing makes a 550 answer ("no such file", as vsftpd and pure-ftpd
// give it) an fs.ErrNotExist.
func missing(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code == ftp.StatusFileUnavailable {
		return fmt.Errorf("%w (%v)", fs.ErrNotExist, err)
	}
	return err
}

// dotRefused explains a 553 for a name that starts with a dot: pure-ftpd
// answers so ("Prohibited file name") when configured to keep users off
// dot files, and the site cannot do without its .htaccess.
func dotRefused(name string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code == ftp.StatusBadFileName && strings.HasPrefix(path.Base(name), ".") {
		return fmt.Errorf("%w: the FTP server refuses names that start with a dot, as pure-ftpd does with ProhibitDotFilesWrite "+
			"or ProhibitDotFilesRead (-x, -X); the site needs its .htaccess and fcgi-deploy its %s: "+
			"ask the host to allow dot files, or deploy over SFTP", err, manifestName)
	}
	return err
}

func (r *ftpRemote) sizes(dir string) (map[string]int64, error) {
	r.awake()
	entries, err := r.c.List(dir)
	if err != nil {
		if notExist(missing(err)) {
			return map[string]int64{}, nil
		}
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	m := map[string]int64{}
	for _, e := range entries {
		if e.Type == ftp.EntryTypeFile {
			m[path.Base(e.Name)] = int64(e.Size)
		}
	}
	return m, nil
}

func (r *ftpRemote) size(name string) (int64, error) {
	r.awake()
	n, err := r.c.FileSize(name)
	return n, missing(err)
}

func (r *ftpRemote) read(name string, offset, limit int64) ([]byte, error) {
	r.awake()
	resp, err := r.c.RetrFrom(name, uint64(offset))
	if err != nil {
		return nil, dotRefused(name, missing(err))
	}
	var src io.Reader = resp
	if limit >= 0 {
		src = io.LimitReader(resp, limit)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(src)
	cerr := resp.Close()
	if limit >= 0 && int64(buf.Len()) == limit {
		cerr = nil // stopped early: the server answers 426, not 226
	}
	return buf.Bytes(), errors.Join(err, cerr)
}

func (r *ftpRemote) store(name string, src io.Reader, offset int64) error {
	r.awake()
	return dotRefused(name, r.c.StorFrom(name, src, uint64(offset)))
}

func (r *ftpRemote) appendTo(name string, src io.Reader) error {
	r.awake()
	return dotRefused(name, r.c.Append(name, src))
}

func (r *ftpRemote) rename(from, to string) error {
	r.awake()
	err := r.c.Rename(from, to)
	if err == nil {
		return nil
	}
	err = dotRefused(to, dotRefused(from, err))
	// A server that will not rename over an existing file: move that
	// aside first (NAME.old: the .htaccess refuses SITE.env.old as it does
	// SITE.env), then put it back if the rename still fails. A server that
	// renames nothing (pure-ftpd's -G) loses nothing.
	old := to + ".old"
	if r.c.Rename(to, old) != nil {
		if _, serr := r.c.FileSize(to); serr == nil {
			return fmt.Errorf("%w; nor will the server rename %s: fcgi-deploy needs renames (pure-ftpd: NoRename, -G, off)", err, to)
		}
		return err
	}
	if err := r.c.Rename(from, to); err != nil {
		r.c.Rename(old, to)
		return err
	}
	r.c.Delete(old)
	return nil
}

// chmod sends SITE CHMOD, which jlaffaye/ftp has no method for, on a
// connection of our own (siteConn).
func (r *ftpRemote) chmod(name string, mode fs.FileMode) error {
	if r.site == nil {
		s, err := dialSite(r.cfg, r.tls)
		if err != nil {
			return err
		}
		r.site = s
	}
	return r.site.command(fmt.Sprintf("SITE CHMOD %o %s", mode.Perm(), path.Join(r.dir, name)))
}

func (r *ftpRemote) remove(name string) error {
	r.awake()
	return missing(r.c.Delete(name))
}

func (r *ftpRemote) mkdirAll(dir string) error {
	r.awake()
	if dir == "." || dir == "" {
		return nil
	}
	p := ""
	if strings.HasPrefix(dir, "/") {
		p = "/"
	}
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		p = path.Join(p, part)
		// An existing directory answers 550 too; the upload into it says
		// whether it is really missing.
		r.c.MakeDir(p)
	}
	return nil
}

func (r *ftpRemote) close() error {
	r.stop()
	r.awake()
	if r.site != nil {
		r.site.close()
	}
	return r.c.Quit()
}
