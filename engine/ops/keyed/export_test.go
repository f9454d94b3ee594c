package keyed

import "fmt"

// CheckAccounts verifies the Spill's bookkeeping: the pieces in the lists of pieces in
// memory are the ones held, their sizes add up to what the cap is checked against, and
// at most two pieces (those last used when the cap was last enforced) exceed the cap.
func (sp *Spill) CheckAccounts() error {
	var sum int64
	var big [2]int64 // the two largest pieces in memory
	for _, st := range sp.states {
		listed := map[int32]bool{}
		for p := st.head; p >= 0; p = st.pieces[p].next {
			listed[p] = true
		}
		for p, m := range st.pieces {
			if listed[int32(p)] != (st.recs[p] != nil) {
				return fmt.Errorf("piece %d: listed %v, held %v", p, listed[int32(p)], st.recs[p] != nil)
			}
			if st.recs[p] == nil {
				continue
			}
			if st.recs[p].NumRows() != int64(m.rows) {
				return fmt.Errorf("piece %d holds %d rows, not %d", p, st.recs[p].NumRows(), m.rows)
			}
			sum += m.bytes
			if m.bytes > big[0] {
				big[0], big[1] = m.bytes, big[0]
			} else if m.bytes > big[1] {
				big[1] = m.bytes
			}
		}
	}
	if sum != sp.used {
		return fmt.Errorf("%d bytes of pieces in memory, counted %d", sum, sp.used)
	}
	if sum-big[0]-big[1] > sp.limit {
		return fmt.Errorf("%d bytes of pieces in memory, more than two pieces over the cap of %d", sum, sp.limit)
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
