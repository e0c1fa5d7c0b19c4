package reload

import (
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// settleTime is how long a changed file must stay the same before it is
// acted on: an FTP upload writes for a while.
const settleTime = time.Second

// Watcher reports changes to a few files. It watches their directory with
// inotify (which sees renames and misses nothing locally) and also polls
// with stat, since inotify is blind to changes made by another machine on
// NFS home directories. A change is reported once the file has settled.
type Watcher struct {
	paths   []string
	poll    time.Duration
	log     zerolog.Logger
	inotify bool
	Changed chan string // the path that changed and settled

	mu    sync.Mutex
	known map[string]FileState
	stop  chan struct{}
	done  chan struct{}
}

// NewWatcher watches the files of known for changes from the states given,
// taken when the caller read them: a file changed before the watch began
// (during a re-exec, say) is reported, not taken as the starting point.
func NewWatcher(known map[string]FileState, poll time.Duration, log zerolog.Logger) *Watcher {
	return watchFiles(known, poll, log, true)
}

// watchFiles is NewWatcher with inotify optional, for tests of polling.
func watchFiles(known map[string]FileState, poll time.Duration, log zerolog.Logger, inotify bool) *Watcher {
	w := &Watcher{poll: poll, log: log, inotify: inotify, Changed: make(chan string, len(known)),
		known: maps.Clone(known), stop: make(chan struct{}), done: make(chan struct{})}
	for p := range known {
		w.paths = append(w.paths, p)
	}
	go w.run()
	return w
}

// startInotify watches the directories of the files: a rename-replace
// upload swaps the directory entry, which a watch on the file would miss.
func (w *Watcher) startInotify() (*fsnotify.Watcher, error) {
	nw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	dirs := map[string]bool{}
	for _, p := range w.paths {
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := nw.Add(d); err != nil {
			nw.Close()
			return nil, fmt.Errorf("watching %s: %w", d, err)
		}
	}
	return nw, nil
}

func (w *Watcher) run() {
	defer close(w.done)
	tick := time.NewTicker(w.poll)
	defer tick.Stop()
	// Set up here rather than in NewWatcher: it costs a thread and a few
	// hundred microseconds the first request should not wait for.
	var events chan fsnotify.Event
	var errs chan error
	if w.inotify {
		if nw, err := w.startInotify(); err == nil {
			defer nw.Close()
			events, errs = nw.Events, nw.Errors
		} else {
			w.log.Debug().Err(err).Msg("inotify unavailable; polling only")
		}
	}
	type change struct {
		st   FileState
		last time.Time // when st was first seen
	}
	pending := map[string]change{} // changed, waiting to settle
	var settle <-chan time.Time
	check := func() {
		now := time.Now()
		for _, p := range w.paths {
			st := StatFile(p)
			if prev, ok := pending[p]; ok {
				switch {
				case st != prev.st:
					pending[p] = change{st, now}
				case now.Sub(prev.last) >= settleTime:
					delete(pending, p)
					w.mu.Lock()
					w.known[p] = st
					w.mu.Unlock()
					select {
					case w.Changed <- p:
					default:
					}
				}
				continue
			}
			w.mu.Lock()
			changed := st != w.known[p]
			w.mu.Unlock()
			if changed {
				pending[p] = change{st, now}
			}
		}
		if len(pending) > 0 && settle == nil {
			settle = time.After(settleTime / 4)
		}
	}
	check() // for changes made before the watch began
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
			check()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			for _, p := range w.paths {
				if filepath.Clean(ev.Name) == p {
					check()
				}
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.log.Debug().Err(err).Msg("inotify")
		case <-settle:
			settle = nil
			check()
		}
	}
}

// Accept records st, the state of path that could not be acted on (a
// broken upload), as known: a change is reported again only when the file
// is no longer in that state.
func (w *Watcher) Accept(path string, st FileState) {
	w.mu.Lock()
	w.known[path] = st
	w.mu.Unlock()
}

// Forget makes path count as absent, so that it is reported again once it
// has settled: for a file that could not be acted on yet though it will not
// change (an upload the FTP server still holds open).
func (w *Watcher) Forget(path string) {
	w.mu.Lock()
	w.known[path] = FileState{}
	w.mu.Unlock()
}

func (w *Watcher) Close() {
	close(w.stop)
	<-w.done
}
