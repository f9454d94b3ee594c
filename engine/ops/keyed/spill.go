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
// row stores of one operator subtask share a Spill: a memory cap for the rows they hold,
// and a spill store (state.SpillStore, opened at the first spill) in the job's working
// directory.
//
// A spilling store splits each chunk into pieces of at most pieceBytes: row ranges of the
// batch as added (slices, no copy), which count against the cap together, as the batch
// they share. When the rows in memory exceed the cap, the piece used longest ago (over
// all the subtask's stores) is written to the spill store as an Arrow IPC stream and
// released; the batch is freed once all of its pieces are. Using a spilled piece reads it
// back as a batch of its own (it then counts against the cap by itself, and a later
// eviction only releases it: the spilled copy stays until its chunk is dropped); using a
// piece of a batch some of whose pieces were spilled copies it out of the batch, so that
// a hot piece does not keep a whole cold batch in memory. The two pieces used last are
// never evicted, so a comparison of two rows can hold both.
//
// The cap covers the pieces in memory, the spill store's own buffers (spillStoreMemory:
// Pebble's memtables and block cache are sized from it) and the operator's index of its
// rows (its keys, and references to rows by key), which the operator reports with
// SetIndex: the rows get what the index and the store leave. An index larger than that
// leaves the rows only the two pieces used last; the index itself stays in memory.
//
// What else stays in memory: each piece's bookkeeping (about 64 bytes), and whatever an
// operator keeps outside row stores without reporting it (accumulators, windows' panes).

// Spill is the memory cap and spill store shared by the row stores of one operator
// subtask. A nil *Spill keeps everything in memory.
type Spill struct {
	op         string // the operator, for errors
	cfg        runtime.SpillConfig
	limit      int64        // bytes of pieces and index kept in memory (the cap less the store's)
	storeMem   int64        // the part of the cap given to the spill store
	index      func() int64 // the operator's index (SetIndex), or nil
	indexShown int64        // the index's bytes last added to metrics.Index
	pieceBytes int64
	used       int64
	tick       uint64
	mem        memory.Allocator
	states     []*spillState // of the stores not released
	store      state.SpillStore
	nextKey    uint64
	buf        bytes.Buffer
	err        error // once set, every call that can fail fails with it
	stats      SpillStats
	metrics    *runtime.SpillMetrics // the operator subtask's (job.metrics()), or nil
}

// addUsed changes the bytes of pieces in memory by delta.
func (sp *Spill) addUsed(delta int64) {
	sp.used += delta
	if sp.metrics != nil {
		sp.metrics.Resident.Add(delta)
	}
}

// SpillStats counts what a Spill did.
type SpillStats struct {
	Spilled, SpilledBytes   int64 // pieces written to the spill store
	Reloaded, ReloadedBytes int64 // pieces read back
	Resident                int64 // bytes of pieces in memory now
	Index                   int64 // bytes of the operator's index of its rows (SetIndex)
	Store                   int64 // bytes of the cap given to the spill store's buffers
}

// NewSpill returns the Spill of an operator subtask (op names it in errors), or nil when
// the job keeps state in memory (runtime.TaskCtx.Spill).
func NewSpill(tc *runtime.TaskCtx, op string) *Spill {
	cfg := tc.Spill()
	if cfg.Backend == "" || !state.Spills(cfg.Backend) {
		return nil
	}
	sp := NewSpillWith(op, cfg, tc.Eval.Mem)
	if tc.Metrics != nil {
		sp.metrics = &tc.Metrics.Spill
	}
	return sp
}

// NewSpillWith returns a Spill with the configuration cfg, whose pieces read back are
// allocated from mem.
func NewSpillWith(op string, cfg runtime.SpillConfig, mem memory.Allocator) *Spill {
	store := spillStoreMemory(cfg.MemoryLimit)
	limit := max(cfg.MemoryLimit-store, 0)
	// Pieces small against the cap (the LRU has many to choose from) and against the
	// spill store's write buffer (at least 2 MiB), so that a piece is an ordinary write
	// there.
	piece := min(max(limit/32, 32<<10), 512<<10)
	return &Spill{op: op, cfg: cfg, limit: limit, storeMem: store, pieceBytes: piece, mem: mem}
}

// SetIndex counts the memory of the operator's index of its rows (fn returns its bytes
// now, and must be cheap: it is called whenever rows are added or read back) against the
// memory cap: the rows kept in memory get what the index leaves. Nothing on a nil Spill.
func (sp *Spill) SetIndex(fn func() int64) {
	if sp != nil {
		sp.index = fn
	}
}

