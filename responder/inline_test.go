package responder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A connection without FCGI_KEEP_CONN, as mod_fcgid sends, has its one
// request served on the reader's goroutine (inline.go). What a handler can
// see must not change.
func TestServer_OneRequestConnection(t *testing.T) {
	started, cancelled := make(chan struct{}, 1), make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		notify(started)
		<-r.Context().Done()
		cancelled <- context.Cause(r.Context())
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 1<<20))
	})
	mux.HandleFunc("/len", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	tmp := t.TempDir()
	path := startServer(t, &Server{Handler: mux, BodyBufferBytes: 4 << 10, TempDir: tmp})
	// CONTENT_LENGTH 0, as mod_fcgid sends it without a body.
	params := func(uri string) map[string]string {
		return withParams(map[string]string{"REQUEST_URI": uri, "CONTENT_LENGTH": "0"})
	}

	t.Run("FCGI_ABORT_REQUEST cancels a handler waiting on its context", func(t *testing.T) {
		rc := dialRaw(t, path)
		rc.send(requestRecords(5, false, params("/wait")))
		<-started
		rc.send(appendRecord(nil, typeAbortRequest, 5, nil))
		if err := <-cancelled; !errors.Is(err, errAborted) {
			t.Fatalf("cause %v, want errAborted", err)
		}
		recs, err := rc.readUntilClose(30 * time.Second)
		if len(recs) != 1 || recs[0].typ != typeEndRequest || err != io.EOF {
			t.Fatalf("got %v, %v; want one FCGI_END_REQUEST then close", recs, err)
		}
	})
	t.Run("the web server going away cancels a handler waiting on its context", func(t *testing.T) {
		rc := dialRaw(t, path)
		rc.send(requestRecords(1, false, params("/wait")))
		<-started
		rc.Close()
		if err := <-cancelled; !errors.Is(err, errConnLost) {
			t.Fatalf("cause %v, want errConnLost", err)
		}
	})
	t.Run("records after the request do not cut the response short", func(t *testing.T) {
		rc := dialRaw(t, path)
		// 1 MiB is more than the socket holds: the server is still
		// writing when it finds the extra record unread, and closes.
		rc.send(append(requestRecords(1, false, params("/big")), marker...))
		recs, err := rc.readUntilClose(30 * time.Second)
		var body strings.Builder
		for _, r := range recs {
			if r.typ == typeStdout {
				body.WriteString(r.content)
			}
		}
		_, out, _ := strings.Cut(body.String(), "\r\n\r\n")
		if err != io.EOF || len(out) != 1<<20 || recs[len(recs)-1].typ != typeEndRequest {
			t.Fatalf("got %d body bytes, last record %v, %v; want 1 MiB, FCGI_END_REQUEST, EOF", len(out), recs[len(recs)-1].typ, err)
		}
	})
	t.Run("a body of unknown length, beyond the buffer, arrives whole", func(t *testing.T) {
		c := dialClient(t, path)
		body := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB, over 4 KiB
		resp, got := do(t, c, &ClientRequest{Params: withParams(map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/len"}),
			Stdin: bytes.NewReader(body)})
		if resp.StatusCode != 200 || got != strconv.Itoa(len(body)) {
			t.Fatalf("status %d, %q; want 200, %d", resp.StatusCode, got, len(body))
		}
		if n := tempFileCount(t, tmp); n != 0 {
			t.Errorf("%d spill files left in TempDir", n)
		}
	})
}
