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
// group_by after the exchange merges them (Table.MergePartial). Every batch the
// pre-aggregation sends carries its rows' key hashes as its last column (computed once,
// by the pre-aggregation's own hash table), which the exchange routes by
// (runtime.Edge.Hashed) and the group_by groups by.
//
// It is adaptive, as DuckDB's and Spark's partial aggregations are: pre-aggregating pays
// only when keys repeat within a subtask's input. After the first SampleRows rows it
// estimates the number of distinct keys from how many of the sample's rows were new
// (the occupancy estimate below); when so many keys would overflow its table (MaxGroups)
// too soon to halve the rows, it stops: what it holds goes out as partial states, and
// from then on rows pass through as they are, with their key hash. The same happens
// when the table fills having reduced its rows less than MinReduction times; a table
// that fills having reduced them more is sent and begun afresh.
//
// It holds nothing across a checkpoint: before a barrier passes (runtime.PreBarrier)
// and at the end of the input its groups go out as partial states, so the group_by's
// state, and so checkpoints, are the same with and without it.

// Defaults of PreAggOp's limits.
var (
	PreAggMaxGroups    = 1 << 20
	PreAggSampleRows   = 1 << 16
	PreAggMinReduction = 2.0
)

// PreAggOp is a pre-aggregation (see above). Partial is PartialSchema(KeyTypes, Aggs).
type PreAggOp struct {
	runtime.BaseOp
	Name      string
	Keys      []expr.Expr
	KeyTypes  []arrow.DataType
	Aggs      []Spec
	Partial   *arrow.Schema
	BatchSize int
	// MaxGroups, SampleRows and MinReduction override the defaults when set.
	MaxGroups    int
	SampleRows   int
	MinReduction float64

	tc      *runtime.TaskCtx
	table   *Table
	rows    int64 // rows in the table since it was last sent
	decided bool  // the sample has been judged
	passing bool  // pre-aggregation stopped: rows pass through
	// raw is the schema of passed-through rows: the input's and the key hash.
	rawIn, raw *arrow.Schema
}

var _ runtime.PreBarrier = (*PreAggOp)(nil)

func (o *PreAggOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	if o.MaxGroups <= 0 {
		o.MaxGroups = PreAggMaxGroups
	}
	if o.SampleRows <= 0 {
		o.SampleRows = PreAggSampleRows
	}
	if o.MinReduction <= 0 {
		o.MinReduction = PreAggMinReduction
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 65536
	}
	o.table = NewTable(o.Name, o.Keys, o.KeyTypes, o.Aggs)
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
	if _, err := o.table.Consume(o.tc.Eval, m.Rec, m.Seq); err != nil {
		return err
	}
	o.rows += n
	groups := o.table.NumGroups()
	if !o.decided && o.rows >= int64(o.SampleRows) {
		o.decided = true
		if reduction(o.rows, groups, o.MaxGroups) < o.MinReduction {
			o.passing = true
			return o.flush(out)
		}
	}
	if groups >= o.MaxGroups {
		o.passing = float64(o.rows)/float64(groups) < o.MinReduction
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

// pass sends input rows on with their key hash as a last column.
func (o *PreAggOp) pass(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	keys, err := runtime.EvalColumns(o.tc.Eval, o.Keys, rec)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
	}
	// The hashes are computed straight into the new column's buffer.
	buf := memory.NewResizableBuffer(o.tc.Eval.Mem)
	buf.Resize(n * 8)
	expr.HashColumns(keys, unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(buf.Bytes()))), n))
	runtime.ReleaseAll(keys)
	data := array.NewData(arrow.PrimitiveTypes.Uint64, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	hc := array.MakeFromData(data)
	data.Release()
	defer hc.Release()
	if rec.Schema() != o.rawIn {
		o.rawIn = rec.Schema()
		fs := append(append([]arrow.Field{}, rec.Schema().Fields()...), arrow.Field{Name: "key_hash", Type: arrow.PrimitiveTypes.Uint64})
		o.raw = arrow.NewSchema(fs, nil)
	}
	cols := append(append([]arrow.Array{}, rec.Columns()...), hc)
	return out.Emit(m.With(array.NewRecordBatch(o.raw, cols, int64(n))))
}

// flush sends the table's groups as partial states and begins a new table.
func (o *PreAggOp) flush(out runtime.Emitter) error {
	n := o.table.NumGroups()
	if n == 0 {
		return nil
	}
	mem := o.tc.Eval.Mem
	cols, err := o.table.KeyColumns(mem, nil)
	if err != nil {
		return err
	}
	states, err := o.table.PartialColumns(mem, nil)
	if err != nil {
		runtime.ReleaseAll(cols)
		return err
	}
	cols = append(cols, states...)
	hb := array.NewUint64Builder(mem)
	hb.AppendValues(o.table.Hashes()[:n], nil)
	cols = append(cols, hb.NewArray())
	hb.Release()
	rec := array.NewRecordBatch(o.Partial, cols, int64(n))
	runtime.ReleaseAll(cols)
	o.table.Release()
	o.table = NewTable(o.Name, o.Keys, o.KeyTypes, o.Aggs)
	o.rows = 0
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
