package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// processCPU is the CPU time process pid has used, user and system, over
// all its threads: the sum of their schedstat run times, exact to the
// nanosecond where /proc/PID/stat counts clock ticks. Threads that ended
// are not counted; Go's runtime and libfcgi keep theirs.
func processCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return 0, os.ErrNotExist
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended meanwhile
		}
		run, _, _ := strings.Cut(string(b), " ")
		ns, err := strconv.ParseInt(run, 10, 64)
		if err != nil {
			return 0, err
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}
