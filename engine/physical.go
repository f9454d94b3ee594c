package engine

import (
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// flow is the open end of the graph while building: the stage new operators chain onto,
// and whether its output is still in source order.
type flow struct {
	st       *runtime.Stage
	ordered  bool
	ordinals []int
}

// graph is the physical plan while it is built from the bound logical plan: the stages
// and what the planner tracks about sources.
type graph struct {
	*runtime.Graph
	inputs      []array.RecordReader
	splitCounts map[int]int
	ordinal     int
	totalRows   int64
	totalSplits int
	files       []string
	unbounded   bool
}

func newGraph(opts plan.Options, inputs []array.RecordReader) *graph {
	g := &graph{Graph: &runtime.Graph{Parallel: opts.Parallelism, MaxPar: opts.MaxParallelism, BatchSize: opts.BatchSize},
		inputs: inputs, splitCounts: map[int]int{}}
	if g.Parallel <= 0 {
		g.Parallel = goruntime.NumCPU()
	}
	if g.MaxPar <= 0 {
		g.MaxPar = state.DefaultMaxParallelism
	}
	if g.Parallel > g.MaxPar {
		g.Parallel = g.MaxPar
	}
	if g.BatchSize <= 0 {
		g.BatchSize = 65536
	}
	return g
}

// build turns a bound logical tree into stages and returns its open end.
func (g *graph) build(n *lnode, filterAbove *lnode) (flow, error) {
	switch n.op {
	case "scan_parquet":
		ord := g.ordinal
		g.ordinal++
		src := &source.ParquetSource{Ds: n.dataset, Projection: n.projection, BatchSize: g.BatchSize}
		if n.wm != nil {
			readCol := n.schema.FieldIndices(n.wm.Column)[0]
			statCol := n.dataset.Schema.FieldIndices(n.wm.Column)[0]
			src.Clk = source.NewParquetClock(n.dataset, statCol, readCol, n.wm.Bound, n.schema.Field(readCol).Type, g.Batch)
		}
		if filterAbove != nil {
			src.Prune = &source.Pruner{Pred: filterAbove.predExpr, Schema: n.dataset.Schema}
		}
		p := min(g.Parallel, max(1, len(n.dataset.Splits)))
		st := g.NewStage(fmt.Sprintf("scan_parquet(%d files)", len(n.dataset.Files)), p)
		st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
		g.splitCounts[ord] = len(n.dataset.Splits)
		for _, sp := range n.dataset.Splits {
			g.totalRows += sp.NumRows
		}
		g.totalSplits += len(n.dataset.Splits)
		g.files = append(g.files, n.dataset.Files...)
		return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
	case "scan_arrow":
		ord := g.ordinal
		g.ordinal++
		if n.source >= len(g.inputs) || g.inputs[n.source] == nil {
			return flow{}, rberr.New(rberr.Plan, "input stream %d is used twice in one plan; a stream can be read once", n.source)
		}
		src := &source.ArrowSource{Ordinal: ord, Reader: g.inputs[n.source], BatchSize: g.BatchSize, Table: n.table}
		var idle time.Duration
		if !g.Batch {
			src.Clk = sourceClock(n)
		}
		if n.wm != nil && !g.Batch {
			idle = time.Duration(n.wm.Idle) * time.Microsecond
		}
		g.inputs[n.source] = nil
		st := g.NewStage("scan_arrow", 1)
		st.Source = func(int) runtime.SourceFn { return source.Task(ord, src, 0, 1, idle) }
		g.splitCounts[ord] = -1
		f := flow{st: st, ordered: true, ordinals: []int{ord}}
		if g.Parallel > 1 {
			f.st = g.NewStage("rebalance", g.Parallel, runtime.Edge{From: st, Part: runtime.PartSplit})
		}
		return f, nil
	case "datagen", "nexmark":
		ord := g.ordinal
		g.ordinal++
		block := pacedBlock(n.rate, g.BatchSize, g.Parallel)
		blocks := int64(-1)
		if n.count >= 0 {
			blocks = (n.count + block - 1) / block
			g.totalRows += n.count
			g.totalSplits += int(blocks)
		} else {
			g.unbounded = true
		}
		p := g.Parallel
		if blocks >= 0 && int64(p) > max(1, blocks) {
			p = int(max(1, blocks))
		}
		src := &source.GenSource{Gen: n.gen, Count: n.count, Rate: n.rate, Block: block}
		if !g.Batch {
			src.Clk = sourceClock(n)
		} else if n.genTime {
			dt := n.schema.Field(n.schema.FieldIndices(n.wm.Column)[0]).Type
			gn := n.gen
			src.Safe = func(i int64) int64 { return expr.SafeWatermark(gn.EventTime(i), dt) }
			src.Clk = func() *source.Clock { return source.NewBatchClock(1) }
		}
		st := g.NewStage(n.op, p)
		st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
		g.splitCounts[ord] = int(blocks)
		return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
	case "window_agg":
		in, err := g.build(n.inputs[0], nil)
		if err != nil {
			return in, err
		}
		keys, types := keyExprs(n.keys)
		p := g.Parallel
		if len(keys) == 0 {
			p = 1
		}
		timeIdx := -1
		var timeType arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		if !n.processing {
			timeIdx = n.inputs[0].schema.FieldIndices(n.winTime)[0]
			timeType = n.inputs[0].schema.Field(timeIdx).Type
		}
		st := g.NewStage("window_agg", p, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: keys})
		name := fmt.Sprintf("window_agg(%s)", n.winDef.Kind)
		if n.lateOutput {
			name += " late rows" // its late_records are its output, not dropped rows
		}
		if n.win.kind == "session" {
			st.Chain(name, func(int) runtime.Operator {
				return &sessionAggOp{name: n.name, keys: keys, keyTypes: types, aggs: n.aggs, schema: n.schema,
					gap: n.win.gap, lateness: n.lateness, timeIdx: timeIdx, timeType: timeType, lateOutput: n.lateOutput, batchSize: g.BatchSize}
			})
		} else {
			st.Chain(name, func(int) runtime.Operator {
				return &windowAggOp{name: n.name, keys: keys, keyTypes: types, aggs: n.aggs, schema: n.schema, win: n.win,
					lateness: n.lateness, timeIdx: timeIdx, timeType: timeType, processing: n.processing,
					lateOutput: n.lateOutput, batchSize: g.BatchSize}
			})
		}
		return flow{st: st}, nil
	case "filter":
		var above *lnode
		if n.inputs[0].op == "scan_parquet" {
			above = n
		}
		f, err := g.build(n.inputs[0], above)
		if err != nil {
			return f, err
		}
		f.st.Chain("filter", func(int) runtime.Operator { return &filterOp{name: n.name, pred: n.pred} })
		return f, nil
	case "join":
		var edges []runtime.Edge
		js := n.join
		for side, in := range n.inputs {
			f, err := g.build(in, nil)
			if err != nil {
				return f, err
			}
			keys := js.leftKeys
			if side == 1 {
				keys = js.rightKeys
			}
			edges = append(edges, runtime.Edge{From: f.st, Part: runtime.PartHash, Keys: keys})
		}
		st := g.NewStage("join", g.Parallel, edges...)
		st.Chain("join("+js.how+")", func(int) runtime.Operator {
			base := joinBase{spec: js, emitSz: g.BatchSize}
			switch js.how {
			case "window":
				return &windowJoinOp{joinBase: base, win: js.win}
			case "interval":
				return &intervalJoinOp{joinBase: base}
			}
			return &asofJoinOp{joinBase: base}
		})
		return flow{st: st}, nil
	case "dedup", "topn":
		in, err := g.build(n.inputs[0], nil)
		if err != nil {
			return in, err
		}
		keys, types := keyExprs(n.keys)
		p := g.Parallel
		if len(keys) == 0 {
			p = 1
		}
		inSchema := n.inputs[0].schema
		st := g.NewStage(n.op, p, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: keys})
		if n.op == "dedup" {
			timeIdx := inSchema.FieldIndices(n.inputs[0].timeCol)[0]
			st.Chain("dedup", func(int) runtime.Operator {
				return &dedupOp{name: n.name, keys: keys, keyTypes: types, within: n.within, timeIdx: timeIdx,
					inSchema: inSchema, batch: g.BatchSize}
			})
			return flow{st: st}, nil
		}
		op := &topnOp{name: n.name, keys: keys, keyTypes: types, orderBy: n.orderBy, descending: n.descending,
			withTies: n.withTies, n: int(n.limit), schema: n.schema, inSchema: inSchema, batchSize: g.BatchSize}
		if n.topWindow {
			w := n.win
			op.win = &w
			op.timeIdx = inSchema.FieldIndices(n.winTime)[0]
			op.timeType = inSchema.Field(op.timeIdx).Type
		} else {
			op.startIdx = inSchema.FieldIndices("window_start")[0]
			op.endIdx = inSchema.FieldIndices("window_end")[0]
		}
		st.Chain(fmt.Sprintf("top_n(%d)", n.limit), func(int) runtime.Operator { c := *op; return &c })
		return flow{st: st}, nil
	case "map_batches":
		f, err := g.build(n.inputs[0], nil)
		if err != nil {
			return f, err
		}
		f.st.Chain("map_batches", func(int) runtime.Operator { return &mapBatchesOp{name: n.name, udf: n.udf, schema: n.schema} })
		return f, nil
	case "select", "with_columns":
		f, err := g.build(n.inputs[0], nil)
		if err != nil {
			return f, err
		}
		exprs := make([]expr.Expr, len(n.exprs))
		for i, b := range n.exprs {
			exprs[i] = b.Expr
		}
		f.st.Chain(n.op, func(int) runtime.Operator { return &projectOp{name: n.name, exprs: exprs, schema: n.schema} })
		return f, nil
	case "aggregate":
		in, err := g.build(n.inputs[0], nil)
		if err != nil {
			return in, err
		}
		keys, types := keyExprs(n.keys)
		p := g.Parallel
		if len(keys) == 0 {
			p = 1
		}
		st := g.NewStage("aggregate", p, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: keys})
		st.Chain("aggregate", func(int) runtime.Operator {
			return &agg.GroupByOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: n.aggs, Schema: n.schema, BatchSize: g.BatchSize}
		})
		return flow{st: st}, nil
	case "union":
		var edges []runtime.Edge
		out := flow{ordered: true}
		for _, in := range n.inputs {
			f, err := g.build(in, nil)
			if err != nil {
				return f, err
			}
			edges = append(edges, runtime.Edge{From: f.st, Part: runtime.PartSplit})
			out.ordered = out.ordered && f.ordered
			out.ordinals = append(out.ordinals, f.ordinals...)
		}
		out.st = g.NewStage("union", g.Parallel, edges...)
		return out, nil
	case "limit":
		in, err := g.build(n.inputs[0], nil)
		if err != nil {
			return in, err
		}
		st := g.NewStage("limit", 1, runtime.Edge{From: in.st, Part: runtime.PartGather})
		g.addReorder(st, in)
		limit := n.limit
		st.Chain(fmt.Sprintf("limit(%d)", limit), func(int) runtime.Operator { return &limitOp{n: limit, stopSrcs: in.ordered} })
		in.st = st
		return in, nil
	case "write_parquet":
		in, err := g.build(n.inputs[0], nil)
		if err != nil {
			return in, err
		}
		schema := n.inputs[0].schema
		path := n.path
		in.st.Chain("write_parquet", func(subtask int) runtime.Operator {
			w := &writeOp{dir: path, schema: schema, subtask: subtask}
			return w
		})
		return flow{st: in.st}, nil
	}
	return flow{}, rberr.New(rberr.Internal, "no physical operator for %q", n.op)
}

