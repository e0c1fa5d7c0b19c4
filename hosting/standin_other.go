//go:build !linux

package hosting

import "syscall"

// standInAttr: without a parent-death signal, a stand-in notices that its
// parent is gone by polling.
var standInAttr *syscall.SysProcAttr
