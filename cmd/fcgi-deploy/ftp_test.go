package main

import (
	"context"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/ftptest"
)

// TestFTPIdleControl: a command sent longer than ftpTimeout after the last
// transfer, as after the build of a big site on a busy machine, is
// answered. jlaffaye/ftp leaves a deadline on the control connection after
// each transfer, which made such a listing fail with "i/o timeout" and
// every file look absent from the host.
func TestFTPIdleControl(t *testing.T) {
	acct := ftptest.NewAccount(t)
	s := ftptest.Start(t, acct)
	defer func(d time.Duration) { ftpTimeout = d }(ftpTimeout)
	ftpTimeout = time.Second
	cfg := &config{protocol: "ftp", host: "127.0.0.1", port: s.Port(), user: acct.Name, password: acct.Password, remoteDir: "public_html"}
	r, err := dialFTP(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if _, err := r.sizes("."); err != nil {
		t.Fatal(err)
	}
	// Idle past the deadline the transfer left: what this test is about.
	time.Sleep(2 * ftpTimeout)
	if _, err := r.sizes("."); err != nil {
		t.Errorf("a listing after %v idle: %v", 2*ftpTimeout, err)
	}
}
