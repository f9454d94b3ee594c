package keyed

import (
	"context"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// RowRef points at one row of a rowStore: chunk and row within it. A negative chunk means
// "no row" (a null row in a left outer join).
type RowRef struct {
	Chunk int32
	Row   int32
}

// RowStore keeps batches that operators must hold on to (join sides, top-N candidates)
// and gathers rows from them by reference, a chunk at a time.
type RowStore struct {
	Schema *arrow.Schema
	Chunks []arrow.RecordBatch
	Live   []int // rows still referenced per chunk; a chunk is released at zero
}

// Add keeps a batch (retaining it) and returns its chunk number.
func (s *RowStore) Add(rec arrow.RecordBatch) int32 {
	rec.Retain()
	s.Chunks = append(s.Chunks, rec)
	s.Live = append(s.Live, int(rec.NumRows()))
	return int32(len(s.Chunks) - 1)
}

// Drop forgets one row; the chunk is released when none of its rows is referenced.
func (s *RowStore) Drop(r RowRef) {
	s.Live[r.Chunk]--
	if s.Live[r.Chunk] == 0 && s.Chunks[r.Chunk] != nil {
		s.Chunks[r.Chunk].Release()
		s.Chunks[r.Chunk] = nil
	}
}

func (s *RowStore) Release() {
	for i, c := range s.Chunks {
		if c != nil {
			c.Release()
			s.Chunks[i] = nil
		}
	}
}

// Gather returns the columns of the referenced rows, in order (nulls for negative refs).
func (s *RowStore) Gather(ctx context.Context, refs []RowRef) ([]arrow.Array, error) {
	mem := compute.GetAllocator(ctx)
	n := s.Schema.NumFields()
	byChunk := map[int32][]int32{}
	var order []int32
	for _, r := range refs {
		if r.Chunk >= 0 {
			if _, ok := byChunk[r.Chunk]; !ok {
				order = append(order, r.Chunk)
			}
			byChunk[r.Chunk] = append(byChunk[r.Chunk], r.Row)
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	// Take each chunk's rows, concatenate, then permute into the requested order.
	pos := map[int32]int{} // chunk -> offset of its rows in the concatenation
	parts := make([][]arrow.Array, n)
	offset := 0
	for _, c := range order {
		rows := byChunk[c]
		idx := int32Array(mem, rows)
		for k := 0; k < n; k++ {
			t, err := compute.TakeArray(ctx, s.Chunks[c].Column(k), idx)
			if err != nil {
				idx.Release()
				for _, p := range parts {
					runtime.ReleaseAll(p)
				}
				return nil, err
			}
			parts[k] = append(parts[k], t)
		}
		idx.Release()
		pos[c] = offset
		offset += len(rows)
	}
	next := map[int32]int{}
	perm := array.NewInt32Builder(mem)
	defer perm.Release()
	for _, r := range refs {
		if r.Chunk < 0 {
			perm.AppendNull()
			continue
		}
		perm.Append(int32(pos[r.Chunk] + next[r.Chunk]))
		next[r.Chunk]++
	}
	// refs of one chunk must be gathered in the order they were listed: byChunk kept that.
	pidx := perm.NewArray()
	defer pidx.Release()
	out := make([]arrow.Array, n)
	for k := 0; k < n; k++ {
		var all arrow.Array
		switch len(parts[k]) {
		case 0:
			all = array.MakeArrayOfNull(mem, s.Schema.Field(k).Type, 0)
		case 1:
			all = parts[k][0]
			all.Retain()
		default:
			cat, err := array.Concatenate(parts[k], mem)
			if err != nil {
				runtime.ReleaseAll(out[:k])
				return nil, err
			}
			all = cat
		}
		runtime.ReleaseAll(parts[k])
		if all.Len() == 0 && len(refs) > 0 {
			// only null refs: take from an empty array is not possible
			all.Release()
			out[k] = array.MakeArrayOfNull(mem, s.Schema.Field(k).Type, len(refs))
			continue
		}
		t, err := compute.TakeArray(ctx, all, pidx)
		all.Release()
		if err != nil {
			runtime.ReleaseAll(out[:k])
			return nil, err
		}
		out[k] = t
	}
	return out, nil
}

func int32Array(mem interface {
	Allocate(int) []byte
	Reallocate(int, []byte) []byte
	Free([]byte)
}, vals []int32) arrow.Array {
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}
