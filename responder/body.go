package responder

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// streamBuffer carries one input stream of a request (FCGI_STDIN or
// FCGI_DATA) from the connection's reader to the handler.
//
// The reader never waits for the handler: a handler that reads slowly, or not
// at all, must not hold up the other requests multiplexed on the connection,
// nor the FCGI_ABORT_REQUEST meant for it. So unread input is kept in memory
// up to memLimit bytes, and beyond that appended to a temporary file that is
// removed when the stream is closed. The total is capped by maxBytes.
//
// When the request is alone on its connection (the usual case), nothing
// else waits for the reader, so a full buffer first gives the handler up to
// spillDelay to make room: a handler that is reading keeps the body in
// memory, and only one that is not costs a spill.
type streamBuffer struct {
	mu       sync.Mutex
	wake     chan struct{} // signalled when data arrives or the stream ends
	room     chan struct{} // signalled when the handler consumed input
	mem      []byte        // unread bytes held in memory, from memOff
	memOff   int
	file     *os.File // spill file, read from fileR up to fileW
	fileR    int64
	fileW    int64
	total    int64 // bytes received, for maxBytes
	length   int64 // declared length (CONTENT_LENGTH); < 0 when unknown
	excess   int64 // bytes received past length, dropped
	err      error // returned once the buffered input is consumed
	closed   bool  // the handler is done with the stream: drop input
	memLimit int
	maxBytes int64 // < 0 means unlimited
	tempDir  string
	spill    *spillBudget // the server's; fileW bytes of it are this stream's
}

var errBodyClosed = errors.New("fastcgi: read on closed request body")

func (b *streamBuffer) init(memLimit int, maxBytes int64, tempDir string, spill *spillBudget) {
	b.spill = spill
	b.wake = make(chan struct{}, 1)
	b.room = make(chan struct{}, 1)
	b.memLimit = memLimit
	b.maxBytes = maxBytes
	b.tempDir = tempDir
	b.length = -1
}

// expect declares the stream's length, as net/http takes Content-Length:
// input past it is dropped, and a stream that ends short of it fails with
// io.ErrUnexpectedEOF. It is called before any input arrives.
func (b *streamBuffer) expect(n int64) {
	b.mu.Lock()
	b.length = n
	b.mu.Unlock()
}

// declared is the stream's declared length; < 0 when unknown.
func (b *streamBuffer) declared() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.length
}

// finish ends a stream that arrived whole, and reports how far it fell
// short of or ran past its declared length.
func (b *streamBuffer) finish() (short, excess int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.excess // it ended before (an Authorizer's, say)
	}
	err := io.EOF
	if b.length >= 0 && b.total < b.length {
		short = b.length - b.total
		err = io.ErrUnexpectedEOF
	}
	b.failLocked(err)
	return short, b.excess
}

// spillDelay is how long a request alone on its connection waits for its
// handler to make room before the excess goes to disk.
const spillDelay = 20 * time.Millisecond

func (b *streamBuffer) signal() { notify(b.wake) }

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// write stores p for the handler; alone says that no other request shares
// the connection, so the reader may wait a little for room. It fails only
// when a spill file cannot be written; the stream then ends with that error.
func (b *streamBuffer) write(p []byte, alone bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.err != nil {
		return nil
	}
	if b.length >= 0 && b.total+int64(len(p)) > b.length {
		keep := max(b.length-b.total, 0)
		b.excess += int64(len(p)) - keep
		if p = p[:keep]; len(p) == 0 {
			return nil
		}
	}
	if alone && b.fileW == 0 && len(b.mem)-b.memOff+len(p) > b.memLimit {
		b.waitForRoomLocked(len(p))
		if b.closed || b.err != nil {
			return nil
		}
	}
	if b.maxBytes >= 0 && b.total+int64(len(p)) > b.maxBytes {
		b.total += int64(len(p))
		b.failLocked(&http.MaxBytesError{Limit: b.maxBytes})
		return nil
	}
	if !b.reserveSpillLocked(len(p)) {
		return nil
	}
	b.total += int64(len(p))
	if err := b.storeLocked(p); err != nil {
		b.failLocked(err)
		return err
	}
	b.signal()
	return nil
}

