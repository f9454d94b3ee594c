package basic

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/runfile"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// SortOp sorts its whole (bounded) input by key expressions with arrow-go's stable
// multi-key sort, and emits it in order when the input ends. As Polars, NaN sorts above
// every number (last ascending, first descending) and nulls go first unless nulls_last.
//
// External sort. With a state backend that spills (state_backend="pebble") and a memory
// cap (state_memory_limit), the rows held count against the cap (keyed.RecordBytes of the
// rows and their evaluated keys): once they exceed half of it (sorting takes a copy),
// they are sorted into a run, written to a file of its own (an Arrow IPC stream in a
// fresh directory of the job's working directory) and released. When the input ends, the
// runs on disk and the rows still in memory are merged, reading each run back a batch at
// a time (a batch is about a sixteenth of the cap; over maxFanIn runs, the first are
// merged into one first), so that memory stays around twice the cap. Ties go to the
// earlier run (runs hold consecutive parts of the input, in order) and, within a run, to
// the earlier row (each run is sorted stably): the result is the stable sort of the
// input. The files are removed as the merge ends, and when the operator closes (after a
// failure or a cancel). Without a spilling backend, the cap is not enforced on a sort,
// as on the other operators.
type SortOp struct {
	runtime.BaseOp
	Keys       []expr.Expr
	Descending []bool
	NullsLast  []bool
	Schema     *arrow.Schema // of the input
	EmitSz     int
	// Local: the sort of one subtask of a parallel sort, whose sorted rows a SortMergeOp
	// merges. Its rows carry their place in the input (seqFields: the batch's Seq, and
	// the row's arrival on the subtask), which is its last sort key, and it ends its
	// output with a SortRunEnd.
	Local   bool
	tc      *runtime.TaskCtx
	rows    *arrow.Schema // of the rows held: Schema, with seqFields when Local
	arrived uint64        // rows so far (Local)
	batches []arrow.RecordBatch
	keys    [][]arrow.Array // per batch, the evaluated keys (with the seq columns when Local)
	held    int64           // bytes of batches and keys
	limit   int64           // the memory cap when the sort spills, else 0
	runs    *runfile.Files  // the runs written so far
	// mergedRows is the batch size of runs merged from runs: the largest of theirs.
	mergedRows int
}

func (o *SortOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.rows = o.Schema
	if o.Local {
		o.rows = arrow.NewSchema(append(o.Schema.Fields(), seqFields...), nil)
	}
	if cfg := tc.Spill(); cfg.MemoryLimit > 0 && cfg.Backend != "" && state.Spills(cfg.Backend) {
		o.limit = cfg.MemoryLimit
		o.runs = &runfile.Files{Op: "sort", What: "a sorted run", Dir: cfg.Dir, Mem: tc.Eval.Mem, Metrics: spillMetrics(tc)}
	}
	return nil
}

func spillMetrics(tc *runtime.TaskCtx) *runtime.SpillMetrics {
	if tc.Metrics == nil {
		return nil
	}
	return &tc.Metrics.Spill
}

func (o *SortOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	if m.Rec.NumRows() == 0 {
		m.Rec.Release()
		return nil
	}
	rec := m.Rec
	if o.Local && rec.NumCols() == int64(o.Schema.NumFields()) { // (restored rows have them)
		rec = withSeq(o.tc.Eval.Mem, o.rows, rec, m.Seq, o.arrived)
		o.arrived += uint64(rec.NumRows())
	}
	cols, err := o.keysOf(rec)
	if err != nil {
		rec.Release()
		return err
	}
	m.Rec = rec
	o.batches = append(o.batches, m.Rec)
	o.keys = append(o.keys, cols)
	o.addHeld(keyed.RecordBytes(m.Rec) + arraysBytes(cols))
	if o.limit > 0 && o.held > o.limit/2 {
		return o.spillRun()
	}
	return nil
}

func (o *SortOp) addHeld(d int64) {
	o.held += d
	if o.runs != nil && o.runs.Metrics != nil {
		o.runs.Metrics.Resident.Add(d)
	}
}

