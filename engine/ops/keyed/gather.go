package keyed

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/gather"
)

// gatherDirect gathers the referenced rows of in-memory chunks in one pass per column
// (gather.Column), straight into the output's buffers: no per-chunk take, concatenation
// and permutation (what gather does for the types it does not cover). ok is false when
// some column's type is not covered (see gather.Covers). Refs of one chunk's consecutive rows, in order, come out as a zero-copy
// slice of it (a probe side's batch joined one row to one row).
func (s *RowStore) gatherDirect(mem memory.Allocator, refs []RowRef) ([]arrow.Array, bool) {
	n := s.Schema.NumFields()
	for k := 0; k < n; k++ {
		if !gather.Covers(s.Schema.Field(k).Type) {
			return nil, false
		}
	}
	if len(refs) > 0 {
		if c := refs[0].Chunk; c >= 0 {
			first, run := refs[0].Row, true
			for i, r := range refs {
				if r.Chunk != c || r.Row != first+int32(i) {
					run = false
					break
				}
			}
			if run {
				out := make([]arrow.Array, n)
				for k := range out {
					out[k] = array.NewSlice(s.chunks[c].Column(k), int64(first), int64(first)+int64(len(refs)))
				}
				return out, true
			}
		}
	}
	out := make([]arrow.Array, n)
	cols := make([]arrow.Array, len(s.chunks))
	for k := 0; k < n; k++ {
		for c, rec := range s.chunks {
			cols[c] = nil
			if rec != nil {
				cols[c] = rec.Column(k)
			}
		}
		out[k] = gather.Column(mem, s.Schema.Field(k).Type, cols, refs)
	}
	return out, true
}
