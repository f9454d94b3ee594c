package keyed

import (
	"context"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/internal/gather"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// RowRef points at one row of a rowStore: chunk and row within it. A negative chunk means
// "no row" (a null row in a left outer join).
type RowRef = gather.Ref

// RowStore keeps batches that operators must hold on to (join sides, top-N candidates)
// and gathers rows from them by reference, a chunk at a time.
//
// A store given a Spill (Init) keeps at most the spill's memory cap of rows in memory,
// shared with the other stores of its operator subtask: the pieces of chunks used longest
// ago are written to the spill store (Arrow IPC) and read back when used (spill.go).
// Without one, every chunk stays in memory and nothing else is done. A store must not be
// copied once it holds chunks.
type RowStore struct {
	Schema *arrow.Schema
	Live   []int // rows still referenced per chunk; a chunk is released at zero
	chunks []arrow.RecordBatch
	sp     *spillState // nil: everything stays in memory
}

// Init sets the schema of the rows and, if sp is not nil, lets the store spill within
// sp's memory cap.
func (s *RowStore) Init(schema *arrow.Schema, sp *Spill) {
	s.Schema = schema
	if sp != nil {
		s.sp = sp.register(s)
	}
}

// Add keeps a batch (retaining it) and returns its chunk number. With spilling, it may
// first write colder chunks to disk: an error then names the operator.
func (s *RowStore) Add(rec arrow.RecordBatch) (int32, error) {
	s.Live = append(s.Live, int(rec.NumRows()))
	if s.sp != nil {
		return s.sp.add(rec)
	}
	rec.Retain()
	s.chunks = append(s.chunks, rec)
	return int32(len(s.chunks) - 1), nil
}

// Drop forgets one row; the chunk is released when none of its rows is referenced.
func (s *RowStore) Drop(r RowRef) {
	s.Live[r.Chunk]--
	if s.Live[r.Chunk] == 0 {
		if s.sp != nil {
			s.sp.free(r.Chunk)
		} else if c := s.chunks[r.Chunk]; c != nil {
			c.Release()
			s.chunks[r.Chunk] = nil
		}
	}
}

// Settle releases chunk if none of its rows is referenced: an operator that added a batch
// and then set Live[chunk] to the rows it kept of it (possibly none) settles it.
func (s *RowStore) Settle(chunk int32) {
	if s.Live[chunk] == 0 {
		s.Live[chunk] = 1
		s.Drop(RowRef{Chunk: chunk})
	}
}

// Release frees every chunk (and, with spilling, the store's share of the spill store,
// which is closed with the last store of its operator subtask).
func (s *RowStore) Release() {
	for i, c := range s.chunks {
		if c != nil {
			c.Release()
			s.chunks[i] = nil
		}
	}
	if s.sp != nil {
		s.sp.release()
		s.sp = nil
	}
}

// Row returns a batch holding the referenced row and its index there. With spilling the
// batch may be read back from disk, and it stays valid only until the store is used
// again, except that the batches of the last two rows got are valid together (to
// compare them).
func (s *RowStore) Row(r RowRef) (arrow.RecordBatch, int, error) {
	if s.sp == nil {
		return s.chunks[r.Chunk], int(r.Row), nil
	}
	return s.sp.row(r)
}

// CompareRows compares the rows a and b as expr.CompareRows does. With spilling, a chunk
// that cannot be read back makes it return 0 and Err the error: callers that sort with it
// check Err afterwards.
func (s *RowStore) CompareRows(a, b RowRef) int {
	if s.sp == nil {
		return expr.CompareRows(s.chunks[a.Chunk], int(a.Row), s.chunks[b.Chunk], int(b.Row))
	}
	ra, i, err := s.sp.row(a)
	if err != nil {
		return 0
	}
	rb, j, err := s.sp.row(b)
	if err != nil {
		return 0
	}
	return expr.CompareRows(ra, i, rb, j)
}

// Err is the error that stopped the store from spilling or reading back a chunk, if any
// (every later call that can fail fails with it).
func (s *RowStore) Err() error {
	if s.sp == nil {
		return nil
	}
	return s.sp.sp.err
}

// SpillStats returns the counters of the Spill the store shares (zero without spilling).
func (s *RowStore) SpillStats() SpillStats {
	if s.sp == nil {
		return SpillStats{}
	}
	return s.sp.sp.Stats()
}

// AvgRowBytes is the average memory of the rows added to a spilling store (0 without
// spilling, or before any row).
func (s *RowStore) AvgRowBytes() int64 {
	if s.sp == nil || s.sp.addedRows == 0 {
		return 0
	}
	return max(s.sp.addedBytes/s.sp.addedRows, 1)
}

// HeldRows is the number of rows in the chunks the store holds (referenced or not).
func (s *RowStore) HeldRows() int {
	if s.sp != nil {
		return s.sp.heldRows()
	}
	n := 0
	for _, c := range s.chunks {
		if c != nil {
			n += int(c.NumRows())
		}
	}
	return n
}

// Gather returns the columns of the referenced rows, in order (nulls for negative refs).
// With spilling, the pieces it reads are read back from disk as needed, each once.
func (s *RowStore) Gather(ctx context.Context, refs []RowRef) ([]arrow.Array, error) {
	if s.sp == nil {
		return s.gather(ctx, refs, nil)
	}
	prefs := make([]RowRef, len(refs)) // (piece, row in it)
	for i, r := range refs {
		if r.Chunk < 0 {
			prefs[i] = r
			continue
		}
		p, row := s.sp.piece(r.Chunk, r.Row)
		prefs[i] = RowRef{Chunk: p, Row: row}
	}
	return s.gather(ctx, prefs, s.sp.get)
}

// scan gathers as Gather does, but without making the spilled pieces it reads back
// count as recently used: a bulk read (a checkpoint, a store's compaction, an operator's
// final output) does not push the pieces in use out of memory. A piece read back is
// released once its rows are taken.
func (s *RowStore) scan(ctx context.Context, refs []RowRef) ([]arrow.Array, error) {
	prefs := make([]RowRef, len(refs))
	for i, r := range refs {
		if r.Chunk < 0 {
			prefs[i] = r
			continue
		}
		p, row := s.sp.piece(r.Chunk, r.Row)
		prefs[i] = RowRef{Chunk: p, Row: row}
	}
	var temp arrow.RecordBatch // the last piece read back
	defer func() {
		if temp != nil {
			temp.Release()
		}
	}()
	return s.gather(ctx, prefs, func(p int32) (arrow.RecordBatch, error) {
		if temp != nil {
			temp.Release()
			temp = nil
		}
		rec, fresh, err := s.sp.peek(p)
		if fresh {
			temp = rec
		}
		return rec, err
	})
}

// gather takes the referenced rows from the chunks (get nil) or from the batches get
// returns.
func (s *RowStore) gather(ctx context.Context, refs []RowRef, get func(int32) (arrow.RecordBatch, error)) ([]arrow.Array, error) {
	mem := compute.GetAllocator(ctx)
	if get == nil {
		if out, ok := s.gatherDirect(mem, refs); ok {
			return out, nil
		}
	}
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
	release := func() {
		for _, p := range parts {
			runtime.ReleaseAll(p)
		}
	}
	offset := 0
	for _, c := range order {
		rows := byChunk[c]
		var rec arrow.RecordBatch
		if get == nil {
			rec = s.chunks[c]
		} else {
			var err error
			if rec, err = get(c); err != nil {
				release()
				return nil, err
			}
		}
		idx := int32Array(mem, rows)
		for k := 0; k < n; k++ {
			t, err := compute.TakeArray(ctx, rec.Column(k), idx)
			if err != nil {
				idx.Release()
				release()
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
				release()
				return nil, err
			}
			all = cat
		}
		runtime.ReleaseAll(parts[k])
		parts[k] = nil
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
			release()
			return nil, err
		}
		out[k] = t
	}
	return out, nil
}

