//go:build unix

package reconciler

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with the pid exists on this machine.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
