package emulate

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel stop the application if the emulator dies
// without cleaning up, so no process is left behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
