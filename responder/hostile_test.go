package responder

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The hostile-peer suite: what a broken web server, a misconfigured proxy
// or an attacker who reached the socket may send. Each test logs a line
// starting "reliability:" with its figures; the README's Reliability
// section quotes them (go test -v -run Hostile ./responder/ | grep reliability:).

// bodyEcho answers with the length and bytes of the body it read, or 400
// with the error that ended the read.
func bodyEcho(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Write([]byte(itoa(len(b)) + " " + string(b)))
}

// rawRecord is a record with any header the test likes, padding included.
func rawRecord(version, recType uint8, id uint16, contentLen int, padding uint8, content []byte) []byte {
	b := []byte{version, recType, byte(id >> 8), byte(id), byte(contentLen >> 8), byte(contentLen), padding, 0}
	return append(b, content...)
}

// request begins id and sends params, ended; stdin follows if non-nil.
func hostileRequest(id uint16, params map[string]string, stdin []byte) []byte {
	b := append(beginRecord(id, RoleResponder, true), paramsRecords(id, params)...)
	if stdin != nil {
		b = appendStream(b, typeStdin, id, stdin)
		b = appendRecord(b, typeStdin, id, nil)
	}
	return b
}

func params(extra ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(extra); i += 2 {
		b = appendPair(b, extra[i], extra[i+1])
	}
	return b
}

// The possible outcomes of a hostile stream.
func closedByServer(t *testing.T, rc *rawConn) {
	t.Helper()
	if _, err := rc.readUntilClose(30 * time.Second); err != io.EOF && !isReset(err) {
		t.Fatalf("connection not closed by the server: %v", err)
	}
}

// answered reads request id's response and checks it holds want.
func answered(want string) func(*testing.T, *rawConn) {
	return func(t *testing.T, rc *rawConn) {
		t.Helper()
		if out := stdoutOf(rc.readUntilEnd(1), 1); !strings.Contains(out, want) {
			t.Fatalf("response %q lacks %q", out, want)
		}
	}
}

// stillServing sends a good request on the same connection: the stream
// before it was ignored without harm.
func stillServing(t *testing.T, rc *rawConn) {
	t.Helper()
	rc.send(hostileRequest(9, withParams(map[string]string{"CONTENT_LENGTH": "2"}), []byte("ok")))
	if out := stdoutOf(rc.readUntilEnd(9), 9); !strings.HasSuffix(out, "2 ok") {
		t.Fatalf("connection no longer serving: %q", out)
	}
}

// stdoutOf is what request id wrote to FCGI_STDOUT among recs.
func stdoutOf(recs []rec, id uint16) string {
	var out strings.Builder
	for _, r := range recs {
		if r.typ == typeStdout && r.id == id {
			out.WriteString(r.content)
		}
	}
	return out.String()
}

func unknownTypeAnswered(t *testing.T, rc *rawConn) {
	t.Helper()
	rc.SetReadDeadline(time.Now().Add(30 * time.Second))
	h, _, err := rc.rr.next()
	if err != nil || h.recType != typeUnknownType {
		t.Fatalf("got record type %d (%v), want FCGI_UNKNOWN_TYPE", h.recType, err)
	}
	stillServing(t, rc)
}

