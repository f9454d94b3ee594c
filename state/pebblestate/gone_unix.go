//go:build unix

package pebblestate

import (
	"errors"
	"syscall"
)

// gone reports whether no process has id pid.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }
