package hosting

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
)

// takeActivationWith sets env, runs takeActivation and checks that every
// variable it reads is gone from the process and from environ, so that no
// child inherits sockets it cannot serve.
func takeActivationWith(t *testing.T, env map[string]string) (*activation, string, error) {
	t.Helper()
	var environ []string
	for k, v := range env {
		t.Setenv(k, v)
		environ = append(environ, k+"="+v)
	}
	act, ignored, err := takeActivation(&environ)
	for _, name := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", reload.ActivatedFDsVar} {
		if _, ok := os.LookupEnv(name); ok || slices.ContainsFunc(environ, func(kv string) bool { return strings.HasPrefix(kv, name+"=") }) {
			t.Errorf("%s left in the environment", name)
		}
	}
	return act, ignored, err
}

func TestTakeActivation(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	t.Run("systemd", func(t *testing.T) {
		// Fewer names than sockets: the rest are "unknown", as in sd_listen_fds_with_names.
		act, ignored, err := takeActivationWith(t, map[string]string{"LISTEN_FDS": "2", "LISTEN_PID": me, "LISTEN_FDNAMES": "web"})
		want := []activatedSocket{{3, "web"}, {4, "unknown"}}
		if err != nil || ignored != "" || act == nil || act.passedOn || !slices.Equal(act.socks, want) {
			t.Fatalf("%+v %q %v, want %v from systemd", act, ignored, err, want)
		}
	})
	t.Run("another process's", func(t *testing.T) {
		act, ignored, err := takeActivationWith(t, map[string]string{"LISTEN_FDS": "1", "LISTEN_PID": "1"})
		if act != nil || err != nil || !strings.Contains(ignored, `LISTEN_PID="1" is not this process`) {
			t.Fatalf("%+v %q %v, want the sockets ignored, saying why", act, ignored, err)
		}
	})
	t.Run("bad count", func(t *testing.T) {
		act, _, err := takeActivationWith(t, map[string]string{"LISTEN_FDS": "two", "LISTEN_PID": me})
		if act != nil || err == nil || !strings.Contains(err.Error(), `LISTEN_FDS="two"`) {
			t.Fatalf("%+v %v, want an error naming the value", act, err)
		}
	})
	t.Run("none", func(t *testing.T) {
		if act, ignored, err := takeActivationWith(t, nil); act != nil || ignored != "" || err != nil {
			t.Fatalf("%+v %q %v, want nothing", act, ignored, err)
		}
	})
	t.Run("passed on across re-execution", func(t *testing.T) {
		act, _, err := takeActivationWith(t, map[string]string{reload.ActivatedFDsVar: "7=web:9=a=b"})
		want := []activatedSocket{{7, "web"}, {9, "a=b"}}
		if err != nil || act == nil || !act.passedOn || !slices.Equal(act.socks, want) {
			t.Fatalf("%+v %v, want %v passed on", act, err, want)
		}
	})
}
