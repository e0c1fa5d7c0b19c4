// Command fcgi-deploy builds a Go site for its shared host, uploads what
// changed over FTP, FTPS or SFTP, and waits until the new version is live.
//
//	fcgi-deploy [flags] [package]
//
// Run it in the site's module. Settings come from flags, then DEPLOY_*
// environment variables, then deploy.env in the working directory (keep it
// out of version control: it holds the password):
//
//	DEPLOY_PROTOCOL=ftp           # ftp, ftps (explicit TLS) or sftp
//	DEPLOY_HOST=ftp.example.com
//	DEPLOY_USER=me
//	DEPLOY_PASSWORD=...           # or, for sftp, DEPLOY_SSH_KEY=~/.ssh/id_ed25519
//	DEPLOY_DIR=public_html
//	DEPLOY_SITE_URL=https://example.com/
//
// What it does:
//
//   - Builds the package as make dist does: CGO_ENABLED=0, -trimpath,
//     stripped, the version stamped (git describe --always --dirty, or
//     -version), for the host's OS and architecture: DEPLOY_GOOS and
//     DEPLOY_GOARCH, else read from the ELF header of the binary already on
//     the host (its first 64 bytes), else linux/amd64.
//   - Lays out the site as make dist does: mysite.fcgi, the .htaccess
//     (deploy/apache-fcgid/htaccess of the fcgi module the site builds
//     with, unless the files folder has one or -htaccess names one), and
//     the files folder (site/ beside the package: 404.html, 500.html,
//     static/...). The settings file goes up only with -settings FILE: a
//     production mysite.env is usually edited on the host.
//   - Uploads only what changed: each file's size and SHA-256 against a
//     manifest kept on the host, .fcgi-deploy.log, appended after each
//     file, so a second deploy with no change uploads nothing and a deploy
//     cut short resumes where it stopped. The manifest is a dot file (FTP
//     listings leave it out) whose name ends in .log, which the site's
//     .htaccess refuses to serve. Files other than the binary go up under
//     NAME.tmp and are renamed into place. The binary always goes up as
//     mysite.fcgi.new (resumed with REST if an earlier run was cut), with
//     SITE CHMOD 755 (FTP) or chmod (SFTP); the running site tries it and
//     adopts it. On a first deploy, with no site running yet, it is
//     renamed to mysite.fcgi.
//   - Waits until the new version is live, and says how long that took. It
//     learns this without exposing anything to the public: it requests the
//     site's URL (under mod_fcgid a process starts, and adopts the staged
//     binary, on a request), and reads the site's own mysite.log over the
//     same FTP or SFTP connection, from where it ended before the upload,
//     until a "starting" line names the new version, mysite.fcgi.new is
//     gone from the listing and the URL answers without a server error. A
//     binary the site refuses shows as mysite.fcgi.rejected in the listing
//     and a "refused mysite.fcgi.new" line in the log: the tool prints the
//     line's error and the binary's own output (a panic and its stack),
//     says that the previous version keeps serving, and exits 1. So does a
//     version not live within -wait, with the log's last lines.
//
// Passwords are never printed. FTPS certificates are verified
// (-insecure-tls accepts a self-signed one, with a warning on every run);
// SFTP host keys are checked against known_hosts (-known-hosts FILE).
// Exit status: 0 deployed (or nothing to do), 1 failed or refused, 2 bad
// usage or settings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole command, for tests too; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "fcgi-deploy:", err)
		return 2
	}
	if err := deploy(ctx, cfg, newReporter(stdout)); err != nil {
		if !errors.Is(err, errRefused) {
			fmt.Fprintln(stderr, "fcgi-deploy:", err)
		}
		return 1
	}
	return 0
}
