package keyed

// KeyFilter is a counting Bloom filter of key hashes (Grouper.Hash): three 4-bit
// counters a key, eight counters a key for the keys it is sized for (about 3% false
// positives). An operator that keeps the state of some keys in a keyed spill store keeps
// their hashes in one, to look up only the keys that may be there; keys read back leave
// it. A counter at 15 stays there.
type KeyFilter struct {
	nib  []byte // counters, two a byte
	mask uint64 // of a counter's index
	keys int    // keys in it
}

// NewKeyFilter returns a filter sized for keys keys (at least 128).
func NewKeyFilter(keys int) KeyFilter {
	m := 1 << 10
	for m < 8*keys {
		m *= 2
	}
	return KeyFilter{nib: make([]byte, m/2), mask: uint64(m - 1)}
}

// count changes the counters of hash h by d (+1 or -1).
func (f *KeyFilter) count(h uint64, d int) {
	h2 := h>>32 | 1
	for i := range uint64(3) {
		j := (h + i*h2) & f.mask
		b, shift := &f.nib[j>>1], (j&1)*4
		if c := *b >> shift & 15; c < 15 && (d > 0 || c > 0) {
			*b = byte(int(*b) + d<<shift)
		}
	}
	f.keys += d
}

// Add adds hash h.
func (f *KeyFilter) Add(h uint64) { f.count(h, 1) }

// Remove takes out a hash added before.
func (f *KeyFilter) Remove(h uint64) { f.count(h, -1) }

// Has reports whether h may have been added (and not removed); never false for one that was.
func (f *KeyFilter) Has(h uint64) bool {
	h2 := h>>32 | 1
	for i := range uint64(3) {
		j := (h + i*h2) & f.mask
		if f.nib[j>>1]>>((j&1)*4)&15 == 0 {
			return false
		}
	}
	return true
}

// Keys is the number of hashes in the filter.
func (f *KeyFilter) Keys() int { return f.keys }

// Full reports whether the filter holds more hashes than it was sized for (its false
// positives grow beyond 3%): time to build a larger one.
func (f *KeyFilter) Full() bool { return f.keys > len(f.nib)*2/8 }

// MemBytes is the filter's memory.
func (f *KeyFilter) MemBytes() int64 { return int64(len(f.nib)) }
