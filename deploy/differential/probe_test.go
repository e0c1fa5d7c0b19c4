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

// probeLocation adds to the nginx site, before its "location @app"
// block, the same block as "location /probe/" with pass (a fastcgi_pass
// or proxy_pass line) to the probe in place of the block's own.
func probeLocation(t *testing.T, site, pass string) string {
	t.Helper()
	start := strings.Index(site, "    location @app {")
	end := strings.Index(site[max(start, 0):], "\n    }\n")
	if start < 0 || end < 0 {
		t.Fatal("the template no longer has a location @app block, which the test copies for the probe")
	}
	var block []string
	for _, line := range strings.Split(site[start:start+end+len("\n    }\n")], "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 0 && (f[0] == "fastcgi_pass" || f[0] == "proxy_pass"):
			line = "        " + pass
		case len(f) > 0 && f[0] == "location":
			line = "    location /probe/ {"
		}
		block = append(block, line)
	}
	return site[:start] + strings.Join(block, "\n") + site[start:]
}

// probeHandle adds to the Caddyfile conf, before its catch-all handle
// block, the same block for /probe/* with the probe's socket in place of
// the site's.
func probeHandle(t *testing.T, conf, sock, probe string) string {
	t.Helper()
	start := strings.Index(conf, "\thandle {\n")
	end := strings.Index(conf[max(start, 0):], "\n\t}\n")
	if start < 0 || end < 0 || !strings.Contains(conf, sock) {
		t.Fatal("the Caddyfile no longer has a catch-all handle block to " + sock + ", which the test copies for the probe")
	}
	block := conf[start : start+end+len("\n\t}\n")]
	block = strings.Replace(strings.Replace(block, "handle {", "handle /probe/* {", 1), sock, probe, 1)
	return conf[:start] + block + conf[start:]
}

// probePath adds to the H2O configuration conf, before its "/" path, the
// same path as "/probe.fcgi" with the probe in place of binary, spawned
// as the site is.
func probePath(t *testing.T, conf, binary, probe string) string {
	t.Helper()
	const root = "      \"/\":\n"
	start := strings.Index(conf, root)
	if start < 0 || !strings.Contains(conf[start:], binary) {
		t.Fatal("the H2O template no longer has a \"/\" path spawning " + binary + ", which the test copies for the probe")
	}
	block := root
	for _, line := range strings.SplitAfter(conf[start+len(root):], "\n") {
		if !strings.HasPrefix(line, "        ") {
			break
		}
		block += line
	}
	block = strings.Replace(strings.Replace(block, `"/":`, `"/probe.fcgi":`, 1), binary, probe, 1)
	return conf[:start] + block + conf[start:]
}

// lighttpdCGI has lighttpd run the probe as a CGI script in /static/.
const lighttpdCGI = `
server.modules += ( "mod_cgi" )
$HTTP["url"] =~ "^/static/" {
    cgi.assign = ( ".cgi" => "" )
}
`
