//go:build linux

package keyed

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// populate asks the kernel to back a fresh table's pages now, in one call, instead of
// taking a page fault at the first write to each (which costs microseconds each on
// virtual machines). Failure (an older kernel) leaves the pages to fault as before.
func populate[T any](t []T) {
	var z T
	n := uintptr(len(t)) * unsafe.Sizeof(z)
	if n < populateMin {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t))), n)
	page := uintptr(unix.Getpagesize())
	skip := (page - uintptr(unsafe.Pointer(unsafe.SliceData(b)))%page) % page // to the first whole page
	if n <= skip+page {
		return
	}
	whole := (n - skip) / page * page
	_ = unix.Madvise(b[skip:skip+whole], unix.MADV_POPULATE_WRITE)
}

// populateMin is the smallest table populate prefaults.
const populateMin = 1 << 20
