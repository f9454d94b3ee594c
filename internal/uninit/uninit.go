package uninit

import "github.com/apache/arrow-go/v18/arrow/memory"

// Provider is implemented by an allocator that can also hand out memory without zeroing
// it: Uninitialized returns an allocator of the same memory (what one allocates, the
// other frees) whose Allocate leaves the bytes as they are.
type Provider interface {
	Uninitialized() memory.Allocator
}

// Allocator returns the allocator of mem's memory that is not zeroed, or mem itself when
// it has none. Use it only for a buffer every byte of which is written before it is read.
func Allocator(mem memory.Allocator) memory.Allocator {
	if p, ok := mem.(Provider); ok {
		return p.Uninitialized()
	}
	return mem
}

// Buffer returns a buffer of size bytes of mem's memory, not zeroed when mem allows it.
func Buffer(mem memory.Allocator, size int) *memory.Buffer {
	b := memory.NewResizableBuffer(Allocator(mem))
	b.Resize(size)
	return b
}
