package keyed

import (
	"bytes"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Checkpointed operator state. Operators keep their hot state in their own structures
// (groupers, typed accumulator slices, row stores); at a checkpoint they describe it as
// Arrow record batches — one row per group, window, session or buffered input row, with
// the key columns typed as the operator sees them — and this file writes those batches
// into state tables, one Arrow IPC stream per key group, and reads them back.
//
// A batch table (BatchTable) is a state.List table: in each key group, under the empty
// key, a list of Arrow IPC streams (schema message, then record batches) holding that key
// group's rows. Redistribution on restore is by key group, so storing a key group's rows
// together loses nothing, costs one IPC encoding per key group, and keeps every column
// typed (keys with their nulls, window bounds, input rows of any type). A savepoint's
// table is read with any Arrow library: each list element is an IPC stream.

// BatchTable declares a table of Arrow IPC streams, one list per key group.
func BatchTable(name string) state.TableSpec {
	return state.TableSpec{Name: name, Kind: state.List, Key: state.Bytes, Value: state.Bytes, Rows: true}
}

// batchKey is the key every element of a batch table is stored under.
var batchKey = [][]byte{{}}

// KeyGroups returns the key group of every row of the key columns keys (n rows): the
// hash the hash exchange routes by (expr.HashColumns), then state.KeyGroup. With no key
// columns every row is in the key group of hash 0, as the exchange sends such rows.
func KeyGroups(keys []arrow.Array, n, maxPar int) []int {
	hs := make([]uint64, n)
	if len(keys) > 0 {
		expr.HashColumns(keys, hs)
	}
	kgs := make([]int, n)
	for i, h := range hs {
		kgs[i] = state.KeyGroup(h, maxPar)
	}
	return kgs
}

// StateWriter gathers an operator's state rows, of one schema, by key group, and writes
// them to a batch table.
type StateWriter struct {
	Op     string // the operator's name, for errors
	Table  string
	Schema *arrow.Schema
	ec     *expr.EvalCtx
	parts  map[int][]arrow.RecordBatch
}

// NewStateWriter returns a writer of rows of schema into table.
func NewStateWriter(ec *expr.EvalCtx, op, table string, schema *arrow.Schema) *StateWriter {
	return &StateWriter{Op: op, Table: table, Schema: schema, ec: ec, parts: map[int][]arrow.RecordBatch{}}
}

// AddColumns adds n rows given as columns (in the writer's schema); kgs is the key group
// of each row. The writer keeps what it needs; the caller still owns cols.
func (w *StateWriter) AddColumns(cols []arrow.Array, n int, kgs []int) error {
	if n == 0 {
		return nil
	}
	rec := array.NewRecordBatch(w.Schema, cols, int64(n))
	defer rec.Release()
	return w.Add(rec, kgs)
}

// Add adds the rows of rec; kgs is the key group of each row. The caller still owns rec.
func (w *StateWriter) Add(rec arrow.RecordBatch, kgs []int) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	// Order the rows by key group (stably), take them once, then slice per key group.
	idx := make([]int32, n)
	sorted := true
	for i := range idx {
		idx[i] = int32(i)
		sorted = sorted && (i == 0 || kgs[i-1] <= kgs[i])
	}
	byKG := rec
	if !sorted {
		sort.SliceStable(idx, func(a, b int) bool { return kgs[idx[a]] < kgs[idx[b]] })
		var err error
		if byKG, err = runtime.TakeRows(w.ec, rec, idx); err != nil {
			return err
		}
		defer byKG.Release()
	}
	for at := 0; at < n; {
		kg := kgs[idx[at]]
		end := at + 1
		for end < n && kgs[idx[end]] == kg {
			end++
		}
		w.parts[kg] = append(w.parts[kg], byKG.NewSlice(int64(at), int64(end)))
		at = end
	}
	return nil
}

// Write writes every key group's rows into the writer's table of b, as one IPC stream
// per key group, and releases what the writer holds.
func (w *StateWriter) Write(b state.Backend) error {
	defer w.Release()
	t, ok := b.Table(w.Table)
	if !ok {
		return rberr.New(rberr.Internal, "%s: no state table %q to save into", w.Op, w.Table)
	}
	kgs := make([]int, 0, len(w.parts))
	for kg := range w.parts {
		kgs = append(kgs, kg)
	}
	sort.Ints(kgs)
	var buf bytes.Buffer
	for _, kg := range kgs {
		buf.Reset()
		iw := ipc.NewWriter(&buf, ipc.WithSchema(w.Schema), ipc.WithAllocator(w.ec.Mem))
		for _, rec := range w.parts[kg] {
			if err := iw.Write(rec); err != nil {
				_ = iw.Close()
				return rberr.Wrap(rberr.Internal, err, "%s: encoding state table %q", w.Op, w.Table)
			}
		}
		if err := iw.Close(); err != nil {
			return rberr.Wrap(rberr.Internal, err, "%s: encoding state table %q", w.Op, w.Table)
		}
		if err := b.Append(t, kg, batchKey, [][]byte{buf.Bytes()}); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: saving state table %q", w.Op, w.Table)
		}
	}
	return nil
}

// Release frees the rows the writer holds.
func (w *StateWriter) Release() {
	for _, recs := range w.parts {
		for _, r := range recs {
			r.Release()
		}
	}
	w.parts = map[int][]arrow.RecordBatch{}
}

