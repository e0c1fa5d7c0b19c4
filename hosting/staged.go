package hosting

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/fcgi-hosting/fcgi/hosting/internal/reload"
	"github.com/fcgi-hosting/fcgi/hosting/internal/spawner"
)

// An FTP client cannot overwrite a running binary (Linux answers
// ETXTBSY), so updates are uploaded beside it as NAME.fcgi.new: the
// running site adopts the file once it is complete and has passed a
// trial, and renames a refused one NAME.fcgi.rejected, which the user sees
// in the FTP listing.
func (rt *Runtime) stagedPath() string   { return rt.exe + ".new" }
func (rt *Runtime) rejectedPath() string { return rt.exe + ".rejected" }

// upgrade is what this process knows of newer binaries.
type upgrade struct {
	running  reload.FileState // the binary this process runs
	proven   reload.FileState // the last binary that passed a trial
	refused  reload.FileState // the last binary that failed one
	trial    *trial           // in progress
	trialRun bool             // this process is itself a trial run
}

// trial is a binary being tried in the background while the site serves.
type trial struct {
	path   string
	staged bool
	why    string   // the hand-over it is for
	claim  *os.File // the staged file, locked: one process of the site tries it
	state  reload.FileState
	cancel context.CancelFunc
	done   chan error
	ended  bool // its result was taken from done
}

// startTrial tries path in the background, unless another process of the
// site already is (staged) or this one is. It reports whether it started.
func (rt *Runtime) startTrial(path string, staged bool, why string) bool {
	if rt.upgrade.trial != nil {
		return false
	}
	t := &trial{path: path, staged: staged, why: why, done: make(chan error, 1)}
	if staged {
		claim, ok := rt.claimStaged()
		if !ok {
			return false
		}
		t.claim = claim
	}
	t.state = reload.StatFile(path)
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	rt.upgrade.trial = t
	rt.log.Info().Str("binary", filepath.Base(path)).Str("for", why).Msg("trying the new binary before it takes over")
	go func() { t.done <- rt.try(ctx, path) }()
	return true
}

// claimStaged locks the staged file and gives it the mode suEXEC wants;
// false when another process of the site holds it, or it is gone.
func (rt *Runtime) claimStaged() (*os.File, bool) {
	f, err := os.Open(rt.stagedPath())
	if err != nil {
		return nil, false
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		f.Close()
		return nil, false
	}
	// Locked, but perhaps after another process adopted it: the file
	// must still be the staged one.
	st, err := f.Stat()
	if cur, err2 := os.Stat(rt.stagedPath()); err != nil || err2 != nil || !os.SameFile(st, cur) {
		f.Close()
		return nil, false
	}
	// FTP leaves uploads 0644; suEXEC refuses a group- or world-writable
	// program. The owner stays.
	if err := f.Chmod(0o755); err != nil {
		rt.log.Error().Err(err).Msg("cannot make " + filepath.Base(rt.stagedPath()) + " executable; chmod 755 it")
		f.Close()
		return nil, false
	}
	return f, true
}

// endTrial stops the trial in progress, if any, and waits for it.
func (rt *Runtime) endTrial() {
	t := rt.upgrade.trial
	if t == nil {
		return
	}
	if !t.ended {
		t.cancel()
		<-t.done
	}
	t.cancel()
	if t.claim != nil {
		t.claim.Close()
	}
	rt.upgrade.trial = nil
}

// trialDone delivers the result of the trial in progress; nil without one.
func (rt *Runtime) trialDone() <-chan error {
	if t := rt.upgrade.trial; t != nil && !t.ended {
		return t.done
	}
	return nil
}

// trialEvent is the end of the trial, with the facts decide needs.
func (rt *Runtime) trialEvent(err error) event {
	t := rt.upgrade.trial
	t.ended = true
	ev := event{kind: trialEnded, path: t.path, staged: t.staged, why: t.why, err: err,
		busy: stillWritten(err), newFile: t.staged && rt.spawner == spawner.Apache}
	switch {
	case err == nil:
		rt.upgrade.proven = t.state
	case !ev.busy && !t.staged:
		rt.upgrade.refused = t.state
	}
	ev.state = t.state
	return ev
}

// adopt renames the staged binary, tried and found good, over the site's.
func (rt *Runtime) adopt() error {
	return os.Rename(rt.stagedPath(), rt.exe)
}

// reject renames the refused staged binary to NAME.fcgi.rejected.
func (rt *Runtime) reject() {
	err := os.Rename(rt.stagedPath(), rt.rejectedPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		rt.log.Error().Err(err).Msg("cannot rename the refused binary; delete " + filepath.Base(rt.stagedPath()))
	}
}

// verdict is what is known of the binary at rt.exe now.
type verdict int

const (
	untried verdict = iota // a new binary: a hand-over to it needs a trial first
	good                   // the one this process runs, or one that passed a trial
	refused                // one that failed a trial: never handed over to
)

func (rt *Runtime) binaryVerdict() verdict {
	switch st := reload.StatFile(rt.exe); st {
	case rt.upgrade.running, rt.upgrade.proven:
		return good
	case rt.upgrade.refused:
		return refused
	}
	return untried
}
