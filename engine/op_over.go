package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/ops/over"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// OverArgs are the arguments of "over": the expressions of a select or with_columns
// (Mode) that use window functions over partitions. A select or with_columns node
// becomes an over node when it uses them (rewriteOver, op_select.go).
type OverArgs struct {
	Exprs []*plan.Expr `json:"exprs,omitempty"`
	Mode  string       `json:"mode,omitempty"`
	// Whole: some over(...)s are aggregations the select or with_columns had outside
	// group_by, over the whole input (rewriteSelectAggs), for messages.
	Whole bool `json:"whole,omitempty"`
}

// overOp is the logical operator "over": a select or with_columns (its mode) whose
// expressions use window functions over partitions (col("x").cum_sum().over("k")). The
// window functions are computed on one subtask that sees the whole bounded input in
// input order (over.Op), then the projection reads their columns.
type overOp struct {
	OverArgs
	funcs  []over.Func     // the window functions
	frames []over.FrameAgg // the aggregations over frames (all of funcs, or none)
	timed  bool            // frames ordered by the event time: released by the watermark
	aug    *arrow.Schema   // the input's schema with their columns appended (what proj reads)
	proj   projection
}

func init() {
	registerOp("over", opReg[OverArgs]{new: func(a *OverArgs) logicalOp { return &overOp{OverArgs: *a} }, stateful: true})
}

func (o *overOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	fields := append([]arrow.Field{}, in.schema.Fields()...)
	o.funcs = nil
	var lift func(e *plan.Expr) (*plan.Expr, error)
	lift = func(e *plan.Expr) (*plan.Expr, error) {
		if e == nil {
			return nil, nil
		}
		if over.IsOver(e) {
			f, err := over.Compile(scope, e)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("__over_%d", len(o.funcs))
			o.funcs = append(o.funcs, f)
			fields = append(fields, arrow.Field{Name: name, Type: f.OutType, Nullable: true})
			return &plan.Expr{Col: &name}, nil
		}
		c := *e
		c.Args = make([]*plan.Expr, len(e.Args))
		for i, a := range e.Args {
			if c.Args[i], err = lift(a); err != nil {
				return nil, err
			}
		}
		return &c, nil
	}
	exprs := make([]*plan.Expr, len(o.Exprs))
	for i, e := range o.Exprs {
		l, err := lift(e)
		if err != nil {
			return err
		}
		if name := expr.OutputName(e); expr.OutputName(l) != name {
			l = &plan.Expr{Alias: &name, Args: []*plan.Expr{l}}
		}
		exprs[i] = l
	}
	o.aug = arrow.NewSchema(fields, nil)
	if err := o.bindFrames(ln, in); err != nil {
		return err
	}
	return o.proj.bindExprs(ln, in, o.aug, exprs, o.Mode == "with_columns")
}