// OutputBytes is the memory an operator's output batch built from the rows of its row
// stores may take (a part of the cap, at least 256 KiB): a spilling operator emits rows
// in batches of at most that, so that what it builds to emit, besides its state, stays
// small against the cap. 0 for a nil Spill (no bound).
func (sp *Spill) OutputBytes() int64 {
	if sp == nil {
		return 0
	}
	return max(sp.limit/16, 256<<10)
}

// indexBytes is the memory of the operator's index now (0 without SetIndex).
func (sp *Spill) indexBytes() int64 {
	if sp.index == nil {
		return 0
	}
	return sp.index()
}

// showIndex brings metrics.Index up to date.
func (sp *Spill) showIndex(now int64) {
	if sp.metrics != nil && now != sp.indexShown {
		sp.metrics.Index.Add(now - sp.indexShown)
	}
	sp.indexShown = now
}

// spillStoreMemory is the part of a subtask's memory cap given to its spill store's own
// buffers.
func spillStoreMemory(limit int64) int64 {
	return min(max(limit/8, 2<<20), 64<<20)
}

// Stats returns the counters of a Spill (zero for nil).
func (sp *Spill) Stats() SpillStats {
	if sp == nil {
		return SpillStats{}
	}
	st := sp.stats
	st.Resident = sp.used
	st.Index = sp.indexBytes()
	st.Store = sp.storeMem
	return st
}

type spillState struct {
	sp         *Spill
	rs         *RowStore
	chunks     []chunkInfo
	pieces     []pieceMeta
	recs       []arrow.RecordBatch // of each piece in memory (nil: spilled or freed)
	head, tail int32               // pieces in memory, most recently used first (-1: none)
	addedBytes int64               // of every chunk added (for AvgRowBytes)
	addedRows  int64
}

type chunkInfo struct {
	schema *arrow.Schema // of the chunk as added
	first  int32         // its first piece
	n      int32         // its pieces
	per    int32         // rows per piece (the last may have fewer)
	rows   int32
	// The batch as added: its memory (counted while any piece still shares it), the
	// pieces that do, and whether one of them was spilled.
	bytes   int64
	sharing int32
	spilled bool
	freed   bool
}

type pieceMeta struct {
	bytes      int64  // memory the piece's rows take
	key        uint64 // in the spill store (0: not spilled)
	used       uint64 // when it was last used (Spill.tick)
	rows       int32
	chunk      int32
	prev, next int32 // in the list of pieces in memory
	shared     bool  // in memory as a slice of the chunk's batch (counted in chunkInfo.bytes)
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

func (st *spillState) link(p int32) {
	m := &st.pieces[p]
	m.prev, m.next = -1, st.head
	if st.head >= 0 {
		st.pieces[st.head].prev = p
	}
	st.head = p
	if st.tail < 0 {
		st.tail = p
	}
}

func (st *spillState) unlink(p int32) {
	m := &st.pieces[p]
	if m.prev >= 0 {
		st.pieces[m.prev].next = m.next
	} else {
		st.head = m.next
	}
	if m.next >= 0 {
		st.pieces[m.next].prev = m.prev
	} else {
		st.tail = m.prev
	}
	m.prev, m.next = -1, -1
}

// touch marks piece p (in memory) as used now.
func (st *spillState) touch(p int32) {
	st.sp.tick++
	st.pieces[p].used = st.sp.tick
	if st.head != p {
		st.unlink(p)
		st.link(p)
	}
}

// add keeps rec as a new chunk, in pieces, and evicts colder pieces if over the cap.
func (st *spillState) add(rec arrow.RecordBatch) (int32, error) {
	sp := st.sp
	c := int32(len(st.chunks))
	rows := int32(rec.NumRows())
	size := RecordBytes(rec)
	info := chunkInfo{schema: rec.Schema(), first: int32(len(st.pieces)), n: 1, per: max(rows, 1), rows: rows, bytes: size}
	if size > sp.pieceBytes && rows > 1 {
		info.per = int32(max(int64(rows)*sp.pieceBytes/size, 1))
		info.n = (rows + info.per - 1) / info.per
	}
	info.sharing = info.n
	st.chunks = append(st.chunks, info)
	st.addedBytes += size
	st.addedRows += int64(rows)
	sp.addUsed(size)
	for i := int32(0); i < info.n; i++ {
		piece := rec
		if info.n > 1 {
			piece = rec.NewSlice(int64(i*info.per), int64(min((i+1)*info.per, rows)))
		} else {
			rec.Retain()
		}
		p := int32(len(st.pieces))
		st.pieces = append(st.pieces, pieceMeta{bytes: RecordBytes(piece), rows: int32(piece.NumRows()), chunk: c, prev: -1, next: -1, shared: true})
		st.recs = append(st.recs, piece)
		st.link(p)
		st.touch(p)
	}
	if sp.err != nil {
		return c, sp.err
	}
	return c, sp.evict()
}

// copyRows copies the rows of rec into buffers of their own.
func copyRows(rec arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, rec.NumCols())
	for _, col := range rec.Columns() {
		c, err := array.Concatenate([]arrow.Array{col}, mem)
		if err != nil {
			runtime.ReleaseAll(cols)
			return nil, err
		}
		cols = append(cols, c)
	}
	defer runtime.ReleaseAll(cols)
	return array.NewRecordBatch(rec.Schema(), cols, rec.NumRows()), nil
}