// ReadState calls fn with every record batch stored in batch table name of b, over the
// key groups b owns, in key-group order (fn must Retain what it keeps). Batches must have
// schema want: state saved by an operator whose columns differ (another version, or other
// key or input types) is an error naming the operator and the table.
func ReadState(b state.Backend, mem memory.Allocator, op, name string, want *arrow.Schema, fn func(kg int, rec arrow.RecordBatch) error) error {
	t, ok := b.Table(name)
	if !ok {
		return rberr.New(rberr.Internal, "%s: no state table %q to load from", op, name)
	}
	start, end := b.KeyGroups()
	var lists [][][]byte
	for kg := start; kg < end; kg++ {
		var err error
		if lists, err = b.GetList(t, kg, batchKey, lists[:0]); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: loading state table %q", op, name)
		}
		// The backend owns these bytes only until its next call: copy them.
		var streams [][]byte
		for _, el := range lists[0] {
			streams = append(streams, bytes.Clone(el))
		}
		for _, data := range streams {
			if err := readStream(data, mem, op, name, want, func(rec arrow.RecordBatch) error { return fn(kg, rec) }); err != nil {
				return err
			}
		}
	}
	return nil
}

func readStream(data []byte, mem memory.Allocator, op, name string, want *arrow.Schema, fn func(arrow.RecordBatch) error) error {
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return rberr.Wrap(rberr.Data, err, "%s: state table %q holds an unreadable Arrow stream", op, name)
	}
	defer r.Release()
	if !r.Schema().Equal(want) {
		return rberr.New(rberr.Data, "%s: state table %q holds columns %s, but this operator keeps %s: the checkpoint was taken by a different version of the operator or with other column types",
			op, name, expr.DescribeSchema(r.Schema()), expr.DescribeSchema(want))
	}
	for r.Next() {
		if err := fn(r.RecordBatch()); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return rberr.Wrap(rberr.Data, err, "%s: state table %q holds an unreadable Arrow stream", op, name)
	}
	return nil
}

// Meta column names of state batches. Columns an operator adds to buffered input rows
// (event time, window, input order) are prefixed, so they cannot be mistaken for the
// input's own columns when a savepoint is read.
const (
	ColTime        = "__rb_time"
	ColWindowStart = "__rb_window_start"
	ColWindowEnd   = "__rb_window_end"
	ColSeqSource   = "__rb_seq_source"
	ColSeqSplit    = "__rb_seq_split"
	ColSeqChunk    = "__rb_seq_chunk"
	ColRow         = "__rb_row"
)

// SeqFields are the columns of an input position (runtime.Seq and the row in the batch).
func SeqFields() []arrow.Field {
	return []arrow.Field{
		{Name: ColSeqSource, Type: arrow.PrimitiveTypes.Uint64},
		{Name: ColSeqSplit, Type: arrow.PrimitiveTypes.Uint64},
		{Name: ColSeqChunk, Type: arrow.PrimitiveTypes.Uint64},
		{Name: ColRow, Type: arrow.PrimitiveTypes.Int32},
	}
}

// SeqColumns builds the columns of SeqFields.
func SeqColumns(mem memory.Allocator, seqs []runtime.Seq, rows []int32) []arrow.Array {
	src, spl, chk := make([]uint64, len(seqs)), make([]uint64, len(seqs)), make([]uint64, len(seqs))
	for i, s := range seqs {
		src[i], spl[i], chk[i] = s.Source, s.Split, s.Chunk
	}
	out := make([]arrow.Array, 0, 4)
	for _, v := range [][]uint64{src, spl, chk} {
		b := array.NewUint64Builder(mem)
		b.AppendValues(v, nil)
		out = append(out, b.NewArray())
		b.Release()
	}
	b := array.NewInt32Builder(mem)
	b.AppendValues(rows, nil)
	out = append(out, b.NewArray())
	b.Release()
	return out
}

// SeqAt reads row i of the SeqFields columns starting at column at of rec.
func SeqAt(rec arrow.RecordBatch, at, i int) (runtime.Seq, int32) {
	return runtime.Seq{
		Source: rec.Column(at).(*array.Uint64).Value(i),
		Split:  rec.Column(at + 1).(*array.Uint64).Value(i),
		Chunk:  rec.Column(at + 2).(*array.Uint64).Value(i),
	}, rec.Column(at + 3).(*array.Int32).Value(i)
}

// Int64Column builds an int64 column.
func Int64Column(mem memory.Allocator, v []int64) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}

// Int64s returns the values of an int64 column.
func Int64s(a arrow.Array) []int64 { return a.(*array.Int64).Int64Values() }

// Project returns the first n columns of rec as a batch of schema (a zero-copy view the
// caller releases).
func Project(rec arrow.RecordBatch, schema *arrow.Schema) arrow.RecordBatch {
	n := schema.NumFields()
	return array.NewRecordBatch(schema, rec.Columns()[:n], rec.NumRows())
}

// RowFields returns the fields of schema followed by extra (for state rows that carry
// input rows and what the operator knows about them).
func RowFields(schema *arrow.Schema, extra ...arrow.Field) *arrow.Schema {
	fs := append(append([]arrow.Field{}, schema.Fields()...), extra...)
	return arrow.NewSchema(fs, nil)
}
