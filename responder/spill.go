package responder

import "sync"

// spillBudget bounds the disk that request bodies spilled to temporary
// files take together: past it, a body waits in the connection (the web
// server's writes block, as with net/http) until its handler reads or
// other spills end, instead of filling the account's disk quota.
type spillBudget struct {
	mu    sync.Mutex
	held  int64
	max   int64         // < 0: no limit
	freed chan struct{} // closed and replaced when held goes down
}

func newSpillBudget(max int64) *spillBudget {
	return &spillBudget{max: max, freed: make(chan struct{})}
}

// reserve takes n bytes of the budget, or returns a channel closed when
// some are given back. A nil budget (a Client's) has no limit.
func (s *spillBudget) reserve(n int64) (ok bool, freed <-chan struct{}) {
	if s == nil {
		return true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max >= 0 && s.held+n > s.max && s.held > 0 {
		return false, s.freed
	}
	s.held += n
	return true, nil
}

func (s *spillBudget) release(n int64) {
	if s == nil || n == 0 {
		return
	}
	s.mu.Lock()
	s.held -= n
	close(s.freed)
	s.freed = make(chan struct{})
	s.mu.Unlock()
}
