package keyed

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/internal/gather"
)

// gatherDirect gathers the referenced rows of in-memory chunks in one pass per column
// (gather.Column), straight into the output's buffers: no per-chunk take, concatenation
// and permutation (what gather does for the types it does not cover). ok is false when
// some column's type is not covered (see gather.Covers). Refs of one chunk's consecutive rows, in order, come out as a zero-copy
// slice of it (a probe side's batch joined one row to one row).
func (s *RowStore) gatherDirect(mem memory.Allocator, refs []RowRef) ([]arrow.Array, bool) {
	return s.gatherDirectSome(mem, refs, nil)
}

// gatherDirectSome is gatherDirect of the columns k with want[k] (want nil: all); the
// others are nil.
func (s *RowStore) gatherDirectSome(mem memory.Allocator, refs []RowRef, want []bool) ([]arrow.Array, bool) {
	n := s.Schema.NumFields()
	for k := 0; k < n; k++ {
		if want != nil && !want[k] {
			continue
		}
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
					if want != nil && !want[k] {
						continue
					}
					out[k] = array.NewSlice(s.chunks[c].Column(k), int64(first), int64(first)+int64(len(refs)))
				}
				return out, true
			}
		}
	}
	out := make([]arrow.Array, n)
	cols := make([]arrow.Array, len(s.chunks))
	for k := 0; k < n; k++ {
		if want != nil && !want[k] {
			continue
		}
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

// GatherSome gathers the referenced rows of the columns k with want[k] (as Gather), the
// others nil: what a join condition reads of a pair's rows.
func (s *RowStore) GatherSome(ctx context.Context, refs []RowRef, want []bool) ([]arrow.Array, error) {
	if s.sp == nil {
		if out, ok := s.gatherDirectSome(compute.GetAllocator(ctx), refs, want); ok {
			return out, nil
		}
	}
	out, err := s.Gather(ctx, refs)
	if err != nil {
		return nil, err
	}
	for k := range out {
		if !want[k] {
			out[k].Release()
			out[k] = nil
		}
	}
	return out, nil
}