func (g *graph) addReorder(st *runtime.Stage, in flow) {
	if !in.ordered || (in.st.Parallel == 1 && len(in.ordinals) <= 1) {
		return
	}
	ords := append([]int(nil), in.ordinals...)
	counts := g.splitCounts
	st.Chain("reorder", func(int) runtime.Operator { return runtime.NewReorderOp(append([]int(nil), ords...), counts) })
}

// sourceClock makes the streaming event-time clock of a source subtask (one lane), or nil.
func sourceClock(n *lnode) func() *source.Clock {
	if n.wm == nil {
		return nil
	}
	col := n.schema.FieldIndices(n.wm.Column)[0]
	bound := n.wm.Bound
	return func() *source.Clock { return source.NewClock(1, col, bound) }
}

// keyExprs splits bound keys into their expressions and types.
func keyExprs(bs []expr.Bound) ([]expr.Expr, []arrow.DataType) {
	keys := make([]expr.Expr, len(bs))
	types := make([]arrow.DataType, len(bs))
	for i, k := range bs {
		keys[i], types[i] = k.Expr, k.Type()
	}
	return keys, types
}

// pacedBlock is how many rows a generator puts in one batch. Unpaced generators fill whole
// batches; a paced one (rate rows per second over all subtasks) emits a batch, and with it
// a watermark, at least every 200 ms (Flink's default watermark interval) on each of its
// parallel subtasks, so a slow source still delivers rows and advances event time promptly.
func pacedBlock(rate float64, batchSize, parallel int) int64 {
	block := int64(batchSize)
	if rate > 0 {
		perInterval := int64(rate * 0.2 / float64(max(1, parallel)))
		block = max(1, min(block, perInterval))
	}
	return block
}