func TestHostile_MalformedStreams(t *testing.T) {
	logger, logs := newTestLog(t)
	path := startServer(t, &Server{Logger: logger, MaxParamsBytes: 4 << 10, ReadTimeout: 300 * time.Millisecond,
		Handler: http.HandlerFunc(bodyEcho)})
	badVersion := beginRecord(1, RoleResponder, true)
	badVersion[0] = 2
	begin := beginRecord(1, RoleResponder, true)
	endParams := appendRecord(nil, typeParams, 1, nil)
	withPairs := func(pairs []byte) []byte {
		return append(append(begin, appendRecord(nil, typeParams, 1, pairs)...), endParams...)
	}
	cl := func(n string) map[string]string { return withParams(map[string]string{"CONTENT_LENGTH": n}) }
	stdin := func(s string) []byte {
		return append(appendRecord(nil, typeStdin, 1, []byte(s)), appendRecord(nil, typeStdin, 1, nil)...)
	}
	tests := []struct {
		name       string
		in         []byte
		closeWrite bool // then the peer shuts its side
		outcome    func(*testing.T, *rawConn)
		log        string
	}{
		// Streams that break the record layer: the connection is closed.
		{"wrong version", badVersion, false, closedByServer, "version 2"},
		{"HTTP spoken to the FastCGI socket", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, closedByServer, "is the peer speaking FastCGI"},
		{"garbage after a request", append(hostileRequest(1, baseParams(), nil), "\xde\xad\xbe\xef\x00\x00\x00\x00"...), false,
			closedByServer, "version 222"},
		{"truncated header", begin[:5], true, closedByServer, "inside a record header (5 of 8 bytes)"},
		{"truncated content", rawRecord(1, typeStdin, 1, 100, 0, make([]byte, 10)), true, closedByServer, "10 of 100 content and padding bytes"},
		{"padding past the end", rawRecord(1, typeBeginRequest, 1, 8, 255, begin[8:16]), true, closedByServer, "8 of 263 content and padding bytes"},
		{"begin body too short", appendRecord(nil, typeBeginRequest, 1, []byte{0, 1}), false, closedByServer, "want 8"},
		{"duplicate request id", append(begin, begin...), false, closedByServer, "still in progress"},
		{"params after their end", append(withPairs(nil), appendRecord(nil, typeParams, 1, params("A", "b"))...), false, closedByServer,
			"after its parameters ended"},
		{"application record with id 0", beginRecord(0, RoleResponder, true), false, closedByServer, "request id 0"},
		{"malformed FCGI_GET_VALUES", appendRecord(nil, typeGetValues, 0, []byte{0x85}), false, closedByServer, "FCGI_GET_VALUES"},

		// Parameters the request cannot be built from: answered, as
		// net/http answers a malformed header block.
		{"name length past the record", withPairs([]byte{0x7f, 1, 'a'}), false, answered("Status: 400"), "malformed FCGI_PARAMS"},
		{"4-byte length of 2 GiB", withPairs([]byte{0xff, 0xff, 0xff, 0xff, 1, 'a'}), false, answered("Status: 400"), "malformed FCGI_PARAMS"},
		{"4-byte length cut short", withPairs([]byte{0x80, 0, 0}), false, answered("Status: 400"), "malformed FCGI_PARAMS"},
		{"params over MaxParamsBytes", hostileRequest(1, withParams(map[string]string{"HTTP_COOKIE": strings.Repeat("c", 5<<10)}), nil), false,
			answered("Status: 431"), "over MaxParamsBytes"},
		{"CONTENT_LENGTH not a number", hostileRequest(1, cl("12abc"), nil), false, answered("Status: 400"), "CONTENT_LENGTH is not a length"},
		{"params never finished", append(begin, appendRecord(nil, typeParams, 1, params("A", "b"))...), false, closedByServer, "ReadTimeout"},

		// Bodies that disagree with CONTENT_LENGTH: the handler reads
		// what net/http would give it.
		{"STDIN longer than CONTENT_LENGTH", append(hostileRequest(1, cl("3"), nil), stdin("abcdef")...), false, answered("3 abc"),
			"ran past CONTENT_LENGTH"},
		{"STDIN shorter than CONTENT_LENGTH", append(hostileRequest(1, cl("10"), nil), stdin("abc")...), false,
			answered("body: unexpected EOF"), "short of CONTENT_LENGTH"},
		{"CONTENT_LENGTH -1 (Caddy's for a chunked body)", append(hostileRequest(1, cl("-1"), nil), stdin("abcdef")...), false, answered("6 abcdef"), ""},
		{"STDIN before the params", append(append(begin, stdin("abcdef")...), paramsRecords(1, cl("3"))...), false,
			closedByServer, "before its parameters ended"},

		// Records that name no request in progress: ignored, and the
		// connection goes on.
		{"records for a request never begun", append(appendRecord(nil, typeStdin, 7, []byte("x")), appendRecord(nil, typeAbortRequest, 8, nil)...),
			false, stillServing, "record for a request not in progress ignored"},
		{"records for a finished request", hostileRequest(3, baseParams(), []byte{}), false, func(t *testing.T, rc *rawConn) {
			rc.readUntilEnd(3)
			rc.send(appendRecord(nil, typeStdin, 3, []byte("late")))
			stillServing(t, rc)
		}, "record for a request not in progress ignored"},
		{"STDIN after its end", append(hostileRequest(1, cl("2"), nil), append(stdin("ab"), appendRecord(nil, typeStdin, 1, []byte("cd"))...)...), false,
			func(t *testing.T, rc *rawConn) { answered("2 ab")(t, rc); stillServing(t, rc) }, "input after the end of its stream ignored"},
		{"management record with a request id", appendRecord(nil, typeGetValues, 3, params("FCGI_MAX_REQS", "")), false,
			unknownTypeAnswered, "answered FCGI_UNKNOWN_TYPE"},
		{"unknown record type", appendRecord(nil, 42, 1, []byte("?")), false, unknownTypeAnswered, "answered FCGI_UNKNOWN_TYPE"},
		{"unknown role", append(beginRecord(1, Role(9), true), appendRecord(nil, typeParams, 1, nil)...), false,
			func(t *testing.T, rc *rawConn) {
				recs := rc.readUntilEnd(1)
				if end := recs[len(recs)-1].content; end[4] != statusUnknownRole {
					t.Fatalf("protocol status %d, want FCGI_UNKNOWN_ROLE", end[4])
				}
				stillServing(t, rc)
			}, "FCGI_UNKNOWN_ROLE"},
	}

	// A connection that stays open through every case stands for the
	// other requests the web server is sending meanwhile.
	bystander := dialClient(t, path)
	streams, bytesSent := 0, 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs())
			rc := dialRaw(t, path)
			rc.send(tc.in)
			if tc.closeWrite {
				rc.Conn.(*net.UnixConn).CloseWrite()
			}
			tc.outcome(t, rc)
			if !waitUntil(func() bool { return strings.Contains(logs()[before:], tc.log) }) {
				t.Errorf("log lacks %q", tc.log)
			}
			resp, body := do(t, bystander, &ClientRequest{KeepConn: true, Params: cl("3"), Stdin: strings.NewReader("yes")})
			if resp.StatusCode != 200 || body != "3 yes" {
				t.Errorf("the other connection got %d %q", resp.StatusCode, body)
			}
			streams++
			bytesSent += len(tc.in)
		})
	}
	t.Logf("reliability: malformed streams: %d kinds (%d bytes) thrown, each with its outcome and log line; the other connection served throughout", streams, bytesSent)
}

// waitUntil polls cond until it holds, for something that follows what
// the test saw by a moment (a log line after the outcome the peer sees, a
// goroutine ending). The 30 s only bound a hang.
func waitUntil(cond func() bool) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
