package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sftpRemote is the site's directory over SFTP (github.com/pkg/sftp over
// golang.org/x/crypto/ssh), the host's key checked against known_hosts.
type sftpRemote struct {
	ssh  *ssh.Client
	c    *sftp.Client
	root string // the site's directory, absolute
	stop func() bool
}

func dialSFTP(ctx context.Context, cfg *config) (remote, error) {
	known := cfg.knownHosts
	if known == "" {
		home, _ := os.UserHomeDir()
		known = filepath.Join(home, ".ssh", "known_hosts")
	}
	hostKeys, err := knownhosts.New(known)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w; connect once with ssh or sftp to check and add the host's key, or set DEPLOY_KNOWN_HOSTS", err)
	}
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := hostKeys(hostname, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			if len(ke.Want) == 0 {
				return fmt.Errorf("%s is not in %s: connect once with ssh or sftp to check its key (%s) and add it", hostname, known, ssh.FingerprintSHA256(key))
			}
			return fmt.Errorf("the key of %s (%s) is not the one %s has for it: someone may be in between; check with the host", hostname, ssh.FingerprintSHA256(key), known)
		}
		return err
	}
	var auth []ssh.AuthMethod
	if cfg.sshKey != "" {
		b, err := os.ReadFile(expandHome(cfg.sshKey))
		if err != nil {
			return nil, fmt.Errorf("read the SSH key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			var pe *ssh.PassphraseMissingError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("the SSH key %s has a passphrase: use a key without one for deploys, or load it in ssh-agent", cfg.sshKey)
			}
			return nil, fmt.Errorf("the SSH key %s: %w", cfg.sshKey, err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if cfg.password != "" {
		auth = append(auth, ssh.Password(cfg.password))
	}
	conf := &ssh.ClientConfig{User: cfg.user, Auth: auth, HostKeyCallback: check, Timeout: ftpTimeout}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", cfg.address())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.address(), err)
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, cfg.address(), conf)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("log in to %s as %s: %w", cfg.address(), cfg.user, err)
	}
	client := ssh.NewClient(sc, chans, reqs)
	c, err := sftp.NewClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("start SFTP on %s: %w", cfg.address(), err)
	}
	r := &sftpRemote{ssh: client, c: c, root: cfg.remoteDir}
	r.stop = context.AfterFunc(ctx, func() { client.Close() })
	if !path.IsAbs(r.root) {
		wd, err := c.Getwd()
		if err != nil {
			r.close()
			return nil, err
		}
		r.root = path.Join(wd, r.root)
	}
	if err := c.MkdirAll(r.root); err != nil {
		r.close()
		return nil, fmt.Errorf("make %s on the host: %w; check DEPLOY_DIR", r.root, err)
	}
	return r, nil
}

// expandHome reads ~/ as the home directory, as a shell would.
func expandHome(name string) string {
	if rest, ok := strings.CutPrefix(name, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return name
}

func (r *sftpRemote) abs(name string) string { return path.Join(r.root, name) }

func (r *sftpRemote) sizes(dir string) (map[string]int64, error) {
	infos, err := r.c.ReadDir(r.abs(dir))
	m := map[string]int64{}
	if err != nil {
		if notExist(err) {
			return m, nil
		}
		return nil, err
	}
	for _, fi := range infos {
		if fi.Mode().IsRegular() {
			m[fi.Name()] = fi.Size()
		}
	}
	return m, nil
}

func (r *sftpRemote) size(name string) (int64, error) {
	fi, err := r.c.Stat(r.abs(name))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (r *sftpRemote) read(name string, offset, limit int64) ([]byte, error) {
	f, err := r.c.Open(r.abs(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var src io.Reader = f
	if limit >= 0 {
		src = io.LimitReader(f, limit)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(src)
	return buf.Bytes(), err
}

func (r *sftpRemote) store(name string, src io.Reader, offset int64) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if offset > 0 {
		flags = os.O_WRONLY
	}
	f, err := r.c.OpenFile(r.abs(name), flags)
	if err != nil {
		return err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	_, err = io.Copy(f, src)
	return errors.Join(err, f.Close())
}

func (r *sftpRemote) appendTo(name string, src io.Reader) error {
	f, err := r.c.OpenFile(r.abs(name), os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, src)
	return errors.Join(err, f.Close())
}

// rename replaces to atomically with OpenSSH's posix-rename extension;
// SFTP's own rename refuses an existing target.
func (r *sftpRemote) rename(from, to string) error {
	if _, ok := r.c.HasExtension("posix-rename@openssh.com"); ok {
		return r.c.PosixRename(r.abs(from), r.abs(to))
	}
	if err := r.c.Remove(r.abs(to)); err != nil && !notExist(err) {
		return err
	}
	return r.c.Rename(r.abs(from), r.abs(to))
}

func (r *sftpRemote) chmod(name string, mode fs.FileMode) error {
	return r.c.Chmod(r.abs(name), mode)
}

func (r *sftpRemote) remove(name string) error { return r.c.Remove(r.abs(name)) }

func (r *sftpRemote) mkdirAll(dir string) error { return r.c.MkdirAll(r.abs(dir)) }

func (r *sftpRemote) close() error {
	r.stop()
	r.c.Close()
	return r.ssh.Close()
}
