// Package handler is the one handler every benchmarked server serves.
package handler

import (
	"io"
	"net/http"
	"strconv"
)

var (
	hello = []byte("Hello, world\n")
	chunk = make([]byte, 64<<10)
)

// New returns the handler:
//
//	/              Hello, world
//	/stream?mb=N   N MiB of zeros, written 64 KiB at a time
//	/upload        reads the body, answers its length
func New() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(hello)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		w.Header().Set("Content-Type", "application/octet-stream")
		for range mb * 16 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write([]byte(strconv.FormatInt(n, 10)))
	})
	return mux
}
