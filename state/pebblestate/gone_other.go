//go:build !unix

package pebblestate

// gone reports whether no process has id pid: unknown here, so spill stores of other
// processes are left alone.
func gone(int) bool { return false }
