package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// cAllocator hands out the engine's Arrow memory from C's heap: buffers exported to C stay
// valid after a call returns, and the Go collector never scans or moves them. Its memory
// is zeroed, as Arrow's allocators promise; its Uninitialized allocator (see
// internal/uninit) hands out the same memory without zeroing it, for buffers the engine
// writes in full. (arrow-go's C allocator always zeroes: calloc.)
//
// Allocations are 64-byte aligned, as Arrow asks. The allocator keeps the address and
// size of each one not yet freed: Free ignores what it did not hand out or has freed
// already (as arrow-go's allocators do), and AllocatedBytes is their sum.
type cAllocator struct {
	mu        sync.Mutex
	live      map[uintptr]int
	allocated int64
	raw       rawAllocator
}

// rawAllocator is a cAllocator's Uninitialized allocator.
type rawAllocator struct{ a *cAllocator }

func newCAllocator() *cAllocator {
	a := &cAllocator{live: map[uintptr]int{}}
	a.raw.a = a
	return a
}

func (a *cAllocator) alloc(size int) []byte {
	if size < 0 {
		panic("allocator: negative size")
	}
	// aligned_alloc wants a multiple of the alignment, and a size of 0 may give NULL.
	p := C.aligned_alloc(64, C.size_t((size+64)&^63))
	if p == nil {
		panic("allocator: out of memory")
	}
	a.mu.Lock()
	a.live[uintptr(p)] = size
	a.allocated += int64(size)
	a.mu.Unlock()
	return unsafe.Slice((*byte)(p), size)
}

func (a *cAllocator) Allocate(size int) []byte {
	b := a.alloc(size)
	clear(b)
	return b
}

func (a *cAllocator) Free(b []byte) {
	p := unsafe.Pointer(unsafe.SliceData(b))
	a.mu.Lock()
	size, ok := a.live[uintptr(p)]
	if ok {
		delete(a.live, uintptr(p))
		a.allocated -= int64(size)
	}
	a.mu.Unlock()
	if ok {
		C.free(p)
	}
}

func (a *cAllocator) Reallocate(size int, b []byte) []byte {
	return a.realloc(size, b, a.Allocate)
}

// realloc moves b's bytes into a new allocation of size bytes from alloc, unless b's own
// has room.
func (a *cAllocator) realloc(size int, b []byte, alloc func(int) []byte) []byte {
	if size < 0 {
		panic("allocator: negative size")
	}
	if size <= cap(b) {
		return b[:size]
	}
	nb := alloc(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

func (a *cAllocator) AllocatedBytes() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.allocated
}

// Uninitialized returns the allocator of the same memory that does not zero it.
func (a *cAllocator) Uninitialized() memory.Allocator { return &a.raw }

func (r *rawAllocator) Allocate(size int) []byte { return r.a.alloc(size) }
func (r *rawAllocator) Free(b []byte)            { r.a.Free(b) }
func (r *rawAllocator) Reallocate(size int, b []byte) []byte {
	return r.a.realloc(size, b, r.a.alloc)
}