// arraysBytes is the memory of arrays, as keyed.RecordBytes counts it.
func arraysBytes(cols []arrow.Array) int64 {
	if len(cols) == 0 {
		return 0
	}
	rec := array.NewRecordBatch(keySchema(cols), cols, int64(cols[0].Len()))
	defer rec.Release()
	return keyed.RecordBytes(rec)
}

func keySchema(cols []arrow.Array) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: fmt.Sprintf("k%d", i), Type: c.DataType(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// runBatchRows is how many rows a batch of a run on disk holds: the emitted batch size,
// but at most about a sixteenth of the cap (rows of the average size held), so that the
// merge's batch per run stays small against the cap.
func (o *SortOp) runBatchRows(rows int64) int {
	n := o.EmitSz
	if o.held > 0 && rows > 0 {
		perRow := max(o.held/rows, 1)
		n = min(n, int(max(o.limit/16/perRow, 64)))
	}
	return max(n, 1)
}

// spillRun sorts the rows held into a run on disk and releases them.
func (o *SortOp) spillRun() error {
	rows := int64(0)
	for _, b := range o.batches {
		rows += b.NumRows()
	}
	size := o.runBatchRows(rows)
	o.mergedRows = max(o.mergedRows, size)
	run, err := o.sortHeld()
	if err != nil {
		return err
	}
	defer run.release()
	return o.runs.Write(o.rows, func() (arrow.RecordBatch, error) { return run.next(o.tc.Eval, size) })
}

func (o *SortOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

// keysOf evaluates the sort keys of a batch of rows held (with the seq columns when Local).
func (o *SortOp) keysOf(rec arrow.RecordBatch) ([]arrow.Array, error) {
	cols, err := runtime.EvalColumns(o.tc.Eval, o.Keys, rec)
	if err != nil || !o.Local {
		return cols, err
	}
	for c := o.Schema.NumFields(); c < int(rec.NumCols()); c++ {
		rec.Column(c).Retain()
		cols = append(cols, rec.Column(c))
	}
	return cols, nil
}

// desc and nullsLast of key k (the seq columns: ascending).
func (o *SortOp) desc(k int) bool      { return k < len(o.Descending) && o.Descending[k] }
func (o *SortOp) nullsLast(k int) bool { return k < len(o.NullsLast) && o.NullsLast[k] }

func (o *SortOp) flags() (desc, nullsLast []bool) {
	n := len(o.Keys)
	if o.Local {
		n += len(seqFields)
	}
	desc, nullsLast = make([]bool, n), make([]bool, n)
	for k := range desc {
		desc[k], nullsLast[k] = o.desc(k), o.nullsLast(k)
	}
	return desc, nullsLast
}

func (o *SortOp) Finish(out runtime.Emitter) error {
	if err := o.finish(out); err != nil || !o.Local {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgControl, Ctl: SortRunEnd{}})
}

func (o *SortOp) finish(out runtime.Emitter) error {
	if len(o.batches) == 0 && o.runs.Count() == 0 {
		return nil
	}
	var mem *sortedRows
	if len(o.batches) > 0 {
		var err error
		if mem, err = o.sortHeld(); err != nil {
			return err
		}
		defer mem.release()
	}
	if o.runs.Count() == 0 {
		for {
			rec, err := mem.next(o.tc.Eval, o.EmitSz)
			if err != nil || rec == nil {
				return err
			}
			if err := out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Seq: runtime.SeqUnordered}); err != nil {
				return err
			}
		}
	}
	defer o.runs.Remove()
	// The merge holds a batch per run: over maxFanIn runs, the first are merged into one
	// first (it holds the earliest rows, so ties still go to the earlier run).
	extra := 0
	if mem != nil {
		extra = 1
	}
	for o.runs.Count()+extra > maxFanIn {
		if err := o.mergeFirstRuns(min(maxFanIn, o.runs.Count())); err != nil {
			return err
		}
	}
	srcs, err := o.runs.Open()
	if err != nil {
		return err
	}
	if mem != nil {
		size := o.runBatchRows(mem.n)
		srcs = append(srcs, func() (arrow.RecordBatch, error) { return mem.next(o.tc.Eval, size) })
	}
	desc, nullsLast := o.flags()
	mg := &merger{ec: o.tc.Eval, keysOf: o.keysOf, desc: desc, nullsLast: nullsLast, out: o.rows, size: o.EmitSz,
		emit: func(rec arrow.RecordBatch) error {
			return out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Seq: runtime.SeqUnordered})
		}}
	defer mg.release()
	for _, src := range srcs {
		mg.add(pulled(src))
	}
	return mg.run()
}

