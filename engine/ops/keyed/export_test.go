package keyed

import "fmt"

// CheckAccounts verifies the Spill's bookkeeping: the pieces in the lists of pieces in
// memory are the ones held, pieces sharing their chunk's batch are counted by their
// chunk, the memory counted adds up to what the cap is checked against, and at most two
// units (an own piece, or a batch shared by pieces) exceed the cap: those of the two
// pieces last used when the cap was last enforced.
func (sp *Spill) CheckAccounts() error {
	var sum int64
	var big [2]int64 // the two largest units in memory
	unit := func(b int64) {
		sum += b
		if b > big[0] {
			big[0], big[1] = b, big[0]
		} else if b > big[1] {
			big[1] = b
		}
	}
	for _, st := range sp.states {
		listed := map[int32]bool{}
		for p := st.head; p >= 0; p = st.pieces[p].next {
			listed[p] = true
		}
		sharing := make([]int32, len(st.chunks))
		for p, m := range st.pieces {
			if listed[int32(p)] != (st.recs[p] != nil) {
				return fmt.Errorf("piece %d: listed %v, held %v", p, listed[int32(p)], st.recs[p] != nil)
			}
			if st.recs[p] == nil {
				if m.shared {
					return fmt.Errorf("piece %d shares its batch but is not held", p)
				}
				continue
			}
			if st.recs[p].NumRows() != int64(m.rows) {
				return fmt.Errorf("piece %d holds %d rows, not %d", p, st.recs[p].NumRows(), m.rows)
			}
			if m.shared {
				sharing[m.chunk]++
			} else {
				unit(m.bytes)
			}
		}
		for c, info := range st.chunks {
			if sharing[c] != info.sharing {
				return fmt.Errorf("chunk %d: %d pieces share its batch, counted %d", c, sharing[c], info.sharing)
			}
			if info.sharing > 0 {
				unit(info.bytes)
			}
		}
	}
	if sum != sp.used {
		return fmt.Errorf("%d bytes in memory, counted %d", sum, sp.used)
	}
	if sum-big[0]-big[1] > sp.limit {
		return fmt.Errorf("%d bytes in memory, more than two pieces' batches over the cap of %d", sum, sp.limit)
	}
	return nil
}

// SplitChunks is the number of chunks held in more than one piece.
func (sp *Spill) SplitChunks() int {
	n := 0
	for _, st := range sp.states {
		for _, c := range st.chunks {
			if c.n > 1 {
				n++
			}
		}
	}
	return n
}

// PoolRoundTrip puts a table of capacity n whose every slot is set into the pool and
// takes one of the same capacity back, returning how many of its slots are not zero.
func PoolRoundTrip(n int) (nonZero int, reused bool) {
	t := make([]intSlot, n)
	for i := range t {
		t[i] = intSlot{key: int64(i) + 1, gid: uint32(i) + 1}
	}
	intSlots.put(t)
	got := intSlots.get(n)
	for _, e := range got {
		if e != (intSlot{}) {
			nonZero++
		}
	}
	return nonZero, &got[0] == &t[0]
}

// FreshTable takes a table of n slots that the pool does not hold (a new one, populated
// when large) and counts its slots that are not zero after writing every one.
func FreshTable(n int) (nonZero int, written bool) {
	t := intSlots.get(n)
	for _, e := range t {
		if e != (intSlot{}) {
			nonZero++
		}
	}
	for i := range t {
		t[i].gid = uint32(i) + 1
	}
	written = t[len(t)-1].gid == uint32(len(t))
	return nonZero, written
}

// DirectSpan is the span of keys g groups directly (0: none).
func DirectSpan(g *Grouper) int { return len(g.direct) }

// IndexedGroups is how many of g's groups are in its hash table (one integer key).
func IndexedGroups(g *Grouper) int { return g.indexed }