// piece returns the piece holding row r of chunk c, and the row in it.
func (st *spillState) piece(c, r int32) (int32, int32) {
	info := &st.chunks[c]
	i := r / info.per
	return info.first + i, r - i*info.per
}

// evict spills the pieces used longest ago until the pieces in memory and the index fit
// the cap (or only the last two pieces used are left).
func (sp *Spill) evict() error {
	index := sp.indexBytes()
	sp.showIndex(index)
	for sp.used > sp.limit-index {
		var vs *spillState
		var vp int32
		for _, st := range sp.states {
			if st.tail >= 0 && (vs == nil || st.pieces[st.tail].used < vs.pieces[vp].used) {
				vs, vp = st, st.tail
			}
		}
		if vs == nil || vs.pieces[vp].used+2 > sp.tick {
			return nil
		}
		if err := vs.out(vp); err != nil {
			return err
		}
	}
	return nil
}

// drop releases piece p (in memory) and accounts for its memory: its own, or, for the
// last piece sharing its chunk's batch, the batch's.
func (st *spillState) drop(p int32) {
	sp, m := st.sp, &st.pieces[p]
	st.recs[p].Release()
	st.recs[p] = nil
	st.unlink(p)
	if !m.shared {
		sp.addUsed(-m.bytes)
		return
	}
	m.shared = false
	info := &st.chunks[m.chunk]
	if info.sharing--; info.sharing == 0 {
		sp.addUsed(-info.bytes)
	}
}