// maxFanIn is how many runs a merge reads at once: a run's batch holds about a sixteenth
// of the cap (runBatchRows), so the merge's batches stay around the cap.
const maxFanIn = 16

// mergeFirstRuns merges the first k runs on disk into one.
func (o *SortOp) mergeFirstRuns(k int) error {
	srcs, err := o.runs.OpenFirst(k)
	if err != nil {
		return err
	}
	desc, nullsLast := o.flags()
	mg := &merger{ec: o.tc.Eval, keysOf: o.keysOf, desc: desc, nullsLast: nullsLast, out: o.rows, size: o.mergedRows}
	defer mg.release()
	for _, src := range srcs {
		mg.add(pulled(src))
	}
	err = o.runs.WriteFrom(o.rows, func(add func(arrow.RecordBatch) error) error {
		mg.emit = add
		return mg.run()
	})
	if err != nil {
		return err
	}
	o.runs.ReplaceFirst(k)
	return nil
}

// sortedRows are rows in input order (columns concatenated) and the indices that sort
// them (nil: the input order is the order), taken a batch at a time.
type sortedRows struct {
	cols []arrow.Array
	idx  arrow.Array
	n    int64
	at   int64
	sch  *arrow.Schema
}

// next is the next batch of at most size sorted rows, or nil after the last.
func (s *sortedRows) next(ec *expr.EvalCtx, size int) (arrow.RecordBatch, error) {
	if s.at >= s.n {
		return nil, nil
	}
	lo, hi := s.at, min(s.at+int64(size), s.n)
	s.at = hi
	cols := make([]arrow.Array, len(s.cols))
	if s.idx == nil {
		for c, col := range s.cols {
			cols[c] = array.NewSlice(col, lo, hi)
		}
	} else {
		part := array.NewSlice(s.idx, lo, hi)
		defer part.Release()
		var err error
		if cols, err = takeByIndex(ec, s.cols, part); err != nil {
			return nil, err
		}
	}
	defer runtime.ReleaseAll(cols)
	return array.NewRecordBatch(s.sch, cols, hi-lo), nil
}

// takeByIndex is the rows of cols at the indexes of idx (an integer array without
// nulls): through the engine's gather (runtime.TakeArrays), which covers fixed-width types
// arrow-go's take has no kernel for (month_day_nano intervals), when the indexes fit in
// int32 (converted once for all columns); else through arrow-go's take.
func takeByIndex(ec *expr.EvalCtx, cols []arrow.Array, idx arrow.Array) ([]arrow.Array, error) {
	rows := make([]int32, idx.Len())
	fits := true
	at := func(i int, v int64) {
		if v < 0 || v > math.MaxInt32 {
			fits = false
		}
		rows[i] = int32(v)
	}
	switch x := idx.(type) {
	case *array.Int32:
		copy(rows, x.Int32Values())
	case *array.Uint32:
		for i, v := range x.Uint32Values() {
			at(i, int64(v))
		}
	case *array.Int64:
		for i, v := range x.Int64Values() {
			at(i, v)
		}
	case *array.Uint64:
		for i, v := range x.Uint64Values() {
			at(i, int64(min(v, math.MaxInt64)))
		}
	default:
		fits = false
	}
	if fits {
		return runtime.TakeArrays(ec, cols, rows)
	}
	out := make([]arrow.Array, len(cols))
	for c, col := range cols {
		var err error
		if out[c], err = compute.TakeArray(ec.Ctx, col, idx); err != nil {
			runtime.ReleaseAll(out[:c])
			return nil, err
		}
	}
	return out, nil
}

