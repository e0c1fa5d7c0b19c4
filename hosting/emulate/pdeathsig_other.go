//go:build !linux

package emulate

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