// GatherEach gathers the referenced rows a part at a time and calls fn with each part:
// the positions in refs of its rows (nil: all of refs, in order) and their columns, which
// GatherEach releases after fn returns. Without spilling there is one part, Gather(refs).
// With spilling, a part holds at most a fraction of the memory cap: parts follow refs in
// order if ordered, else the order in which rows are stored (each piece of a chunk is
// then read back once).
func (s *RowStore) GatherEach(ctx context.Context, refs []RowRef, ordered bool, fn func(at []int32, cols []arrow.Array) error) error {
	if len(refs) == 0 {
		return nil
	}
	if s.sp == nil {
		cols, err := s.Gather(ctx, refs)
		if err != nil {
			return err
		}
		defer runtime.ReleaseAll(cols)
		return fn(nil, cols)
	}
	at := make([]int32, len(refs))
	for i := range at {
		at[i] = int32(i)
	}
	if !ordered {
		piece := make([]int32, len(refs))
		for i, r := range refs {
			piece[i] = -1
			if r.Chunk >= 0 {
				piece[i], _ = s.sp.piece(r.Chunk, r.Row)
			}
		}
		sort.SliceStable(at, func(a, b int) bool { return piece[at[a]] < piece[at[b]] })
	}
	var part []RowRef
	for from := 0; from < len(at); {
		end := s.sp.partEnd(refs, at, from)
		part = part[:0]
		for _, i := range at[from:end] {
			part = append(part, refs[i])
		}
		cols, err := s.scan(ctx, part)
		if err != nil {
			return err
		}
		err = fn(at[from:end], cols)
		runtime.ReleaseAll(cols)
		if err != nil {
			return err
		}
		from = end
	}
	return nil
}