func (s *sortedRows) release() {
	runtime.ReleaseAll(s.cols)
	if s.idx != nil {
		s.idx.Release()
	}
	s.cols, s.idx = nil, nil
}

// sortHeld sorts the rows held (it releases them): their columns concatenated, in input
// order, with the indices that sort them stably.
func (o *SortOp) sortHeld() (*sortedRows, error) {
	defer o.release()
	ctx, mem := o.tc.Eval.Ctx, o.tc.Eval.Mem
	concat := func(parts []arrow.Array) (arrow.Array, error) {
		if len(parts) == 1 {
			parts[0].Retain()
			return parts[0], nil
		}
		return array.Concatenate(parts, mem)
	}
	res := &sortedRows{sch: o.rows}
	var keyCols []arrow.Array
	defer func() { runtime.ReleaseAll(keyCols) }()
	var fields []arrow.Field
	var sortKeys []compute.SortKey
	for k := range o.keys[0] {
		parts := make([]arrow.Array, len(o.keys))
		for i := range o.keys {
			parts[i] = o.keys[i][k]
		}
		col, err := concat(parts)
		if err != nil {
			return nil, err
		}
		if col.DataType().ID() == arrow.NULL { // every value null: every row ties on this key
			col.Release()
			continue
		}
		order, nulls := compute.SortOrderAscending, compute.SortNullsAtStart
		if o.desc(k) {
			order = compute.SortOrderDescending
		}
		if o.nullsLast(k) {
			nulls = compute.SortNullsAtEnd
		}
		if expr.IsFloat(col.DataType()) {
			// NaN above every number: sort first by "is NaN" in the key's direction.
			nan, err := nanFlags(mem, col)
			if err != nil {
				col.Release()
				return nil, err
			}
			sortKeys = append(sortKeys, compute.SortKey{ColumnIndex: len(keyCols), Order: order, NullPlacement: nulls})
			keyCols = append(keyCols, nan)
			fields = append(fields, arrow.Field{Name: "nan", Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
		}
		sortKeys = append(sortKeys, compute.SortKey{ColumnIndex: len(keyCols), Order: order, NullPlacement: nulls})
		keyCols = append(keyCols, col)
		fields = append(fields, arrow.Field{Name: "k", Type: col.DataType(), Nullable: true})
	}
	// The key columns are built: the evaluated keys of each batch go now, before the
	// batches' columns are concatenated.
	for _, k := range o.keys {
		runtime.ReleaseAll(k)
	}
	o.keys = nil
	for _, b := range o.batches {
		res.n += b.NumRows()
	}
	for c := 0; c < o.rows.NumFields(); c++ {
		parts := make([]arrow.Array, len(o.batches))
		for i, b := range o.batches {
			parts[i] = b.Column(c)
		}
		all, err := concat(parts)
		if err != nil {
			res.release()
			return nil, err
		}
		res.cols = append(res.cols, all)
	}
	if len(keyCols) == 0 { // every key is of the null type: the rows keep their input order
		return res, nil
	}
	if idx, ok := sortPermutation(mem, keyCols, sortKeys, int(res.n)); ok {
		res.idx = idx
		return res, nil
	}
	keyRec := array.NewRecordBatch(arrow.NewSchema(fields, nil), keyCols, res.n)
	idx, err := sortIndices(ctx, mem, keyRec, sortKeys)
	keyRec.Release()
	if err != nil {
		res.release()
		return nil, err
	}
	res.idx = idx
	return res, nil
}

func (o *SortOp) release() {
	for _, b := range o.batches {
		b.Release()
	}
	for _, k := range o.keys {
		runtime.ReleaseAll(k)
	}
	o.batches, o.keys = nil, nil
	o.addHeld(-o.held)
}

func (o *SortOp) Close() {
	o.release()
	o.runs.Remove()
}

// sortIndices is compute.SortIndicesRecordBatch, freeing the scratch buffers the kernel
// allocates and never frees (arrow-go v18.8.0: the temporary index buffers of a sort with
// several keys, or of a key with nulls): the kernel allocates through a scope that
// records what is outstanding, and what is still outstanding once it has returned, other
// than the result's buffer, is freed. With a kernel that frees its scratch itself, nothing
// is left to free.
func sortIndices(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, keys []compute.SortKey) (arrow.Array, error) {
	sc := &allocScope{mem: mem, live: map[*byte][]byte{}}
	idx, err := compute.SortIndicesRecordBatch(compute.WithAllocator(ctx, sc), rec, keys)
	var keep *byte
	if err == nil {
		for _, b := range idx.Data().Buffers() {
			if b != nil && b.Cap() > 0 {
				keep = unsafe.SliceData(b.Buf())
			}
		}
	}
	sc.freeAllBut(keep)
	return idx, err
}

// allocScope is an allocator that records the allocations it passes on and not yet freed.
type allocScope struct {
	mem  memory.Allocator
	mu   sync.Mutex
	live map[*byte][]byte
}

func (a *allocScope) Allocate(size int) []byte {
	b := a.mem.Allocate(size)
	a.track(nil, b)
	return b
}

func (a *allocScope) Reallocate(size int, old []byte) []byte {
	b := a.mem.Reallocate(size, old)
	a.track(old, b)
	return b
}

func (a *allocScope) Free(b []byte) {
	a.track(b, nil)
	a.mem.Free(b)
}

func (a *allocScope) track(gone, added []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cap(gone) > 0 {
		delete(a.live, unsafe.SliceData(gone[:1]))
	}
	if cap(added) > 0 {
		a.live[unsafe.SliceData(added[:1])] = added
	}
}

// freeAllBut frees every allocation still outstanding but the one starting at keep.
func (a *allocScope) freeAllBut(keep *byte) {
	a.mu.Lock()
	var free [][]byte
	for p, b := range a.live {
		if p != keep {
			free = append(free, b)
			delete(a.live, p)
		}
	}
	a.mu.Unlock()
	for _, b := range free {
		a.mem.Free(b)
	}
}

// nanFlags is true where a float is NaN, null where it is null.
func nanFlags(mem interface {
	Allocate(int) []byte
	Reallocate(int, []byte) []byte
	Free([]byte)
}, col arrow.Array) (arrow.Array, error) {
	vals, err := expr.AsFloat64(col)
	if err != nil {
		return nil, err
	}
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.Reserve(len(vals))
	for i, v := range vals {
		if col.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		b.UnsafeAppend(math.IsNaN(v))
	}
	return b.NewArray(), nil
}

// TailOp keeps the last n rows of its (bounded, ordered) input and emits them when it ends.
type TailOp struct {
	runtime.BaseOp
	N int64
	// Length, when not negative, keeps the first Length of the last N places (those
	// before the first row empty when there are fewer rows), as Polars' slice(-N, Length).
	Length int64
	Schema *arrow.Schema
	tc     *runtime.TaskCtx
	kept   []arrow.RecordBatch
	seqs   []runtime.Seq // of kept: the last rows go out in their input order
	rows   int64
}

func (o *TailOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *TailOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	o.kept = append(o.kept, m.Rec)
	o.seqs = append(o.seqs, m.Seq)
	o.rows += m.Rec.NumRows()
	// Drop whole batches no longer needed for the last n rows.
	for len(o.kept) > 0 && o.rows-o.kept[0].NumRows() >= o.N {
		o.rows -= o.kept[0].NumRows()
		o.kept[0].Release()
		o.kept, o.seqs = o.kept[1:], o.seqs[1:]
	}
	return nil
}

func (o *TailOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *TailOp) Finish(out runtime.Emitter) error {
	skip := o.rows - o.N
	kept := o.kept
	o.kept = nil
	emit := o.rows - max(skip, 0) // the rows of the last N places
	if o.Length >= 0 {
		emit = max(min(emit, o.Length-(o.N-emit)), 0)
	}
	for i, b := range kept {
		if emit <= 0 {
			b.Release()
			continue
		}
		if skip >= b.NumRows() {
			skip -= b.NumRows()
			b.Release()
			continue
		}
		if skip > 0 {
			s := b.NewSlice(skip, b.NumRows())
			b.Release()
			b, skip = s, 0
		}
		if n := b.NumRows(); n > emit {
			s := b.NewSlice(0, emit)
			b.Release()
			b = s
		}
		emit -= b.NumRows()
		if err := out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: b, Seq: o.seqs[i]}); err != nil {
			for _, r := range kept[i+1:] {
				r.Release()
			}
			return err
		}
	}
	return nil
}