// bindFrames checks the aggregations over frames (over(..., rows= | range=)): all the
// window functions of the node or none, of one partitioning and one order_by column; on
// unbounded input (or ordered by the event time) that column is the event time. Other
// window functions need bounded input.
func (o *overOp) bindFrames(ln, in *lnode) error {
	o.frames, o.timed = nil, false
	framed := 0
	for _, f := range o.funcs {
		if f.Fn == "frame" {
			framed++
		}
	}
	if framed == 0 {
		if o.Whole {
			var unbounded, maybe []string
			if sourceBoundedness([]*lnode{in}, &unbounded, &maybe); len(unbounded) > 0 {
				return rberr.New(rberr.Plan, "%s: an aggregation beside other columns is given to every row once the whole input is seen, and %s is unbounded: "+
					"aggregate it with group_by(...).agg(...) (an updating result), or over a running frame, .over(order_by=..., rows=\"unbounded\")", o.Mode, unbounded[0])
			}
		}
		return needBounded(ln, in, "a window function over(...)")
	}
	var first *over.Func
	for i := range o.funcs {
		if o.funcs[i].Fn == "frame" {
			first = &o.funcs[i]
			break
		}
	}
	o.timed = first.OrderCol != "" && first.OrderCol == in.timeCol
	// One FrameOp computes the aggregations when they are all there is, of one
	// partitioning and order; else they are computed with the others on bounded input.
	alone := framed == len(o.funcs)
	for i := range o.funcs {
		f := &o.funcs[i]
		if f.Fn != "frame" {
			continue
		}
		same := len(f.Partition) == len(first.Partition) && f.Order[0].String() == first.Order[0].String()
		for i := 0; same && i < len(f.Partition); i++ {
			same = f.Partition[i].String() == first.Partition[i].String()
		}
		alone = alone && same
		timed := o.timed && same
		fr := f.Frame
		fa := over.FrameAgg{Fn: f.Agg.Fn, Text: f.Text, Arg: f.Agg.Arg, Rows: fr.Rows, Unbounded: fr.Unbounded, N: fr.N, OutType: f.OutType}
		fa.Float = fa.Arg != nil && fa.Fn != "count" && expr.IsFloat(fa.Arg.Type())
		if !fr.Rows && !fr.Unbounded {
			temporal := timed || expr.IsTemporal(f.Order[0].Type())
			switch {
			case temporal && fr.Dur == "" && fr.N != 0: // 0: the row's peers, in any unit
				return rberr.New(rberr.Plan, "%s: %s: range= over the time column %s is a duration such as \"1h\", got %d", ln.name, f.Text, f.Order[0], fr.N)
			case !temporal && fr.Dur != "":
				return rberr.New(rberr.Plan, "%s: %s: range= over the integer column %s is a number, got %q", ln.name, f.Text, f.Order[0], fr.Dur)
			case temporal && fr.Dur != "":
				d, err := plan.ParseDuration(fr.Dur)
				if err != nil || d < 0 {
					return rberr.New(rberr.Plan, "%s: %s: range: %v", ln.name, f.Text, runtime.ErrOrNegative(err))
				}
				fa.N = d
			}
		}
		f.FA = fa
		o.frames = append(o.frames, fa)
	}
	if !alone {
		o.frames, o.timed = nil, false
		return needBounded(ln, in, "window functions over(...) other than aggregations over(..., rows=/range=) of one partition_by and order_by")
	}
	if o.timed {
		return nil
	}
	var unbounded, maybe []string
	sourceBoundedness([]*lnode{in}, &unbounded, &maybe)
	if len(unbounded) > 0 {
		what := "there is none"
		if in.timeCol != "" {
			what = fmt.Sprintf("it is %q", in.timeCol)
		}
		return rberr.New(rberr.Plan, "%s: %s: on an unbounded input (%s), aggregations over(..., rows=/range=) order by the event-time column (%s); pass event_time= to the source", ln.name, first.Text, unbounded[0], what)
	}
	return nil
}

func (o *overOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if o.Mode == "with_columns" {
		requireWithColumns(b, n, ln, o.Exprs, need)
		return
	}
	requireSelect(b, n, ln, o.Exprs)
}

func (o *overOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	funcs, aug, inSchema := o.funcs, o.aug, n.inputs[0].schema
	var st *runtime.Stage
	if len(o.frames) > 0 {
		// Hash partitioned by the partition keys, on all subtasks.
		f := o.funcs[0]
		k := keyedInput{in: in, parallel: g.Parallel, keys: f.Partition, types: f.PartTypes}
		if len(k.keys) == 0 {
			k.parallel = 1
		}
		st = k.stage(g, "over", false)
		frames, timed := o.frames, o.timed
		st.Chain("over", func(int) runtime.Operator {
			return &over.FrameOp{Name: n.name, Keys: f.Partition, KeyTypes: f.PartTypes, Order: f.Order[0], Time: timed,
				Aggs: frames, InSchema: inSchema, Schema: aug, Batch: g.BatchSize}
		})
	} else {
		st = g.gatherInOrder("over", in, inSchema)
		st.Chain("over", func(int) runtime.Operator {
			return &over.Op{Name: n.name, Funcs: funcs, Schema: aug, In: inSchema, EmitSz: g.BatchSize}
		})
	}
	exprs := make([]expr.Expr, len(o.proj.exprs))
	for i, b := range o.proj.exprs {
		exprs[i] = b.Expr
	}
	st.Chain("project", func(int) runtime.Operator { return &basic.ProjectOp{Name: n.name, Exprs: exprs, Schema: n.schema} })
	// One subtask emits the rows in input order, and chained operators keep it.
	return flow{st: st}, nil
}

// stateConfig implements stateConfigurer: the rows and running values restored into
// other functions, frames, partitions or outputs would be read as theirs.
func (o *overOp) stateConfig(n *lnode) string { return "window function (" + o.explain(n) + ")" }

func (o *overOp) explain(n *lnode) string {
	parts := make([]string, len(o.funcs))
	for i, f := range o.funcs {
		parts[i] = fmt.Sprintf("__over_%d = %s", i, f.Text)
	}
	if len(o.frames) > 0 {
		how := "at the end of the input"
		if o.timed {
			how = "as the watermark passes"
		}
		return fmt.Sprintf("aggregations over frames [%s], rows emitted %s; %s", strings.Join(parts, ", "), how, o.proj.explain(n))
	}
	return fmt.Sprintf("window functions [%s]; %s", strings.Join(parts, ", "), o.proj.explain(n))
}