func (b *streamBuffer) waitForRoomLocked(n int) {
	var timer *time.Timer
	for len(b.mem)-b.memOff+n > b.memLimit && !b.closed {
		if timer == nil {
			timer = time.NewTimer(spillDelay)
			defer timer.Stop()
		}
		b.mu.Unlock()
		select {
		case <-b.room:
			b.mu.Lock()
		case <-timer.C:
			b.mu.Lock()
			return
		}
	}
}

// spillsLocked reports whether n more bytes go to the file.
func (b *streamBuffer) spillsLocked(n int) bool {
	if b.file != nil && b.fileR == b.fileW && b.memOff == len(b.mem) {
		// The handler has caught up: go back to memory.
		b.spill.release(b.fileW)
		b.fileR, b.fileW = 0, 0
	}
	return b.fileW > 0 || len(b.mem)-b.memOff+n > b.memLimit
}

// reserveSpillLocked takes the disk n more bytes need, if they spill,
// waiting while the server's spill budget is spent until this handler
// reads or other spills end. It returns false if the stream ended meanwhile.
func (b *streamBuffer) reserveSpillLocked(n int) bool {
	for b.spillsLocked(n) {
		ok, freed := b.spill.reserve(int64(n))
		if ok {
			return true
		}
		b.mu.Unlock()
		select {
		case <-b.room:
		case <-freed:
		}
		b.mu.Lock()
		if b.closed || b.err != nil {
			return false
		}
	}
	return true
}

func (b *streamBuffer) storeLocked(p []byte) error {
	if b.fileW == 0 && len(b.mem)-b.memOff+len(p) <= b.memLimit {
		if b.memOff > 0 && len(b.mem)+len(p) > cap(b.mem) {
			n := copy(b.mem, b.mem[b.memOff:])
			b.mem, b.memOff = b.mem[:n], 0
		}
		b.mem = append(b.mem, p...)
		return nil
	}
	if b.file == nil {
		f, err := os.CreateTemp(b.tempDir, "fcgi-body-")
		if err != nil {
			b.spill.release(int64(len(p)))
			return errors.New("fastcgi: request body over the in-memory buffer and no temporary file: " + err.Error())
		}
		// Unlinked at once: nothing is left behind if the process dies.
		os.Remove(f.Name())
		b.file = f
	}
	if _, err := b.file.WriteAt(p, b.fileW); err != nil {
		b.spill.release(int64(len(p)))
		return errors.New("fastcgi: spilling request body to disk: " + err.Error())
	}
	b.fileW += int64(len(p))
	return nil
}

// end marks the end of the stream: io.EOF for a complete one, another error
// when the request was aborted or the connection lost.
func (b *streamBuffer) end(err error) {
	b.mu.Lock()
	b.failLocked(err)
	b.mu.Unlock()
}

func (b *streamBuffer) failLocked(err error) {
	if b.err == nil {
		b.err = err
		b.signal()
	}
}

// Read blocks until input is available or the stream ends.
func (b *streamBuffer) Read(p []byte) (int, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return 0, errBodyClosed
		}
		if b.memOff < len(b.mem) {
			n := copy(p, b.mem[b.memOff:])
			b.memOff += n
			if b.memOff == len(b.mem) {
				b.mem, b.memOff = b.mem[:0], 0
			}
			b.mu.Unlock()
			notify(b.room)
			return n, nil
		}
		if b.fileR < b.fileW {
			p = p[:min(int64(len(p)), b.fileW-b.fileR)]
			n, err := b.file.ReadAt(p, b.fileR)
			b.fileR += int64(n)
			b.mu.Unlock()
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return 0, err
		}
		b.mu.Unlock()
		<-b.wake
	}
}

// Close releases the buffered input; later input is dropped.
func (b *streamBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	notify(b.room)
	b.mem = nil
	b.memOff = 0
	if b.file != nil {
		b.file.Close()
		b.file = nil
		b.spill.release(b.fileW)
		b.fileR, b.fileW = 0, 0
	}
	b.signal()
	return nil
}

var _ io.ReadCloser = (*streamBuffer)(nil)
