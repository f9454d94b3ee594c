package keyed

import (
	"bytes"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Spilling. With a state backend that has a spill store (state_backend="pebble"), the
// row stores of one operator subtask share a Spill: a memory cap for their chunks, and a
// spill store (state.SpillStore, opened at the first spill) in the job's working
// directory. When the chunks in memory exceed the cap, the one used longest ago (over all
// the subtask's stores) is written to the spill store as an Arrow IPC stream and released;
// using it again reads it back (it then counts against the cap again, and a later
// eviction only releases it: the spilled copy stays until the chunk is dropped). The last
// two chunks used are never evicted, so a comparison of two rows can hold both.
//
// What stays in memory: every chunk's bookkeeping (a few dozen bytes), the operators'
// references to rows (RowRef, 8 bytes per row kept, and their indexes), and whatever the
// operators keep outside row stores (groupers, accumulators, windows' panes).

// Spill is the memory cap and spill store shared by the row stores of one operator
// subtask. A nil *Spill keeps everything in memory.
type Spill struct {
	op      string // the operator, for errors
	cfg     runtime.SpillConfig
	limit   int64 // bytes of chunks kept in memory
	used    int64
	tick    uint64
	mem     memory.Allocator
	states  []*spillState // of the stores not released
	store   state.SpillStore
	nextKey uint64
	buf     bytes.Buffer
	err     error // once set, every call that can fail fails with it
	stats   SpillStats
}

// SpillStats counts what a Spill did.
type SpillStats struct {
	Spilled, SpilledBytes   int64 // chunks written to the spill store
	Reloaded, ReloadedBytes int64 // chunks read back
	Resident                int64 // bytes of chunks in memory now
}

// NewSpill returns the Spill of an operator subtask (op names it in errors), or nil when
// the job keeps state in memory (runtime.TaskCtx.Spill).
func NewSpill(tc *runtime.TaskCtx, op string) *Spill {
	cfg := tc.Spill()
	if cfg.Backend == "" || !state.Spills(cfg.Backend) {
		return nil
	}
	return NewSpillWith(op, cfg, tc.Eval.Mem)
}

// NewSpillWith returns a Spill with the configuration cfg, whose chunks read back are
// allocated from mem.
func NewSpillWith(op string, cfg runtime.SpillConfig, mem memory.Allocator) *Spill {
	return &Spill{op: op, cfg: cfg, limit: max(cfg.MemoryLimit-spillStoreMemory(cfg.MemoryLimit), 0), mem: mem}
}

// spillStoreMemory is the part of a subtask's memory cap given to its spill store's own
// buffers.
func spillStoreMemory(limit int64) int64 {
	return min(max(limit/8, 4<<20), 64<<20)
}

// Stats returns the counters of a Spill (zero for nil).
func (sp *Spill) Stats() SpillStats {
	if sp == nil {
		return SpillStats{}
	}
	st := sp.stats
	st.Resident = sp.used
	return st
}

type spillState struct {
	sp         *Spill
	rs         *RowStore
	meta       []chunkMeta
	head, tail int32 // chunks in memory, most recently used first (-1: none)
}

type chunkMeta struct {
	schema     *arrow.Schema // of the chunk as added
	bytes      int64         // memory the chunk's rows take
	key        uint64        // in the spill store (0: not spilled)
	used       uint64        // when it was last used (Spill.tick)
	rows       int32
	prev, next int32 // in the list of chunks in memory
	resident   bool
	freed      bool
}

func (sp *Spill) register(rs *RowStore) *spillState {
	st := &spillState{sp: sp, rs: rs, head: -1, tail: -1}
	sp.states = append(sp.states, st)
	return st
}

func (sp *Spill) fail(err error) error {
	if sp.err == nil {
		sp.err = err
	}
	return sp.err
}

func (st *spillState) link(c int32) {
	m := &st.meta[c]
	m.prev, m.next = -1, st.head
	if st.head >= 0 {
		st.meta[st.head].prev = c
	}
	st.head = c
	if st.tail < 0 {
		st.tail = c
	}
	m.resident = true
}

func (st *spillState) unlink(c int32) {
	m := &st.meta[c]
	if m.prev >= 0 {
		st.meta[m.prev].next = m.next
	} else {
		st.head = m.next
	}
	if m.next >= 0 {
		st.meta[m.next].prev = m.prev
	} else {
		st.tail = m.prev
	}
	m.prev, m.next = -1, -1
	m.resident = false
}

// touch marks chunk c (in memory) as used now.
func (st *spillState) touch(c int32) {
	st.sp.tick++
	st.meta[c].used = st.sp.tick
	if st.head != c {
		st.unlink(c)
		st.link(c)
	}
}

// added accounts for chunk c, just added, and evicts colder chunks if over the cap.
func (st *spillState) added(c int32, rec arrow.RecordBatch) error {
	sp := st.sp
	st.meta = append(st.meta, chunkMeta{schema: rec.Schema(), bytes: RecordBytes(rec), rows: int32(rec.NumRows()), prev: -1, next: -1})
	sp.used += st.meta[c].bytes
	st.link(c)
	st.touch(c)
	if sp.err != nil {
		return sp.err
	}
	return sp.evict()
}

// evict spills the chunks used longest ago until the chunks in memory fit the cap (or
// only the last two used are left).
func (sp *Spill) evict() error {
	for sp.used > sp.limit {
		var vs *spillState
		var vc int32
		for _, st := range sp.states {
			if st.tail >= 0 && (vs == nil || st.meta[st.tail].used < vs.meta[vc].used) {
				vs, vc = st, st.tail
			}
		}
		if vs == nil || vs.meta[vc].used+2 > sp.tick {
			return nil
		}
		if err := vs.out(vc); err != nil {
			return err
		}
	}
	return nil
}

// out moves chunk c out of memory, writing it to the spill store unless it is there.
func (st *spillState) out(c int32) error {
	sp, m := st.sp, &st.meta[c]
	rec := st.rs.chunks[c]
	if m.key == 0 {
		if sp.store == nil {
			store, err := state.NewSpillStore(sp.cfg.Backend, state.SpillOptions{Dir: sp.cfg.Dir, MemoryLimit: spillStoreMemory(sp.cfg.MemoryLimit)})
			if err != nil {
				return sp.fail(rberr.Wrap(rberr.KindOf(err), err, "%s: cannot spill rows to disk", sp.op))
			}
			sp.store = store
		}
		sp.buf.Reset()
		w := ipc.NewWriter(&sp.buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(sp.mem))
		err := w.Write(rec)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return sp.fail(rberr.Wrap(rberr.Internal, err, "%s: cannot encode rows to spill them", sp.op))
		}
		sp.nextKey++
		if err := sp.store.Put(sp.nextKey, sp.buf.Bytes()); err != nil {
			return sp.fail(rberr.Wrap(rberr.KindOf(err), err, "%s: cannot spill rows to disk", sp.op))
		}
		m.key = sp.nextKey
		sp.stats.Spilled++
		sp.stats.SpilledBytes += int64(sp.buf.Len())
	}
	rec.Release()
	st.rs.chunks[c] = nil
	st.unlink(c)
	sp.used -= m.bytes
	return nil
}

