package hosting

import (
	"runtime"
	"runtime/debug"
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

func TestSetGCPercent(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	tests := []struct {
		name      string
		environ   []string // the process environment at start
		fileValue string   // GOGC from the settings file, "" for none
		want      int
	}{
		{"none: as the Go runtime set it", nil, "", 100},
		{"the settings file", nil, "50", 50},
		{"off", nil, "off", -1},
		{"the environment wins", []string{"GOGC=200"}, "200", 100},
		{"a bad value is ignored", nil, "half", 100},
		{"a negative value is ignored", nil, "-5", 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100) // as the Go runtime set it at start
			t.Setenv("GOGC", tc.fileValue)
			rt := &Runtime{environ: tc.environ}
			rt.setGCPercent()
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GOGC %d, want %d", got, tc.want)
			}
		})
	}
}
