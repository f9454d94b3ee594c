package main

import (
	"testing"
	"unsafe"

	"github.com/riverbed-engine/riverbed/internal/uninit"
)

func TestCAllocator(t *testing.T) {
	a := newCAllocator()
	raw := uninit.Allocator(a)
	if raw == nil || raw == any(a) {
		t.Fatal("the allocator offers no allocator of memory that is not zeroed")
	}
	// Dirty a block, free it, and allocate the same size again: Allocate zeroes it
	// whatever memory it gets; the raw allocator's blocks hold whatever they held.
	for round := 0; round < 3; round++ {
		b := raw.Allocate(4096)
		for i := range b {
			b[i] = 0xAB
		}
		raw.Free(b)
		z := a.Allocate(4096)
		for i, v := range z {
			if v != 0 {
				t.Fatalf("Allocate: byte %d is %#x, not zero", i, v)
			}
		}
		a.Free(z)
	}
	var held [][]byte
	for _, size := range []int{0, 1, 63, 64, 65, 1000, 1 << 20} {
		for _, al := range []interface{ Allocate(int) []byte }{a, raw} {
			b := al.Allocate(size)
			if len(b) != size || cap(b) != size {
				t.Fatalf("Allocate(%d): len %d cap %d", size, len(b), cap(b))
			}
			if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))); p%64 != 0 {
				t.Fatalf("Allocate(%d) at %#x: not 64-byte aligned", size, p)
			}
			held = append(held, b)
		}
	}
	want := int64(0)
	for _, b := range held {
		want += int64(len(b))
	}
	if got := a.AllocatedBytes(); got != want {
		t.Fatalf("AllocatedBytes = %d, want %d", got, want)
	}
	// Reallocate keeps the bytes, grows into new memory (zeroed past the old bytes by
	// Allocate's allocator) and shrinks in place.
	b := a.Allocate(10)
	copy(b, "0123456789")
	b = a.Reallocate(100, b)
	if string(b[:10]) != "0123456789" || len(b) != 100 {
		t.Fatalf("Reallocate(100): %q (len %d)", b[:10], len(b))
	}
	for i, v := range b[10:] {
		if v != 0 {
			t.Fatalf("Reallocate(100): byte %d is %#x, not zero", 10+i, v)
		}
	}
	b = raw.Reallocate(5, b)
	if string(b) != "01234" {
		t.Fatalf("Reallocate(5): %q", b)
	}
	a.Free(b)
	for _, h := range held {
		a.Free(h)
	}
	// A second free of the same block is ignored (arrow-go's allocators tolerate it).
	a.Free(held[len(held)-1])
	a.Free(nil)
	if got := a.AllocatedBytes(); got != 0 {
		t.Fatalf("AllocatedBytes after freeing everything = %d, want 0", got)
	}
}