// get returns chunk c, reading it back if it was spilled.
func (st *spillState) get(c int32) (arrow.RecordBatch, error) {
	if rec := st.rs.chunks[c]; rec != nil {
		st.touch(c)
		return rec, nil
	}
	sp, m := st.sp, &st.meta[c]
	if sp.err != nil {
		return nil, sp.err
	}
	if m.key == 0 || m.freed {
		return nil, sp.fail(rberr.New(rberr.Internal, "%s: rows of chunk %d were used after they were released", sp.op, c))
	}
	var rec arrow.RecordBatch
	err := sp.store.Get(m.key, func(v []byte) error {
		var err error
		rec, err = decodeChunk(v, sp.mem, m)
		sp.stats.ReloadedBytes += int64(len(v))
		return err
	})
	if err != nil {
		return nil, sp.fail(rberr.Wrap(rberr.Data, err, "%s: cannot read spilled rows back", sp.op))
	}
	sp.stats.Reloaded++
	st.rs.chunks[c] = rec
	sp.used += m.bytes
	st.link(c)
	st.touch(c)
	if err := sp.evict(); err != nil {
		return nil, err
	}
	return rec, nil
}

// decodeChunk reads a spilled chunk back: one batch of the chunk's schema and rows.
func decodeChunk(v []byte, mem memory.Allocator, m *chunkMeta) (arrow.RecordBatch, error) {
	r, err := ipc.NewReader(bytes.NewReader(v), ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	if !r.Schema().Equal(m.schema) {
		return nil, rberr.New(rberr.Data, "the spilled chunk holds columns %s, not %s", r.Schema(), m.schema)
	}
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, err
		}
		return nil, rberr.New(rberr.Data, "the spilled chunk holds no rows")
	}
	got := r.RecordBatch()
	if got.NumRows() != int64(m.rows) {
		return nil, rberr.New(rberr.Data, "the spilled chunk holds %d rows, not %d", got.NumRows(), m.rows)
	}
	return array.NewRecordBatch(m.schema, got.Columns(), got.NumRows()), nil
}

