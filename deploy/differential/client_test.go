package differential_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// answer is what came back for a request, with the server's address
// (host:port) put as HOST in the body and the Location.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// send writes rq to addr over a connection of its own, the request line
// as the corpus has it (no client cleans the path up), and reads the
// answer whole: no redirect followed, nothing decompressed.
func send(addr, prefix string, rq request) answer {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return answer{err: err}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testenv.Patience))
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n", rq.method(), prefix+rq.Path, addr)
	for _, h := range rq.Headers {
		fmt.Fprintf(w, "%s\r\n", h)
	}
	body := rq.body()
	switch {
	case rq.Chunked:
		w.WriteString("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
		for len(body) > 0 {
			n := min(len(body), 7000)
			fmt.Fprintf(w, "%x\r\n%s\r\n", n, body[:n])
			body = body[n:]
		}
		w.WriteString("0\r\n\r\n")
	case body != "" || rq.Method == "POST" || rq.Method == "PUT" || rq.Method == "PATCH":
		fmt.Fprintf(w, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	default:
		w.WriteString("Connection: close\r\n\r\n")
	}
	// A server may answer before it read the body (a 413, a 400), and
	// close: the answer counts, not the write.
	werr := w.Flush()
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: rq.method()})
	if err != nil {
		if werr != nil {
			err = werr
		}
		return answer{err: err}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	host := strings.NewReplacer(addr, "HOST")
	if l := resp.Header.Get("Location"); l != "" {
		resp.Header.Set("Location", host.Replace(l))
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: []byte(host.Replace(string(b))), err: err}
}

// undo is a with a server's changes undone.
func (a answer) undo(u undoing) answer {
	a.body = []byte(u.replace.Replace(string(a.body)))
	a.header = a.header.Clone()
	if l := a.header.Get("Location"); l != "" {
		a.header.Set("Location", u.replace.Replace(l))
	}
	for _, h := range u.headers {
		a.header.Del(h)
	}
	return a
}
