package keyed

import "fmt"

// CheckAccounts verifies the Spill's bookkeeping: chunks marked in memory are the ones
// held, their sizes add up to what the cap is checked against, and at most the two
// chunks used last exceed the cap.
func (sp *Spill) CheckAccounts() error {
	var sum int64
	var big [2]int64 // the two largest chunks in memory
	for _, st := range sp.states {
		for c, m := range st.meta {
			if m.resident != (st.rs.chunks[c] != nil) {
				return fmt.Errorf("chunk %d: in memory %v, held %v", c, m.resident, st.rs.chunks[c] != nil)
			}
			if m.resident {
				sum += m.bytes
				if m.bytes > big[0] {
					big[0], big[1] = m.bytes, big[0]
				} else if m.bytes > big[1] {
					big[1] = m.bytes
				}
			}
		}
	}
	if sum != sp.used {
		return fmt.Errorf("%d bytes of chunks in memory, counted %d", sum, sp.used)
	}
	if sum-big[0]-big[1] > sp.limit {
		return fmt.Errorf("%d bytes of chunks in memory, more than two chunks over the cap of %d", sum, sp.limit)
	}
	return nil
}