// EachBatch calls fn with the referenced rows as batches, in no particular order (for
// writing a set of rows out whole). Without spilling, a chunk whose rows are all
// referenced, each once and in order, is passed as it is (no copy), the rows of other
// chunks are taken a chunk at a time; with spilling, the rows come in parts as
// GatherEach gives them. fn must not keep the batch without retaining it.
func (s *RowStore) EachBatch(ctx context.Context, refs []RowRef, fn func(rec arrow.RecordBatch) error) error {
	if s.sp != nil {
		return s.GatherEach(ctx, refs, false, func(at []int32, cols []arrow.Array) error {
			n := len(refs)
			if at != nil {
				n = len(at)
			}
			rec := array.NewRecordBatch(s.Schema, cols, int64(n))
			defer rec.Release()
			return fn(rec)
		})
	}
	byChunk := map[int32][]int32{}
	var order []int32
	for _, r := range refs {
		if r.Chunk < 0 {
			continue
		}
		if _, ok := byChunk[r.Chunk]; !ok {
			order = append(order, r.Chunk)
		}
		byChunk[r.Chunk] = append(byChunk[r.Chunk], r.Row)
	}
	mem := compute.GetAllocator(ctx)
	for _, c := range order {
		chunk, rows := s.chunks[c], byChunk[c]
		whole := len(rows) == int(chunk.NumRows())
		for i := 0; whole && i < len(rows); i++ {
			whole = rows[i] == int32(i)
		}
		if whole {
			if err := fn(chunk); err != nil {
				return err
			}
			continue
		}
		idx := int32Array(mem, rows)
		cols := make([]arrow.Array, 0, chunk.NumCols())
		var err error
		for _, col := range chunk.Columns() {
			var t arrow.Array
			if t, err = compute.TakeArray(ctx, col, idx); err != nil {
				break
			}
			cols = append(cols, t)
		}
		idx.Release()
		if err == nil {
			rec := array.NewRecordBatch(s.Schema, cols, int64(len(rows)))
			err = fn(rec)
			rec.Release()
		}
		runtime.ReleaseAll(cols)
		if err != nil {
			return err
		}
	}
	return nil
}

// Compact copies the referenced rows (every row still referenced, each once) into new
// chunks and drops them from the old ones, which are then released; it returns the new
// reference of each row. Operators whose chunks hold many rows no longer referenced call
// it to give the memory back.
func (s *RowStore) Compact(ctx context.Context, refs []RowRef) ([]RowRef, error) {
	out := make([]RowRef, len(refs))
	err := s.GatherEach(ctx, refs, false, func(at []int32, cols []arrow.Array) error {
		n := len(refs)
		if at != nil {
			n = len(at)
		}
		rec := array.NewRecordBatch(s.Schema, cols, int64(n))
		defer rec.Release()
		chunk, err := s.Add(rec)
		for i := 0; i < n; i++ {
			j := i
			if at != nil {
				j = int(at[i])
			}
			out[j] = RowRef{Chunk: chunk, Row: int32(i)}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		s.Drop(r)
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

// DropAll forgets every row the store holds (a join forgetting its probe side).
func (s *RowStore) DropAll() {
	for c, live := range s.Live {
		if live > 0 {
			s.Live[c] = 1
			s.Drop(RowRef{Chunk: int32(c)})
		}
	}
}
