package responder

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRecordReader(t *testing.T) {
	big := bytes.Repeat([]byte("b"), maxContentLen)
	padded := func(typ uint8, id uint16, content []byte, pad int) []byte {
		b := make([]byte, headerLen, headerLen+len(content)+pad)
		putHeader(b, typ, id, len(content), pad)
		b = append(b, content...)
		return append(b, bytes.Repeat([]byte{0xee}, pad)...)
	}
	tests := []struct {
		name    string
		in      []byte
		want    []rec
		wantErr string
	}{
		{"padding skipped", append(padded(typeStdin, 1, []byte("abc"), 255), padded(typeStdin, 1, nil, 0)...),
			[]rec{{typeStdin, 1, "abc"}, {typeStdin, 1, ""}}, ""},
		{"largest record", padded(typeParams, 2, big, 1), []rec{{typeParams, 2, string(big)}}, ""},
		{"clean end", appendRecord(nil, typeStdin, 1, []byte("x")), []rec{{typeStdin, 1, "x"}}, ""},
		{"header cut short", []byte{1, 5, 0}, nil, "inside a record header (3 of 8 bytes)"},
		{"content cut short", padded(typeStdin, 1, []byte("abcdef"), 2)[:12], nil, "inside a record (type 5, request 1, 4 of 8"},
		{"wrong version", []byte{2, 1, 0, 1, 0, 0, 0, 0}, nil, "version 2"},
	}
	// A connection's reader parks between requests: the first bytes after
	// are read into a small buffer, and a record may run past it.
	readers := map[string]func(in []byte) (rr recordReader, park bool){
		"a byte at a time": func(in []byte) (recordReader, bool) {
			return recordReader{r: &onebyte{in}, buf: make([]byte, recordBufLen)}, false
		},
		"parked between records": func(in []byte) (recordReader, bool) {
			return newPooledReader(bytes.NewReader(in)), true
		},
	}
	for _, tc := range tests {
		for how, newReader := range readers {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				rr, park := newReader(tc.in)
				defer rr.release()
				var got []rec
				var err error
				for {
					if park {
						rr.park()
					}
					var h header
					var c []byte
					if h, c, err = rr.next(); err != nil {
						break
					}
					got = append(got, rec{h.recType, h.id, string(c)})
				}
				if len(got) != len(tc.want) {
					t.Fatalf("%d records, want %d (err %v)", len(got), len(tc.want), err)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("record %d: type %d id %d %d bytes", i, got[i].typ, got[i].id, len(got[i].content))
					}
				}
				if tc.wantErr == "" {
					if err != io.EOF {
						t.Errorf("end: %v, want io.EOF", err)
					}
					return
				}
				var pe *ProtocolError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want a ProtocolError with %q", err, tc.wantErr)
				}
			})
		}
	}
}

func TestAppendStream(t *testing.T) {
	content := bytes.Repeat([]byte("s"), 2*maxContentLen+10)
	b := appendStream(nil, typeStdout, 3, content)
	rr := recordReader{r: bytes.NewReader(b), buf: make([]byte, recordBufLen)}
	var joined []byte
	n := 0
	for {
		h, c, err := rr.next()
		if err != nil {
			break
		}
		n++
		if h.recType != typeStdout || h.id != 3 || (int(h.contentLength)+int(h.paddingLength))%8 != 0 {
			t.Fatalf("record %d: %+v", n, h)
		}
		joined = append(joined, c...)
	}
	if n != 3 || !bytes.Equal(joined, content) {
		t.Fatalf("%d records carrying %d bytes, want 3 carrying %d", n, len(joined), len(content))
	}
}
