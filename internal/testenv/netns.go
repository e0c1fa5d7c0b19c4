package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

var hostSeq atomic.Int64

// Host is a machine of its own for a test: a network namespace joined to
// the test's by a veth pair, with an address private to the test.
type Host struct {
	Name string // the namespace
	Addr string // its address, reachable from the test's namespace
}

// Hosts makes n hosts, removed at the end of the test. Where namespaces
// cannot be made (not root, no iproute2, no CAP_NET_ADMIN) it returns nil
// and says so in the test log; the caller falls back to loopback addresses.
func Hosts(t *testing.T, n int) []Host {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil || os.Geteuid() != 0 {
		t.Logf("no network namespaces (needs root and iproute2): backends share the loopback interface")
		return nil
	}
	pid := os.Getpid()
	var hosts []Host
	for range n {
		// Unique in this process: a namespace and its veth pair outlive
		// their deletion for a moment.
		i := hostSeq.Add(1)
		h := Host{Name: fmt.Sprintf("fcgitest-%d-%d", pid, i)}
		outer, inner := fmt.Sprintf("fh%dx%d", pid, i), fmt.Sprintf("fb%dx%d", pid, i)
		subnet := fmt.Sprintf("10.%d.%d", 200+i%50, pid%256)
		h.Addr = subnet + ".2"
		steps := [][]string{
			{"netns", "add", h.Name},
			{"link", "add", outer, "type", "veth", "peer", "name", inner},
			{"link", "set", inner, "netns", h.Name},
			{"addr", "add", subnet + ".1/24", "dev", outer},
			{"link", "set", outer, "up"},
			{"netns", "exec", h.Name, ip, "addr", "add", h.Addr + "/24", "dev", inner},
			{"netns", "exec", h.Name, ip, "link", "set", inner, "up"},
			{"netns", "exec", h.Name, ip, "link", "set", "lo", "up"},
		}
		for j, args := range steps {
			if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
				if j == 0 && len(hosts) == 0 {
					t.Logf("no network namespaces (ip %s: %v %s): backends share the loopback interface",
						strings.Join(args, " "), err, out)
					return nil
				}
				t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
			}
			switch j {
			case 0:
				name := h.Name
				t.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
			case 1:
				t.Cleanup(func() { exec.Command(ip, "link", "del", outer).Run() }) // both ends
			}
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// in makes cmd run inside h, keeping its PID (ip netns exec execs it).
func (h *Host) in(cmd *exec.Cmd) {
	if h == nil {
		return
	}
	ip, _ := exec.LookPath("ip")
	cmd.Args = append([]string{ip, "netns", "exec", h.Name, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = ip
}
