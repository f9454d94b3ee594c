package agg

import (
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Pre-aggregation: a bounded group_by at parallelism > 1 aggregates each upstream
// subtask's rows locally before the hash exchange (PreAggOp, chained after the operator
// that feeds the group_by) and sends partial states (partial.go) in place of rows; the
// group_by after the exchange merges them (Table.MergePartial). Partial states carry
// their key hashes as a last column (computed once, by the pre-aggregation's own hash
// table), which the exchange routes by (runtime.Edge.Hashed) and the group_by groups by.
//
// It is adaptive, as DuckDB's and Spark's partial aggregations are: pre-aggregating pays
// only when keys repeat within a subtask's input (and, for a distinct count, whose
// partial state carries the values it holds, when (key, value) pairs repeat: each new
// one counts as a new group below). After the first SampleRows rows it
// estimates the number of distinct keys from how many of the sample's rows were new
// (the occupancy estimate below); when so many keys would overflow its table (MaxGroups)
// too soon to halve the rows, it stops: what it holds goes out as partial states, and
// from then on rows pass through as they are. The same happens
// when the table fills having reduced its rows less than MinReduction times; a table
// that fills having reduced them more is sent and begun afresh. Rows passed through
// carry their key hashes too when hashing their keys costs more than moving a column of
// hashes (strings, several keys: HashesWorthCarrying); one integer key is hashed by a
// multiply and a few shifts, cheaper than the extra column through the exchange.
//
// It holds nothing across a checkpoint: before a barrier passes (runtime.PreBarrier)
// and at the end of the input its groups go out as partial states, so the group_by's
// state, and so checkpoints, are the same with and without it.

// Defaults of a pre-aggregation's limits (Adaptive).
var (
	PreAggMaxGroups    = 1 << 18
	PreAggSampleRows   = 1 << 16
	PreAggMinReduction = 2.0
)

// Adaptive decides, for a pre-aggregation, when to send its groups on and when to stop
// pre-aggregating (see above). The zero value has the default limits; fields set override
// them.
type Adaptive struct {
	MaxGroups    int
	SampleRows   int
	MinReduction float64
	rows         int64 // rows folded in since the groups were last sent
	created      int   // groups made since then
	decided      bool  // the sample has been judged
}

func (a *Adaptive) defaults() {
	if a.MaxGroups <= 0 {
		a.MaxGroups = PreAggMaxGroups
	}
	if a.SampleRows <= 0 {
		a.SampleRows = PreAggSampleRows
	}
	if a.MinReduction <= 0 {
		a.MinReduction = PreAggMinReduction
	}
}

// Folded is told that n more rows were folded in, making created new groups, and that
// groups are held now (fewer than made when some were sent on meanwhile, as a window's
// closed slices are); it says whether to send the groups on (flush) and whether to stop
// pre-aggregating (pass).
func (a *Adaptive) Folded(n int64, created, groups int) (flush, pass bool) {
	a.defaults()
	a.rows += n
	a.created += created
	if !a.decided && a.rows >= int64(a.SampleRows) {
		a.decided = true
		if reduction(a.rows, a.created, a.MaxGroups) < a.MinReduction {
			return true, true
		}
	}
	if groups >= a.MaxGroups {
		return true, float64(a.rows)/float64(max(a.created, 1)) < a.MinReduction
	}
	return false, false
}

// Sent is told that the groups were sent on (all of them).
func (a *Adaptive) Sent() { a.rows, a.created = 0, 0 }

// valueHolder is an accumulator whose state holds values of its input (a distinct count
// its distinct values): valuesAdded counts those it has taken in.
type valueHolder interface{ valuesAdded() int64 }

// valuesAdded is how many values the table's valueHolder accumulators have taken in.
func (t *Table) valuesAdded() int64 {
	var n int64
	for _, a := range t.accs {
		if h, ok := a.(valueHolder); ok {
			n += h.valuesAdded()
		}
	}
	return n
}

// PreAggOp is a pre-aggregation (see above). Partial is PartialSchema(KeyTypes, Aggs).
type PreAggOp struct {
	runtime.BaseOp
	Name      string
	Keys      []expr.Expr
	KeyTypes  []arrow.DataType
	Aggs      []Spec
	Partial   *arrow.Schema
	BatchSize int
	// Adaptive's limits (zero: the defaults).
	Adaptive

	tc      *runtime.TaskCtx
	table   *Table
	passing bool // pre-aggregation stopped: rows pass through
	hashes  KeyHashes
}

var _ runtime.PreBarrier = (*PreAggOp)(nil)

func (o *PreAggOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	if o.BatchSize <= 0 {
		o.BatchSize = 65536
	}
	o.table = NewTable(o.Name, o.Keys, o.KeyTypes, o.Aggs)
	o.hashes = KeyHashes{Name: o.Name, Keys: o.Keys, Off: !HashesWorthCarrying(o.KeyTypes)}
	return nil
}

// Passing reports whether the pre-aggregation has stopped (rows pass through).
func (o *PreAggOp) Passing() bool { return o.passing }

func (o *PreAggOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	if o.passing {
		return o.pass(m, out)
	}
	defer m.Rec.Release()
	n := m.Rec.NumRows()
	if n == 0 {
		return nil
	}
	before, held := o.table.NumGroups(), o.table.valuesAdded()
	if _, err := o.table.Consume(o.tc.Eval, m.Rec, m.Seq); err != nil {
		return err
	}
	groups := o.table.NumGroups()
	// A partial state carries every value a distinct count holds: what is sent grows
	// with the distinct (key, value) pairs as well as with the keys.
	made := groups - before + int(o.table.valuesAdded()-held)
	flush, pass := o.Folded(n, made, groups)
	o.passing = pass
	if flush {
		return o.flush(out)
	}
	return nil
}

// reduction estimates how many rows a table of at most maxGroups groups would fold into
// each group, given that a sample of n rows had d distinct keys. Keys drawn at random
// from N equally likely ones give d = N (1 - exp(-n/N)) distinct keys in n rows; N is
// solved for by bisection. Up to maxGroups keys fit: the table never fills, and every
// further row folds into a group already there (infinite reduction: the cost of
// pre-aggregating is then at most one table of maxGroups groups sent on). Past that, the
// table fills after r = -N ln(1 - maxGroups/N) rows, folding r rows into maxGroups
// groups.
func reduction(n int64, d, maxGroups int) float64 {
	if d <= 0 {
		return math.Inf(1)
	}
	rows, dist := float64(n), float64(d)
	if dist >= rows {
		return 1 // every row had a new key
	}
	lo, hi := dist, dist
	for hi*(1-math.Exp(-rows/hi)) < dist {
		lo, hi = hi, hi*2
		if hi > 1e18 {
			return 1
		}
	}
	for i := 0; i < 100 && hi-lo > 0.5; i++ {
		mid := (lo + hi) / 2
		if mid*(1-math.Exp(-rows/mid)) < dist {
			lo = mid
		} else {
			hi = mid
		}
	}
	keys, limit := hi, float64(maxGroups)
	if keys <= limit {
		return math.Inf(1)
	}
	return -keys * math.Log1p(-limit/keys) / limit
}

// pass sends input rows on (with their key hash as a last column, unless that is off).
func (o *PreAggOp) pass(m runtime.Message, out runtime.Emitter) error {
	if o.hashes.Off {
		return out.Emit(m)
	}
	defer m.Rec.Release()
	if m.Rec.NumRows() == 0 {
		return nil
	}
	rec, err := o.hashes.Append(o.tc.Eval, m.Rec)
	if err != nil {
		return err
	}
	return out.Emit(m.With(rec))
}

// HashesWorthCarrying reports whether rows passed through with keys of keyTypes should
// carry their key hashes: not for one integer-like key (see above).
func HashesWorthCarrying(keyTypes []arrow.DataType) bool {
	return !(len(keyTypes) == 1 && expr.IsIntKeyed(keyTypes[0]))
}

// KeyHashes appends to batches of rows the hashes of their keys (expr.HashColumns), as
// a last uint64 column named key_hash, marking the schema with runtime.KeyHashMeta: what
// a pre-aggregation that passes rows through sends (runtime.Edge.Hashed). With Off the
// rows go as they are.
type KeyHashes struct {
	Name       string // the operator, for errors
	Keys       []expr.Expr
	Off        bool
	rawIn, raw *arrow.Schema
}

// Append returns rec with the key hash column (the caller still owns rec).
func (k *KeyHashes) Append(ec *expr.EvalCtx, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(rec.NumRows())
	keys, err := runtime.EvalColumns(ec, k.Keys, rec)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", k.Name)
	}
	// The hashes are computed straight into the new column's buffer.
	buf := memory.NewResizableBuffer(ec.Mem)
	buf.Resize(n * 8)
	hs := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(buf.Bytes()))), n)
	if len(keys) > 0 {
		expr.HashColumns(keys, hs)
	} else {
		clear(hs)
	}
	runtime.ReleaseAll(keys)
	data := array.NewData(arrow.PrimitiveTypes.Uint64, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	hc := array.MakeFromData(data)
	data.Release()
	defer hc.Release()
	if rec.Schema() != k.rawIn {
		k.rawIn = rec.Schema()
		fs := append(append([]arrow.Field{}, rec.Schema().Fields()...), arrow.Field{Name: "key_hash", Type: arrow.PrimitiveTypes.Uint64})
		md := arrow.NewMetadata([]string{runtime.KeyHashMeta}, []string{"1"})
		k.raw = arrow.NewSchema(fs, &md)
	}
	cols := append(append([]arrow.Array{}, rec.Columns()...), hc)
	return array.NewRecordBatch(k.raw, cols, int64(n)), nil
}

// flush sends the table's groups as partial states and begins a new table.
func (o *PreAggOp) flush(out runtime.Emitter) error {
	if o.table.NumGroups() == 0 {
		return nil
	}
	rec, err := o.table.PartialBatch(o.tc.Eval.Mem, o.Partial)
	if err != nil {
		return err
	}
	o.table.Reset()
	o.Sent()
	return runtime.EmitSliced(rec, o.BatchSize, out)
}

// FlushBeforeBarrier implements runtime.PreBarrier: the groups go out ahead of the
// barrier, so the pre-aggregation has no state of its own.
func (o *PreAggOp) FlushBeforeBarrier(out runtime.Emitter) error { return o.flush(out) }

// ProcessWatermark sends the groups on at the end of the input (the final watermark),
// ahead of it.
func (o *PreAggOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm == runtime.WatermarkMax {
		if err := o.flush(out); err != nil {
			return err
		}
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

func (o *PreAggOp) Finish(out runtime.Emitter) error { return o.flush(out) }

func (o *PreAggOp) Close() {
	if o.table != nil {
		o.table.Release()
		o.table = nil
	}
}
