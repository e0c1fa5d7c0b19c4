package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// errRefused is a deploy the site refused or that did not come back; the
// reason is already on the report.
var errRefused = errors.New("the new version is not live")

// deployer is one run of the tool.
type deployer struct {
	cfg     *config
	r       remote
	out     *reporter
	man     manifest
	version string
	listed  map[string]map[string]int64 // the host's file sizes, by directory
	listErr error                       // a listing or size that failed
	// what this run did, for the closing line
	uploaded, unchanged int
	bytes               int64
}

// deploy builds, uploads and waits, reporting on out.
func deploy(ctx context.Context, cfg *config, out *reporter) error {
	start := time.Now()
	d := &deployer{cfg: cfg, out: out, listed: map[string]map[string]int64{}}
	out.rate = cfg.limitRate
	d.version = cfg.version
	if d.version == "" {
		v, err := gitVersion(ctx)
		if err != nil {
			return err
		}
		d.version = v
	}
	pkgDir, err := packageDir(ctx, cfg.pkg)
	if err != nil {
		return err
	}
	files := cfg.siteFiles
	if files == "" {
		files = defaultFiles(pkgDir)
	}
	htaccess := ""
	if cfg.htaccess == "" && (files == "" || !exists(filepath.Join(files, ".htaccess"))) {
		if htaccess, err = moduleHtaccess(ctx, cfg.pkg); err != nil {
			return err
		}
	}

	if d.r, err = connect(ctx, cfg, out); err != nil {
		return err
	}
	defer d.r.close()
	out.printf("connected to %s://%s@%s, site directory %s", cfg.protocol, cfg.user, cfg.address(), cfg.remoteDir)
	if err := d.readManifest(); err != nil {
		return err
	}

	goos, goarch, from := d.target()
	tmp, err := os.MkdirTemp("", "fcgi-deploy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, cfg.site+".fcgi")
	t := time.Now()
	if err := build(ctx, cfg.pkg, goos, goarch, d.version, bin); err != nil {
		return err
	}
	list, err := layout(cfg, bin, htaccess, files)
	if err != nil {
		return err
	}
	exe := list[len(list)-1]
	out.printf("built %s %s for %s/%s (%s) in %.1f s: %s", cfg.pkg, d.version, goos, goarch, from, time.Since(t).Seconds(), bytesText(exe.size))

	var changed []*localFile
	for _, f := range list {
		if d.same(f) {
			d.unchanged++
		} else {
			changed = append(changed, f)
			out.total += f.size
		}
	}
	if d.listErr != nil {
		return d.listErr
	}
	if len(changed) == 0 {
		out.printf("nothing changed: %s %s and its %d other files are on the host already; nothing uploaded", exe.path, d.version, len(list)-1)
		return nil
	}
	for _, f := range changed {
		if f == exe {
			break
		}
		if err := d.upload(f); err != nil {
			return fmt.Errorf("%w\nthe site still serves the previous version; run fcgi-deploy again to finish the upload", err)
		}
	}
	if changed[len(changed)-1] != exe {
		out.printf("deployed: %s uploaded (%s), %d unchanged, in %.1f s; the binary %s is unchanged",
			nFiles(d.uploaded), bytesText(d.bytes), d.unchanged, time.Since(start).Seconds(), d.version)
		return nil
	}
	live, err := d.uploadBinary(ctx, exe)
	if err != nil {
		return err
	}
	out.printf("deployed %s: %s uploaded (%s), %d unchanged, in %.1f s; %s",
		d.version, nFiles(d.uploaded), bytesText(d.bytes), d.unchanged, time.Since(start).Seconds(), live)
	return nil
}

// nFiles is "1 file", "2 files".
func nFiles(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

func exists(name string) bool { _, err := os.Stat(name); return err == nil }

// target is the GOOS and GOARCH to build for, and where they come from:
// the settings, else the header of the binary on the host.
func (d *deployer) target() (goos, goarch, from string) {
	if d.cfg.goos != "" && d.cfg.goarch != "" {
		return d.cfg.goos, d.cfg.goarch, "from the settings"
	}
	goos, goarch, from = "linux", "amd64", "no binary on the host to read its architecture from: the default; set DEPLOY_GOARCH if the host differs"
	if h, err := d.r.read(d.cfg.site+".fcgi", 0, 64); err == nil {
		if os, arch, err := elfTarget(h); err == nil {
			goos, goarch, from = os, arch, "read from "+d.cfg.site+".fcgi on the host"
		}
	}
	if d.cfg.goos != "" {
		goos = d.cfg.goos
	}
	if d.cfg.goarch != "" {
		goarch = d.cfg.goarch
	}
	return goos, goarch, from
}

// readManifest loads the record of earlier deploys from the host, and
// compacts it when it has grown long.
func (d *deployer) readManifest() error {
	b, err := d.r.read(manifestName, 0, -1)
	if err != nil && !notExist(err) {
		return fmt.Errorf("read %s on the host: %w", manifestName, err)
	}
	d.man = parseManifest(b)
	if lines := bytes.Count(b, []byte("\n")); lines > 4*len(d.man)+200 {
		var all bytes.Buffer
		for _, r := range d.man {
			all.Write(r.line())
		}
		if err := d.r.store(manifestName+".tmp", &all, 0); err == nil {
			d.r.rename(manifestName+".tmp", manifestName)
		}
	}
	return nil
}

// note appends a record to the manifest on the host: after each file, so
// that a deploy cut short resumes where it stopped.
func (d *deployer) note(f *localFile, as, version string) error {
	r := record{Path: as, Size: f.size, SHA256: f.sha256, Version: version, Time: time.Now().UTC().Truncate(time.Second)}
	if err := d.r.appendTo(manifestName, bytes.NewReader(r.line())); err != nil {
		return fmt.Errorf("record %s in %s on the host: %w", as, manifestName, err)
	}
	d.man[as] = r
	return nil
}

// sizes is the listing of dir on the host, read once. A listing that
// failed is not an empty directory: taken for one, it had every file
// uploaded again, and the binary sent whole instead of resumed. The first
// such error is kept in listErr, which stops the deploy.
func (d *deployer) sizes(dir string) map[string]int64 {
	if m, ok := d.listed[dir]; ok {
		return m
	}
	m, err := d.r.sizes(dir)
	if err != nil {
		d.failed(err)
		return map[string]int64{}
	}
	d.listed[dir] = m
	return m
}

func (d *deployer) failed(err error) {
	if d.listErr == nil {
		d.listErr = fmt.Errorf("%w; the host's files could not be compared with the site's, so nothing was uploaded: run fcgi-deploy again", err)
	}
}

// hostSize is the size of the file on the host, -1 if it is not there.
func (d *deployer) hostSize(p string) int64 {
	if n, ok := d.sizes(path.Dir(p))[path.Base(p)]; ok {
		return n
	}
	if strings.HasPrefix(path.Base(p), ".") { // listings may leave dot files out
		n, err := d.r.size(p)
		if err == nil {
			return n
		}
		if !notExist(err) {
			d.failed(fmt.Errorf("size of %s on the host: %w", p, err))
		}
	}
	return -1
}

// same reports whether the host has f already: the manifest says so, and
// the host's file has its size (no one replaced it by hand since).
func (d *deployer) same(f *localFile) bool {
	return d.man.has(f.path, f) && d.hostSize(f.path) == f.size
}

// upload sends a file other than the binary under a temporary name, then
// renames it into place, so the site never serves half a file.
func (d *deployer) upload(f *localFile) error {
	if dir := path.Dir(f.path); dir != "." {
		if err := d.r.mkdirAll(dir); err != nil {
			return err
		}
	}
	// NAME.tmp: for SITE.env, a name the .htaccess refuses to serve too.
	tmp := f.path + ".tmp"
	if err := d.send(f, tmp, 0); err != nil {
		return err
	}
	if err := d.r.rename(tmp, f.path); err != nil {
		return fmt.Errorf("rename %s to %s on the host: %w", tmp, f.path, err)
	}
	return d.note(f, f.path, "")
}

// send uploads f as name on the host, from offset on.
func (d *deployer) send(f *localFile, name string, offset int64) error {
	src, err := os.Open(f.local)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := src.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	t := time.Now()
	p := d.out.transfer(name, src, offset, f.size)
	err = d.r.store(name, p, offset)
	p.end()
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	d.uploaded++
	d.bytes += f.size - offset
	resumed := ""
	if offset > 0 {
		resumed = fmt.Sprintf(", resumed at %s", bytesText(offset))
	}
	as := ""
	if name != f.path && name != f.path+".tmp" {
		as = " as " + name
	}
	d.out.printf("uploaded %s%s (%s%s) in %.1f s", f.path, as, bytesText(f.size), resumed, time.Since(t).Seconds())
	return nil
}

// uploadBinary stages the new binary as SITE.fcgi.new, which the running
// site tries and adopts, or installs it as SITE.fcgi on a first deploy,
// and waits until it is live. It returns the closing words on the wait.
func (d *deployer) uploadBinary(ctx context.Context, exe *localFile) (string, error) {
	name, staged := exe.path, exe.path+".new"
	first := d.hostSize(name) < 0
	if d.hostSize(name+".rejected") >= 0 {
		if err := d.r.remove(name + ".rejected"); err == nil {
			d.out.printf("removed %s.rejected, left by an earlier refused upload", name)
		}
	}
	w := &watch{d: d, name: name}
	w.mark()
	// A staged upload cut short by an earlier run resumes where it stopped.
	var offset int64
	if n := d.hostSize(staged); d.man.has(staged, exe) && n > 0 && n <= exe.size {
		offset = n
	} else if err := d.note(exe, staged, d.version); err != nil {
		return "", err
	}
	if offset < exe.size {
		if err := d.send(exe, staged, offset); err != nil {
			return "", fmt.Errorf("%w\nthe site still serves the previous version and ignores the partial %s; run fcgi-deploy again to resume the upload", err, staged)
		}
	}
	uploaded := time.Now()
	// The site gives a staged binary mode 755 itself; a first one has no
	// site running yet to do it, and suEXEC runs nothing else.
	if err := d.r.chmod(staged, 0o755); err != nil {
		// A running site may have taken the file already.
		if _, serr := d.r.size(staged); !notExist(serr) {
			d.out.printf("warning: %v (a running site sets the mode itself)", err)
		}
	}
	if first {
		if err := d.r.rename(staged, name); err != nil {
			return "", fmt.Errorf("rename %s to %s on the host: %w", staged, name, err)
		}
		d.out.printf("first deploy: %s renamed to %s, mode 755", staged, name)
	}
	if d.cfg.noWait {
		d.note(exe, name, d.version)
		return "not waiting for it to be live (-no-wait)", nil
	}
	d.out.printf("waiting for %s to be live at %s (up to %v)...", d.version, d.cfg.siteURL, d.cfg.wait)
	if err := w.live(ctx, d.version, d.cfg.wait); err != nil {
		return "", err
	}
	if err := d.note(exe, name, d.version); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s is live at %s, %.1f s after its upload", d.version, d.cfg.siteURL, time.Since(uploaded).Seconds()), nil
}

// connect opens the site's directory on the host over cfg.protocol.
func connect(ctx context.Context, cfg *config, out *reporter) (remote, error) {
	switch cfg.protocol {
	case "ftps":
		host := strings.Trim(cfg.host, "[]")
		// The session cache lets data connections resume the control
		// connection's session, which vsftpd requires by default
		// (require_ssl_reuse). TLS 1.3 works as 1.2 does thanks to the
		// data connections' lingering close (lingerConn).
		conf := &tls.Config{ServerName: host, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		if cfg.insecure {
			conf.InsecureSkipVerify = true
			out.printf("warning: DEPLOY_INSECURE_TLS: the server's certificate is not checked; anyone between here and %s can read the password", host)
		}
		return dialFTP(ctx, cfg, conf)
	case "sftp":
		return dialSFTP(ctx, cfg)
	}
	return dialFTP(ctx, cfg, nil)
}