func (o *TailOp) Close() {
	for _, b := range o.kept {
		b.Release()
	}
	o.kept = nil
}

// ExplodeOp turns each element of list columns into a row, repeating the other columns
// (as Polars' explode): a null list gives one row with null (none with DropNulls), an
// empty list no row (one null row with EmptyAsNull); exploded together, the lists of a
// row must have equal lengths.
type ExplodeOp struct {
	runtime.BaseOp
	Cols        []int // the list columns, by index
	Schema      *arrow.Schema
	Name        string
	EmptyAsNull bool
	DropNulls   bool
	tc          *runtime.TaskCtx
}

func (o *ExplodeOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *ExplodeOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	ctx, mem := o.tc.Eval.Ctx, o.tc.Eval.Mem
	n := int(rec.NumRows())
	lists := make([]array.ListLike, len(o.Cols))
	for i, c := range o.Cols {
		lists[i] = rec.Column(c).(array.ListLike)
	}
	rowIdx := array.NewInt64Builder(mem)
	defer rowIdx.Release()
	valIdx := make([]*array.Int64Builder, len(lists))
	for i := range valIdx {
		valIdx[i] = array.NewInt64Builder(mem)
		defer valIdx[i].Release()
	}
	for r := 0; r < n; r++ {
		length := -1 // -1: null
		for i, l := range lists {
			ln := -1
			if l.IsValid(r) {
				s, e := l.ValueOffsets(r)
				ln = int(e - s)
			}
			if i > 0 && ln != length && !(ln <= 0 && length <= 0) {
				return rberr.New(rberr.Data, "%s: row %d has lists of different lengths (%d and %d) in the exploded columns", o.Name, r, max(length, 0), max(ln, 0))
			}
			length = max(length, ln)
		}
		if length == 0 && !o.EmptyAsNull || length < 0 && o.DropNulls {
			continue
		}
		if length <= 0 {
			rowIdx.Append(int64(r))
			for i := range lists {
				valIdx[i].AppendNull()
			}
			continue
		}
		for k := 0; k < length; k++ {
			rowIdx.Append(int64(r))
			for i, l := range lists {
				s, _ := l.ValueOffsets(r)
				valIdx[i].Append(s + int64(k))
			}
		}
	}
	ri := rowIdx.NewArray()
	defer ri.Release()
	cols := make([]arrow.Array, rec.NumCols())
	defer func() { runtime.ReleaseAll(cols) }()
	li := 0
	for c := range cols {
		var err error
		if li < len(o.Cols) && o.Cols[li] == c {
			vi := valIdx[li].NewArray()
			cols[c], err = compute.TakeArray(ctx, lists[li].ListValues(), vi)
			vi.Release()
			li++
		} else {
			cols[c], err = compute.TakeArray(ctx, rec.Column(c), ri)
		}
		if err != nil {
			return err
		}
	}
	res := array.NewRecordBatch(o.Schema, cols, int64(ri.Len()))
	return out.Emit(m.With(res))
}

