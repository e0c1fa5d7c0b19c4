package hosting

import (
	"runtime"
	"testing"
)

func TestSetProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	tests := []struct {
		name       string
		environ    []string // the process environment at start
		fileValue  string   // GOMAXPROCS from the settings file, "" for none
		oneAtATime bool
		want       int
	}{
		{"spawned by Apache: one", nil, "", true, 1},
		{"spawned by lighttpd: as the Go runtime set it", nil, "", false, 7},
		{"the environment wins", []string{"GOMAXPROCS=7"}, "7", true, 7},
		{"the settings file wins", nil, "3", true, 3},
		{"a bad value in the settings file is ignored", nil, "many", false, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GOMAXPROCS(7) // as the Go runtime set it at start
			t.Setenv("GOMAXPROCS", tc.fileValue)
			rt := &Runtime{environ: tc.environ}
			rt.setProcs(tc.oneAtATime)
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS %d, want %d", got, tc.want)
			}
		})
	}
}