// free forgets chunk c, none of whose rows is referenced any more.
func (st *spillState) free(c int32) {
	sp, m := st.sp, &st.meta[c]
	if rec := st.rs.chunks[c]; rec != nil {
		rec.Release()
		st.rs.chunks[c] = nil
		st.unlink(c)
		sp.used -= m.bytes
	}
	m.freed = true
	if m.key != 0 {
		if err := sp.store.Delete(m.key); err != nil {
			sp.fail(rberr.Wrap(rberr.KindOf(err), err, "%s: cannot delete spilled rows", sp.op))
		}
		m.key = 0
	}
}

// release unregisters a store whose chunks were released; the last one closes the
// spill store (removing its files).
func (st *spillState) release() {
	sp := st.sp
	for c := range st.meta {
		if st.meta[c].resident {
			sp.used -= st.meta[c].bytes
		}
	}
	st.meta, st.head, st.tail = nil, -1, -1
	for i, o := range sp.states {
		if o == st {
			sp.states = append(sp.states[:i], sp.states[i+1:]...)
			break
		}
	}
	if len(sp.states) == 0 && sp.store != nil {
		_ = sp.store.Close()
		sp.store = nil
	}
}

// heldRows is the number of rows in chunks not freed.
func (st *spillState) heldRows() int {
	n := 0
	for _, m := range st.meta {
		if !m.freed {
			n += int(m.rows)
		}
	}
	return n
}

// partEnd returns where a part of GatherEach that starts at refs[at[from]] ends: a
// part's rows take at most a quarter of the cap (at least 1 MiB, or one row).
func (st *spillState) partEnd(refs []RowRef, at []int32, from int) int {
	budget := max(st.sp.limit/4, 1<<20)
	var size int64
	end := from
	for end < len(at) && end-from < 1<<20 {
		if c := refs[at[end]].Chunk; c >= 0 {
			m := &st.meta[c]
			size += m.bytes / int64(max(m.rows, 1))
		}
		if size > budget && end > from {
			break
		}
		end++
	}
	return end
}

// RecordBytes estimates the memory the rows of rec take: their part of each buffer
// (a slice of a larger batch counts only its rows), dictionaries whole.
func RecordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	n := int64(d.Len())
	var size int64
	bufs := d.Buffers()
	layout := d.DataType().Layout()
	for i, b := range bufs {
		if b == nil || b.Len() == 0 {
			continue
		}
		full := int64(b.Len())
		var part int64
		switch {
		case i >= len(layout.Buffers):
			part = full
		case layout.Buffers[i].Kind == arrow.KindBitmap:
			part = (n + 7) / 8
		case layout.Buffers[i].Kind == arrow.KindFixedWidth:
			part = (n + 1) * int64(layout.Buffers[i].ByteWidth)
		case layout.Buffers[i].Kind == arrow.KindVarWidth:
			part = varWidthBytes(d, full)
		default:
			part = 0
		}
		size += min(part, full)
	}
	for _, ch := range d.Children() {
		cb := dataBytes(ch)
		if d.DataType().ID() == arrow.STRUCT && ch.Len() > 0 {
			cb = cb * min(n, int64(ch.Len())) / int64(ch.Len())
		}
		size += cb
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
			size += dataBytes(dict)
		}
	}
	return size
}

// varWidthBytes is the part of a binary or string array's value buffer its rows use
// (from its offsets); full for other layouts.
func varWidthBytes(d arrow.ArrayData, full int64) int64 {
	bufs := d.Buffers()
	n, off := d.Len(), d.Offset()
	if len(bufs) < 2 || bufs[1] == nil || n == 0 {
		return 0
	}
	switch d.DataType().ID() {
	case arrow.BINARY, arrow.STRING:
		offs := arrow.Int32Traits.CastFromBytes(bufs[1].Bytes())
		if off+n < len(offs) {
			return int64(offs[off+n] - offs[off])
		}
	case arrow.LARGE_BINARY, arrow.LARGE_STRING:
		offs := arrow.Int64Traits.CastFromBytes(bufs[1].Bytes())
		if off+n < len(offs) {
			return offs[off+n] - offs[off]
		}
	}
	return full
}