// out moves piece p out of memory, writing it to the spill store unless it is there.
func (st *spillState) out(p int32) error {
	sp, m := st.sp, &st.pieces[p]
	rec := st.recs[p]
	if m.key == 0 {
		if sp.store == nil {
			store, err := state.NewSpillStore(sp.cfg.Backend, state.SpillOptions{Dir: sp.cfg.Dir, MemoryLimit: sp.storeMem})
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
		if sp.metrics != nil {
			sp.metrics.Written.Add(int64(sp.buf.Len()))
		}
		if sp.buf.Cap() > 4*int(sp.pieceBytes)+(1<<20) {
			sp.buf = bytes.Buffer{} // a batch of one huge row: do not keep its buffer
		}
	}
	if m.shared {
		st.chunks[m.chunk].spilled = true
	}
	st.drop(p)
	return nil
}

// get returns piece p, reading it back if it was spilled.
func (st *spillState) get(p int32) (arrow.RecordBatch, error) {
	if rec := st.recs[p]; rec != nil {
		st.touch(p)
		if m := &st.pieces[p]; m.shared && st.chunks[m.chunk].spilled {
			return st.detach(p)
		}
		return rec, nil
	}
	rec, err := st.load(p)
	if err != nil {
		return nil, err
	}
	sp, m := st.sp, &st.pieces[p]
	st.recs[p] = rec
	sp.addUsed(m.bytes)
	st.link(p)
	st.touch(p)
	if err := sp.evict(); err != nil {
		return nil, err
	}
	return rec, nil
}

// detach copies piece p (in memory, sharing its chunk's batch) into memory of its own,
// so that the batch can be freed once its other pieces are spilled.
func (st *spillState) detach(p int32) (arrow.RecordBatch, error) {
	sp, m := st.sp, &st.pieces[p]
	own, err := copyRows(st.recs[p], sp.mem)
	if err != nil {
		return nil, sp.fail(rberr.Wrap(rberr.Internal, err, "%s: cannot copy rows", sp.op))
	}
	st.drop(p)
	st.recs[p] = own
	sp.addUsed(m.bytes)
	st.link(p)
	st.touch(p)
	if err := sp.evict(); err != nil {
		return nil, err
	}
	return own, nil
}

// peek returns piece p without counting it as used: the piece in memory, or else a copy
// read back (fresh) that the caller releases, which does not count against the cap.
func (st *spillState) peek(p int32) (rec arrow.RecordBatch, fresh bool, err error) {
	if rec := st.recs[p]; rec != nil {
		return rec, false, nil
	}
	rec, err = st.load(p)
	return rec, err == nil, err
}

// row returns the piece holding ref r and the row in it.
func (st *spillState) row(r RowRef) (arrow.RecordBatch, int, error) {
	p, i := st.piece(r.Chunk, r.Row)
	rec, err := st.get(p)
	return rec, int(i), err
}

// load reads spilled piece p back.
func (st *spillState) load(p int32) (arrow.RecordBatch, error) {
	sp, m := st.sp, &st.pieces[p]
	if sp.err != nil {
		return nil, sp.err
	}
	info := &st.chunks[m.chunk]
	if m.key == 0 || info.freed {
		return nil, sp.fail(rberr.New(rberr.Internal, "%s: rows of chunk %d were used after they were released", sp.op, m.chunk))
	}
	var rec arrow.RecordBatch
	before := sp.stats.ReloadedBytes
	err := sp.store.Get(m.key, func(v []byte) error {
		var err error
		rec, err = decodePiece(v, sp.mem, info.schema, m.rows)
		sp.stats.ReloadedBytes += int64(len(v))
		return err
	})
	if err != nil {
		return nil, sp.fail(rberr.Wrap(rberr.Data, err, "%s: cannot read spilled rows back", sp.op))
	}
	sp.stats.Reloaded++
	if sp.metrics != nil {
		sp.metrics.Read.Add(sp.stats.ReloadedBytes - before)
	}
	return rec, nil
}

// decodePiece reads a spilled piece back: one batch of the chunk's schema and rows.
func decodePiece(v []byte, mem memory.Allocator, schema *arrow.Schema, rows int32) (arrow.RecordBatch, error) {
	r, err := ipc.NewReader(bytes.NewReader(v), ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	if !r.Schema().Equal(schema) {
		return nil, rberr.New(rberr.Data, "the spilled rows have columns %s, not %s", r.Schema(), schema)
	}
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, err
		}
		return nil, rberr.New(rberr.Data, "the spilled rows are missing")
	}
	got := r.RecordBatch()
	if got.NumRows() != int64(rows) {
		return nil, rberr.New(rberr.Data, "%d spilled rows, not %d", got.NumRows(), rows)
	}
	return array.NewRecordBatch(schema, got.Columns(), got.NumRows()), nil
}

// free forgets chunk c, none of whose rows is referenced any more.
func (st *spillState) free(c int32) {
	sp, info := st.sp, &st.chunks[c]
	info.freed = true
	for p := info.first; p < info.first+info.n; p++ {
		m := &st.pieces[p]
		if st.recs[p] != nil {
			st.drop(p)
		}
		if m.key != 0 {
			if err := sp.store.Delete(m.key); err != nil {
				sp.fail(rberr.Wrap(rberr.KindOf(err), err, "%s: cannot delete spilled rows", sp.op))
			}
			m.key = 0
		}
	}
}

// release frees every piece in memory and unregisters the store; the last store of the
// Spill closes the spill store (removing its files).
func (st *spillState) release() {
	sp := st.sp
	for p, rec := range st.recs {
		if rec != nil {
			st.drop(int32(p))
		}
	}
	st.recs, st.pieces, st.chunks, st.head, st.tail = nil, nil, nil, -1, -1
	for i, o := range sp.states {
		if o == st {
			sp.states = append(sp.states[:i], sp.states[i+1:]...)
			break
		}
	}
	if len(sp.states) == 0 {
		sp.showIndex(0)
		if sp.store != nil {
			_ = sp.store.Close()
			sp.store = nil
		}
	}
}

// heldRows is the number of rows in chunks not freed.
func (st *spillState) heldRows() int {
	n := 0
	for _, c := range st.chunks {
		if !c.freed {
			n += int(c.rows)
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
		if r := refs[at[end]]; r.Chunk >= 0 {
			p, _ := st.piece(r.Chunk, r.Row)
			m := &st.pieces[p]
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
