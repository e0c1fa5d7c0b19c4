package differential_test

import (
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// startProbe runs the probe (probeBin) serving protocol (fcgi or http)
// on listen, host:port or unix:PATH, until t ends.
func startProbe(t *testing.T, listen, protocol string) {
	t.Helper()
	cmd := exec.Command(probeBin, "-listen", listen, "-protocol", protocol)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	network, addr := "tcp", listen
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		network, addr = "unix", path
	}
	testenv.WaitFor(t, "the probe to listen on "+listen, func() bool {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// probeProxyPass adds to the Apache configuration conf, before its
// "ProxyPass / URL options" line, the same line for /probe/ to target.
func probeProxyPass(t *testing.T, conf, target string) string {
	t.Helper()
	for _, line := range strings.Split(conf, "\n") {
		rest, ok := strings.CutPrefix(line, "ProxyPass / ")
		if !ok {
			continue
		}
		url, options, _ := strings.Cut(rest, " ")
		if strings.HasPrefix(url, `"`) {
			_, options, _ = strings.Cut(rest[1:], `" `)
		}
		return strings.Replace(conf, line, "ProxyPass /probe/ "+target+" "+options+"\n"+line, 1)
	}
	t.Fatal("the template no longer has a ProxyPass / line, which the test copies for the probe")
	return ""
}
