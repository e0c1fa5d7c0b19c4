package responder

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// TestCgiFcgi drives the server with libfcgi's own client, cgi-fcgi, as a
// CGI program would: the CGI variables come from its environment, the body
// from its standard input, and the response goes to its standard output.
func TestCgiFcgi(t *testing.T) {
	bin := testenv.Require(t, "cgi-fcgi", "libfcgi-bin")
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		script, _ := Param(r, "SCRIPT_NAME")
		w.Header().Set("X-Script-Name", script)
		w.Header().Set("X-Method", r.Method)
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/missing", http.NotFound)
	path := startServer(t, &Server{Handler: mux})

	body := strings.Repeat("form=data&", 10000) // 100 KB, several records
	tests := []struct {
		name, method, uri, body string
		status                  int
		want                    string
	}{
		{"get", "GET", "/echo?x=1", "", 200, ""},
		{"post body", "POST", "/echo", body, 200, body},
		{"not found", "GET", "/missing", "", 404, "404 page not found\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-bind", "-connect", path)
			cmd.Env = append(os.Environ(),
				"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_METHOD="+tc.method,
				"REQUEST_URI="+tc.uri, "SCRIPT_NAME=/app.fcgi", "SERVER_NAME=localhost", "SERVER_PORT=80",
				"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=4000", "HTTP_HOST=localhost")
			if tc.body != "" {
				cmd.Env = append(cmd.Env, "CONTENT_LENGTH="+itoa(len(tc.body)), "CONTENT_TYPE=application/x-www-form-urlencoded")
			}
			cmd.Stdin = strings.NewReader(tc.body)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("cgi-fcgi: %v\n%s", err, out)
			}
			br := bufio.NewReader(bytes.NewReader(out))
			h, err := textproto.NewReader(br).ReadMIMEHeader()
			if err != nil {
				t.Fatalf("response header: %v\n%q", err, out)
			}
			status := 200
			if s := h.Get("Status"); s != "" {
				status = atoiPrefix(s)
			}
			rest, _ := io.ReadAll(br)
			if status != tc.status || string(rest) != tc.want {
				t.Fatalf("got %d %q (%d bytes), want %d %q", status, trunc(rest), len(rest), tc.status, trunc([]byte(tc.want)))
			}
			if tc.status == 200 && (h.Get("X-Script-Name") != "/app.fcgi" || h.Get("X-Method") != tc.method) {
				t.Errorf("handler saw %v", h)
			}
		})
	}
}

func atoiPrefix(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
