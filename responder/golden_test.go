package responder

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The captured streams and their answers are shared with the rest of the
// module, so they live in its top-level testdata (see its README.md).
const (
	capturedRequests = "../testdata/fcgi/requests"
	goldenResponses  = "../testdata/fcgi/responses"
)

var update = flag.Bool("update", false, "rewrite "+goldenResponses+" from the current server")

// TestGolden replays record streams captured from real web servers
// (capturedRequests: Apache mod_fcgid, cgi-fcgi, nginx with keep-conn) and
// compares the server's answer byte for byte with goldenResponses.
func TestGolden(t *testing.T) {
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		script, _ := Param(r, "SCRIPT_NAME")
		pathInfo, _ := Param(r, "PATH_INFO")
		w.Header().Set("X-Request-Uri", r.RequestURI)
		fmt.Fprintf(w, "%s %s script=%q path_info=%q host=%s body=%q\n", r.Method, r.URL.Path, script, pathInfo, r.Host, body)
	})})
	files, _ := filepath.Glob(filepath.Join(capturedRequests, "*.fcgi"))
	if len(files) == 0 {
		t.Fatal("no captured streams")
	}
	for _, in := range files {
		name := filepath.Base(in)
		t.Run(strings.TrimSuffix(name, ".fcgi"), func(t *testing.T) {
			stream, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			// Split at each FCGI_BEGIN_REQUEST: a web server sends the next
			// request on a kept connection only after the previous ended.
			var segments [][]byte
			rr := recordReader{r: bytes.NewReader(stream), buf: make([]byte, recordBufLen)}
			for {
				h, content, err := rr.next()
				if err != nil {
					break
				}
				if h.recType == typeBeginRequest || segments == nil {
					segments = append(segments, nil)
				}
				last := &segments[len(segments)-1]
				*last = appendRecord(*last, h.recType, h.id, content)
			}
			rc := dialRaw(t, path)
			var out bytes.Buffer
			rc.SetReadDeadline(time.Now().Add(30 * time.Second))
			for i, seg := range segments {
				rc.send(seg)
				for {
					h, content, err := rc.rr.next()
					if err != nil {
						t.Fatalf("response %d of %d: %v", i+1, len(segments), err)
					}
					out.Write(appendRecord(nil, h.recType, h.id, content))
					if h.recType == typeEndRequest {
						break
					}
				}
			}
			golden := filepath.Join(goldenResponses, name)
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("response stream differs from %s:\n got %q\nwant %q", golden, out.Bytes(), want)
			}
		})
	}
}