// UniqueOp keeps one row per distinct key, as Polars' unique: the first or last row of each
// key in input order ("any" is the first), or only the rows whose key occurs once ("none").
// It runs on one subtask after the input is put back in order. "first" and "any" emit a
// row when its key is first seen, so they also run over unbounded input; "last" and "none"
// emit when the input ends.
type UniqueOp struct {
	runtime.BaseOp
	Keys     []expr.Expr
	KeyTypes []arrow.DataType
	Keep     string
	Schema   *arrow.Schema
	EmitSz   int
	tc       *runtime.TaskCtx
	grouper  *keyed.Grouper
	store    keyed.RowStore
	pick     []keyed.RowRef // per key id: the row kept
	count    []int64
	ids      []uint32
}

func (o *UniqueOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.grouper = keyed.NewGrouper(o.KeyTypes)
	o.store.Init(o.Schema, keyed.NewSpill(tc, "unique"))
	return nil
}

func (o *UniqueOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *UniqueOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	cols, err := runtime.EvalColumns(o.tc.Eval, o.Keys, rec)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(cols)
	o.ids = expr.Grow(o.ids, n)
	if err := o.grouper.Consume(o.tc.Eval.Ctx, cols, o.ids[:n]); err != nil {
		return err
	}
	streaming := o.Keep == "first" || o.Keep == "any"
	var take []int64
	var chunk int32 = -1
	for i, id := range o.ids[:n] {
		if int(id) >= len(o.pick) {
			o.pick = append(o.pick, keyed.RowRef{Chunk: -1})
			o.count = append(o.count, 0)
		}
		o.count[id]++
		switch {
		case streaming && o.count[id] == 1:
			take = append(take, int64(i))
		case !streaming && (o.Keep == "last" || o.count[id] == 1):
			if chunk < 0 {
				if chunk, err = o.store.Add(rec); err != nil {
					return err
				}
				o.store.Live[chunk] = 0
			}
			if old := o.pick[id]; old.Chunk == chunk {
				// A row of this batch replaced by a later one: the chunk is settled
				// below, not released while its count passes through zero.
				o.store.Live[chunk]--
			} else if old.Chunk >= 0 {
				o.store.Drop(old)
			}
			o.pick[id] = keyed.RowRef{Chunk: chunk, Row: int32(i)}
			o.store.Live[chunk]++
		}
	}
	if chunk >= 0 {
		o.store.Settle(chunk)
	}
	if len(take) == 0 {
		return nil
	}
	rows := make([]int32, len(take))
	for i, r := range take {
		rows[i] = int32(r) // rows of one batch
	}
	res, err := runtime.TakeArrays(o.tc.Eval, rec.Columns(), rows)
	if err != nil {
		return err
	}
	defer func() { runtime.ReleaseAll(res) }()
	return out.Emit(m.With(array.NewRecordBatch(o.Schema, res, int64(len(take)))))
}

func (o *UniqueOp) Finish(out runtime.Emitter) error {
	if o.Keep == "first" || o.Keep == "any" {
		return nil
	}
	var refs []keyed.RowRef
	for id, r := range o.pick {
		if r.Chunk >= 0 && (o.Keep == "last" || o.count[id] == 1) {
			refs = append(refs, r)
		}
	}
	// In input order: by chunk, then row.
	slices.SortFunc(refs, func(a, b keyed.RowRef) int {
		if a.Chunk != b.Chunk {
			return int(a.Chunk - b.Chunk)
		}
		return int(a.Row - b.Row)
	})
	if len(refs) == 0 {
		return nil
	}
	// In chunk order, which is input order; with spilling, a part at a time.
	return o.store.GatherEach(o.tc.Eval.Ctx, refs, true, func(at []int32, cols []arrow.Array) error {
		n := len(refs)
		if at != nil {
			n = len(at)
		}
		return runtime.EmitSliced(array.NewRecordBatch(o.Schema, cols, int64(n)), o.EmitSz, out)
	})
}

func (o *UniqueOp) Close() {
	o.store.Release()
	if o.grouper != nil {
		o.grouper.Free()
	}
}
