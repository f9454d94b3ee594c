package engine

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/gen"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// lnode is a bound logical operator: its inputs, output schema and compiled expressions.
type lnode struct {
	op     string
	name   string // for messages and explain: "filter", or the user's id
	schema *arrow.Schema
	inputs []*lnode

	// scan_parquet
	dataset    *batch.Dataset
	projection []int // indexes into dataset.Schema
	// scan_arrow
	source  int
	bounded bool // a finite input (not a possibly live stream)
	table   bool // an in-memory table (replayable)
	// filter
	pred     expr.Expr
	predExpr *plan.Expr
	// select, with_columns
	exprs []expr.Bound
	// aggregate
	keys []expr.Bound
	aggs []agg.Spec
	// limit
	limit int64
	// write_parquet
	path string

	// event time: the column that carries it (propagated while it survives), and on
	// sources the watermark settings
	timeCol string
	wm      *runtime.WatermarkSpec
	// generators
	gen       gen.Generator
	count     int64 // rows (datagen) or events (nexmark); -1: unbounded
	rate      float64
	genEvents bool // count and rate are of events, not rows
	genTime   bool // the event-time column is the generator's own clock (non-decreasing in the index)
	// window_agg
	win        windower
	winDef     *plan.WindowDef
	lateness   int64
	lateOutput bool
	processing bool
	winTime    string // the input column windows read event time from
	// map_batches
	udf int64
	// join
	join *joinSpec
	// dedup and topn
	within     int64
	orderBy    expr.Expr
	descending bool
	withTies   bool
	topWindow  bool // topn assigns windows (else reads window_start/window_end)
}

// binder binds a logical plan. It caches opened datasets so that binding twice (before
// and after projection pushdown) reads each footer once.
type binder struct {
	inputs   []*arrow.Schema
	datasets map[*plan.Node]*batch.Dataset
	columns  map[*plan.Node][]string // pushed-down projections of scans
	counter  int
}

// Bind validates a plan completely against its input schemas (one per scan_arrow source)
// and returns the bound tree with projections pushed into the scans.
func Bind(p *plan.Plan, inputs []*arrow.Schema) (*lnode, error) {
	b := &binder{inputs: inputs, datasets: map[*plan.Node]*batch.Dataset{}}
	first, err := b.bind(p.Root)
	if err != nil {
		return nil, err
	}
	b.columns = map[*plan.Node][]string{}
	b.require(p.Root, first, nil)
	b.counter = 0
	return b.bind(p.Root)
}

func (b *binder) bind(n *plan.Node) (*lnode, error) {
	if n == nil {
		return nil, rberr.New(rberr.Plan, "operator has no input")
	}
	b.counter++
	name := n.Op
	if n.ID != "" {
		name = fmt.Sprintf("%s %q", n.Op, n.ID)
	}
	ln := &lnode{op: n.Op, name: name}
	single := func() (*lnode, error) {
		if n.Input == nil {
			return nil, rberr.New(rberr.Plan, "%s: missing input", name)
		}
		in, err := b.bind(n.Input)
		if err != nil {
			return nil, err
		}
		ln.inputs = []*lnode{in}
		return in, nil
	}
	switch n.Op {
	case "scan_parquet":
		ds, ok := b.datasets[n]
		if !ok {
			if len(n.Paths) == 0 {
				return nil, rberr.New(rberr.Plan, "%s: no path given", name)
			}
			files, err := batch.ResolvePaths(n.Paths)
			if err != nil {
				return nil, err
			}
			ds, err = batch.OpenParquet(files)
			if err != nil {
				return nil, err
			}
			b.datasets[n] = ds
		}
		ln.dataset = ds
		cols := n.Columns
		if pushed, ok := b.columns[n]; ok {
			cols = pushed
		}
		scope := &expr.CompileScope{Schema: ds.Schema, Op: name}
		if cols == nil {
			for i := range ds.Schema.Fields() {
				ln.projection = append(ln.projection, i)
			}
		} else {
			for _, c := range cols {
				idx := ds.Schema.FieldIndices(c)
				if len(idx) == 0 {
					return nil, scope.ColumnNotFound(c)
				}
				ln.projection = append(ln.projection, idx[0])
			}
		}
		fields := make([]arrow.Field, len(ln.projection))
		for i, idx := range ln.projection {
			fields[i] = ds.Schema.Field(idx)
		}
		ln.schema = arrow.NewSchema(fields, nil)
		if b.columns != nil { // after projection pushdown: the columns actually read
			if err := ds.CheckColumns(ln.projection); err != nil {
				return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
			}
		}
		if err := b.bindEventTime(n, ln); err != nil {
			return nil, err
		}
	case "scan_arrow":
		if n.Source < 0 || n.Source >= len(b.inputs) {
			return nil, rberr.New(rberr.Plan, "%s: input %d was not provided (%d inputs given)", name, n.Source, len(b.inputs))
		}
		ln.source, ln.bounded, ln.table = n.Source, n.Bounded, n.Table
		ln.schema = b.inputs[n.Source]
		if err := b.bindEventTime(n, ln); err != nil {
			return nil, err
		}
	case "datagen", "nexmark":
		if err := b.bindGenerator(n, ln); err != nil {
			return nil, err
		}
	case "join":
		if len(n.Inputs) != 2 {
			return nil, rberr.New(rberr.Plan, "%s: a join takes exactly two inputs", name)
		}
		for _, sub := range n.Inputs {
			in, err := b.bind(sub)
			if err != nil {
				return nil, err
			}
			ln.inputs = append(ln.inputs, in)
		}
		if err := b.bindJoin(n, ln, ln.inputs[0], ln.inputs[1]); err != nil {
			return nil, err
		}
	case "dedup":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if err := b.bindDedup(n, ln, in); err != nil {
			return nil, err
		}
	case "topn":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if err := b.bindTopN(n, ln, in); err != nil {
			return nil, err
		}
	case "map_batches":
		in, err := single()
		if err != nil {
			return nil, err
		}
		ln.udf = n.UDF
		ln.schema = in.schema
		if len(n.Schema) > 0 {
			fields := make([]arrow.Field, len(n.Schema))
			for i, f := range n.Schema {
				dt, err := expr.ParseType(f.Type)
				if err != nil {
					return nil, rberr.Wrap(rberr.Plan, err, "%s: schema column %q", name, f.Name)
				}
				fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: true}
			}
			ln.schema = arrow.NewSchema(fields, nil)
		}
		if ln.schema.HasField(in.timeCol) {
			ln.timeCol = in.timeCol
		}
	case "window_agg":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if err := b.bindWindow(n, ln, in); err != nil {
			return nil, err
		}
	case "filter":
		in, err := single()
		if err != nil {
			return nil, err
		}
		scope := &expr.CompileScope{Schema: in.schema, Op: name}
		pred, err := scope.Compile(n.Predicate)
		if err != nil {
			return nil, err
		}
		if pred.Type().ID() != arrow.BOOL {
			return nil, rberr.New(rberr.Type, "%s: the predicate %s is %s, not bool; compare it, e.g. %s > 0", name, pred, expr.TypeName(pred.Type()), pred)
		}
		ln.pred, ln.predExpr, ln.schema, ln.timeCol = pred, n.Predicate, in.schema, in.timeCol
	case "select", "with_columns":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if len(n.Exprs) == 0 && n.Op == "select" {
			return nil, rberr.New(rberr.Plan, "%s: no columns selected", name)
		}
		scope := &expr.CompileScope{Schema: in.schema, Op: name}
		var out []expr.Bound
		if n.Op == "with_columns" {
			for i, f := range in.schema.Fields() {
				out = append(out, expr.Bound{Expr: &expr.ColExpr{Idx: i, Name: f.Name, Dt: f.Type}, Name: f.Name})
			}
		}
		seen := map[string]bool{}
		for _, e := range n.Exprs {
			be, err := scope.CompileNamed(e)
			if err != nil {
				return nil, err
			}
			if seen[be.Name] {
				return nil, rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, be.Name)
			}
			seen[be.Name] = true
			replaced := false
			for i := range out {
				if out[i].Name == be.Name {
					out[i], replaced = be, true
				}
			}
			if !replaced {
				out = append(out, be)
			}
		}
		ln.exprs = out
		ln.schema = boundSchema(out)
		for _, e := range out {
			if c, ok := e.Expr.(*expr.ColExpr); ok && e.Name == in.timeCol && c.Name == in.timeCol {
				ln.timeCol = in.timeCol
			}
		}
	case "aggregate":
		in, err := single()
		if err != nil {
			return nil, err
		}
		scope := &expr.CompileScope{Schema: in.schema, Op: name}
		if len(n.Aggs) == 0 {
			return nil, rberr.New(rberr.Plan, "%s: no aggregations given to agg(...)", name)
		}
		seen := map[string]bool{}
		var fields []arrow.Field
		for _, k := range n.Keys {
			bk, err := scope.CompileNamed(k)
			if err != nil {
				return nil, err
			}
			bk = keyExpr(bk)
			if !hashable(bk.Type()) {
				return nil, rberr.New(rberr.Type, "%s: cannot group by %s of type %s", name, bk, expr.TypeName(bk.Type()))
			}
			if seen[bk.Name] {
				return nil, rberr.New(rberr.Plan, "%s: the key %q is given twice", name, bk.Name)
			}
			seen[bk.Name] = true
			ln.keys = append(ln.keys, bk)
			fields = append(fields, arrow.Field{Name: bk.Name, Type: bk.Type(), Nullable: true})
		}
		for _, a := range n.Aggs {
			spec, err := agg.Compile(scope, a)
			if err != nil {
				return nil, err
			}
			if seen[spec.Name] {
				return nil, rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, spec.Name)
			}
			seen[spec.Name] = true
			ln.aggs = append(ln.aggs, spec)
			fields = append(fields, arrow.Field{Name: spec.Name, Type: spec.OutType, Nullable: true})
		}
		ln.schema = arrow.NewSchema(fields, nil)
	case "union":
		if len(n.Inputs) < 2 {
			return nil, rberr.New(rberr.Plan, "%s: needs at least two inputs", name)
		}
		for i, sub := range n.Inputs {
			in, err := b.bind(sub)
			if err != nil {
				return nil, err
			}
			if i > 0 && !expr.SameColumns(ln.inputs[0].schema, in.schema) {
				return nil, rberr.New(rberr.Schema, "%s: input %d has columns %s but input 0 has %s; select the same columns with the same types on both sides", name, i, expr.DescribeSchema(in.schema), expr.DescribeSchema(ln.inputs[0].schema))
			}
			ln.inputs = append(ln.inputs, in)
		}
		ln.schema = ln.inputs[0].schema
		ln.timeCol = ln.inputs[0].timeCol
		for _, in := range ln.inputs[1:] {
			if in.timeCol != ln.timeCol {
				ln.timeCol = ""
			}
		}
	case "limit":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if n.N == nil || *n.N < 0 {
			return nil, rberr.New(rberr.Plan, "%s: needs a non-negative number of rows", name)
		}
		ln.limit, ln.schema, ln.timeCol = *n.N, in.schema, in.timeCol
	case "write_parquet":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if n.Path == "" {
			return nil, rberr.New(rberr.Plan, "%s: no output directory given", name)
		}
		for _, f := range in.schema.Fields() {
			if !writable(f.Type) {
				return nil, rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to Parquet yet", name, f.Name, expr.TypeName(f.Type))
			}
		}
		ln.path = n.Path
		ln.schema = runtime.WriteSummarySchema
	default:
		ops := []string{"scan_parquet", "scan_arrow", "datagen", "nexmark", "filter", "select", "with_columns", "aggregate", "window_agg", "map_batches", "join", "dedup", "topn", "union", "limit", "write_parquet"}
		msg := fmt.Sprintf("unknown operator %q", n.Op)
		if s := plan.Suggest(n.Op, ops); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, rberr.New(rberr.Plan, "%s", msg)
	}
	return ln, nil
}

func boundSchema(bs []expr.Bound) *arrow.Schema {
	fields := make([]arrow.Field, len(bs))
	for i, b := range bs {
		fields[i] = arrow.Field{Name: b.Name, Type: b.Type(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// hashable reports whether values of type dt can be keys (group_by, key_by, joins, dedup).
// Dictionary keys are decoded first (see keyExpr), so a dictionary type is not hashable here.
func hashable(dt arrow.DataType) bool { return expr.HashableType(dt) }

// keyExpr prepares a key expression: a dictionary-encoded key is decoded to its values,
// which are what the key means (and what the output column holds).
func keyExpr(bk expr.Bound) expr.Bound {
	bk.Expr = expr.DecodeDictionary(bk.Expr)
	return bk
}

// require computes the columns each scan must read: only those some operator above uses.
// need is the set of output columns of n that are used; nil means all.
func (b *binder) require(n *plan.Node, ln *lnode, need map[string]bool) {
	refs := func(es ...*plan.Expr) map[string]bool {
		m := map[string]bool{}
		for _, e := range es {
			collectCols(e, m)
		}
		return m
	}
	union := func(a, c map[string]bool) map[string]bool {
		if a == nil {
			return nil
		}
		for k := range c {
			a[k] = true
		}
		return a
	}
	switch n.Op {
	case "scan_parquet":
		if need == nil {
			return
		}
		if n.EventTime != "" {
			need[n.EventTime] = true
		}
		var cols []string
		for _, f := range ln.schema.Fields() {
			if need[f.Name] {
				cols = append(cols, f.Name)
			}
		}
		if len(cols) == 0 && ln.schema.NumFields() > 0 {
			cols = []string{ln.schema.Field(0).Name} // row counts still need one column
		}
		b.columns[n] = cols
	case "filter":
		b.require(n.Input, ln.inputs[0], union(need, refs(n.Predicate)))
	case "select":
		b.require(n.Input, ln.inputs[0], refs(n.Exprs...))
	case "with_columns":
		var m map[string]bool
		if need != nil {
			m = map[string]bool{}
			defined := map[string]bool{}
			for _, e := range n.Exprs {
				defined[expr.OutputName(e)] = true
			}
			for k := range need {
				if !defined[k] {
					m[k] = true
				}
			}
			union(m, refs(n.Exprs...))
		}
		b.require(n.Input, ln.inputs[0], m)
	case "aggregate":
		b.require(n.Input, ln.inputs[0], refs(append(append([]*plan.Expr{}, n.Keys...), n.Aggs...)...))
	case "window_agg":
		if ln.lateOutput {
			b.require(n.Input, ln.inputs[0], nil)
			return
		}
		m := refs(append(append([]*plan.Expr{}, n.Keys...), n.Aggs...)...)
		if ln.winTime != "" {
			m[ln.winTime] = true
		}
		b.require(n.Input, ln.inputs[0], m)
	case "union":
		for i, sub := range n.Inputs {
			var m map[string]bool
			if need != nil {
				m = map[string]bool{}
				for k := range need {
					m[k] = true
				}
			}
			b.require(sub, ln.inputs[i], m)
		}
	case "limit":
		b.require(n.Input, ln.inputs[0], need)
	case "map_batches":
		b.require(n.Input, ln.inputs[0], nil) // the function sees every column
	case "dedup", "topn":
		b.require(n.Input, ln.inputs[0], nil)
	case "join":
		b.require(n.Inputs[0], ln.inputs[0], nil)
		b.require(n.Inputs[1], ln.inputs[1], nil)
	case "write_parquet":
		b.require(n.Input, ln.inputs[0], nil)
	}
}

func collectCols(e *plan.Expr, m map[string]bool) {
	if e == nil {
		return
	}
	if e.Col != nil {
		m[*e.Col] = true
	}
	for _, a := range e.Args {
		collectCols(a, m)
	}
}

// bindEventTime applies a source's event_time settings.
func (b *binder) bindEventTime(n *plan.Node, ln *lnode) error {
	spec, err := runtime.SourceEventTime(n, ln.schema, ln.name)
	if err != nil {
		return err
	}
	if spec != nil {
		ln.wm, ln.timeCol = spec, spec.Column
	}
	return nil
}

// bindGenerator builds a datagen or nexmark source.
func (b *binder) bindGenerator(n *plan.Node, ln *lnode) error {
	if n.Rate < 0 {
		return rberr.New(rberr.Plan, "%s: the rate must be positive, got %v", ln.name, n.Rate)
	}
	ln.rate, ln.count = n.Rate, -1
	if n.Count != nil {
		if *n.Count < 0 {
			return rberr.New(rberr.Plan, "%s: the number of rows must not be negative, got %d", ln.name, *n.Count)
		}
		ln.count = *n.Count
	}
	spacing := int64(n.Rate)
	var err error
	if n.Op == "nexmark" {
		ln.genEvents = true
		if spacing == 0 {
			spacing = 100_000
		}
		ln.gen, err = gen.NewNexmark(gen.NexmarkConfig{Seed: n.Seed, EventsPerSecond: spacing}, n.Kind)
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", ln.name)
		}
		if n.EventTime == "" {
			// The standard Nexmark watermark: event time minus 4 seconds.
			n2 := *n
			n2.EventTime = "date_time"
			if n2.MaxOutOfOrderness == "" {
				n2.MaxOutOfOrderness = "4s"
			}
			n = &n2
		}
	} else {
		if len(n.Fields) == 0 {
			return rberr.New(rberr.Plan, "%s: no fields given", ln.name)
		}
		fields := make([]arrow.Field, len(n.Fields))
		specs := map[string]gen.FieldSpec{}
		for i, f := range n.Fields {
			dt, err := expr.ParseType(f.Type)
			if err != nil {
				return rberr.Wrap(rberr.Plan, err, "%s: field %q", ln.name, f.Name)
			}
			fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: f.Nulls > 0}
			specs[f.Name] = gen.FieldSpec{Kind: f.Kind, Min: f.Min, Max: f.Max, Length: f.Length, Nulls: f.Nulls}
		}
		if spacing == 0 {
			spacing = 1000
		}
		ln.gen, err = gen.NewDatagen(arrow.NewSchema(fields, nil), gen.DatagenConfig{Seed: n.Seed, RowsPerSecond: spacing, Fields: specs})
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", ln.name)
		}
	}
	ln.schema = ln.gen.Schema()
	if err := b.bindEventTime(n, ln); err != nil {
		return err
	}
	if ln.wm != nil {
		// Nexmark's date_time and every datagen timestamp or date column carry the row's
		// event time, non-decreasing in the sequence index.
		id := ln.schema.Field(ln.schema.FieldIndices(ln.wm.Column)[0]).Type.ID()
		ln.genTime = (n.Op == "nexmark" && ln.wm.Column == "date_time") ||
			(n.Op == "datagen" && (id == arrow.TIMESTAMP || id == arrow.DATE32))
	}
	return nil
}

// bindWindow validates a window aggregation.
func (b *binder) bindWindow(n *plan.Node, ln, in *lnode) error {
	name := ln.name
	if n.Window == nil {
		return rberr.New(rberr.Plan, "%s: no window given", name)
	}
	win, err := compileWindower(n.Window, name)
	if err != nil {
		return err
	}
	ln.win, ln.winDef = win, n.Window
	switch n.Window.Time {
	case "", "event":
	case "processing":
		ln.processing = true
	default:
		return rberr.New(rberr.Plan, "%s: window time must be \"event\" or \"processing\", got %q", name, n.Window.Time)
	}
	if ln.processing && win.kind == "session" {
		return rberr.New(rberr.Plan, "%s: session windows need event time", name)
	}
	timeType := arrow.DataType(&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	if !ln.processing {
		col := n.Window.On
		if col == "" {
			col = in.timeCol
		}
		if col == "" {
			return rberr.New(rberr.Plan, "%s: the input has no event time; pass event_time=<column> to the source, or window(..., on=<column>)", name)
		}
		idx := in.schema.FieldIndices(col)
		if len(idx) == 0 {
			return (&expr.CompileScope{Schema: in.schema, Op: name}).ColumnNotFound(col)
		}
		timeType = in.schema.Field(idx[0]).Type
		if !expr.TimeColumnOK(timeType) {
			return rberr.New(rberr.Type, "%s: event time column %q is %s; it must be a timestamp, a date or int64 epoch milliseconds", name, col, expr.TypeName(timeType))
		}
		ln.winTime = col
	}
	if n.AllowedLateness != "" {
		if ln.processing {
			return rberr.New(rberr.Plan, "%s: allowed_lateness applies to event-time windows only", name)
		}
		d, err := plan.ParseDuration(n.AllowedLateness)
		if err != nil || d < 0 {
			return rberr.New(rberr.Plan, "%s: allowed_lateness: %v", name, runtime.ErrOrNegative(err))
		}
		ln.lateness = d
	}
	switch n.Output {
	case "", "results":
	case "late":
		ln.lateOutput = true
	default:
		return rberr.New(rberr.Plan, "%s: output must be \"results\" or \"late\", got %q", name, n.Output)
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: name}
	seen := map[string]bool{"window_start": true, "window_end": true}
	var keyFields, aggFields []arrow.Field
	for _, k := range n.Keys {
		bk, err := scope.CompileNamed(k)
		if err != nil {
			return err
		}
		bk = keyExpr(bk)
		if !hashable(bk.Type()) {
			return rberr.New(rberr.Type, "%s: cannot key by %s of type %s", name, bk, expr.TypeName(bk.Type()))
		}
		if seen[bk.Name] {
			return rberr.New(rberr.Plan, "%s: the key %q is given twice or clashes with window_start/window_end", name, bk.Name)
		}
		seen[bk.Name] = true
		ln.keys = append(ln.keys, bk)
		keyFields = append(keyFields, arrow.Field{Name: bk.Name, Type: bk.Type(), Nullable: true})
	}
	if len(n.Aggs) == 0 {
		return rberr.New(rberr.Plan, "%s: no aggregations given to agg(...)", name)
	}
	for _, a := range n.Aggs {
		spec, err := agg.Compile(scope, a)
		if err != nil {
			return err
		}
		if seen[spec.Name] {
			return rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, spec.Name)
		}
		seen[spec.Name] = true
		ln.aggs = append(ln.aggs, spec)
		aggFields = append(aggFields, arrow.Field{Name: spec.Name, Type: spec.OutType, Nullable: true})
	}
	if ln.lateOutput {
		ln.schema, ln.timeCol = in.schema, in.timeCol
		return nil
	}
	fields := append(keyFields, arrow.Field{Name: "window_start", Type: timeType}, arrow.Field{Name: "window_end", Type: timeType})
	ln.schema = arrow.NewSchema(append(fields, aggFields...), nil)
	ln.timeCol = ""
	return nil
}

func (b *binder) compileKeys(n *plan.Node, ln, in *lnode, what string) error {
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	for _, k := range n.Keys {
		bk, err := scope.CompileNamed(k)
		if err != nil {
			return err
		}
		bk = keyExpr(bk)
		if !hashable(bk.Type()) {
			return rberr.New(rberr.Type, "%s: cannot %s by %s of type %s", ln.name, what, bk, expr.TypeName(bk.Type()))
		}
		ln.keys = append(ln.keys, bk)
	}
	return nil
}

// bindDedup validates a deduplication: keys and the event-time bound.
func (b *binder) bindDedup(n *plan.Node, ln, in *lnode) error {
	if len(n.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: give the columns that identify duplicates", ln.name)
	}
	if err := b.compileKeys(n, ln, in, "deduplicate"); err != nil {
		return err
	}
	if in.timeCol == "" {
		return rberr.New(rberr.Plan, "%s: the input has no event time; pass event_time=<column> to the source", ln.name)
	}
	ln.within = math.MaxInt64
	if n.Within != "" {
		d, err := plan.ParseDuration(n.Within)
		if err != nil || d <= 0 {
			return rberr.New(rberr.Plan, "%s: within: %v", ln.name, runtime.ErrOrNegative(err))
		}
		ln.within = d
	}
	ln.schema, ln.timeCol = in.schema, in.timeCol
	return nil
}

// bindTopN validates a top-N per partition and window.
func (b *binder) bindTopN(n *plan.Node, ln, in *lnode) error {
	if n.N == nil || *n.N <= 0 {
		return rberr.New(rberr.Plan, "%s: n must be a positive number of rows", ln.name)
	}
	if n.OrderBy == nil {
		return rberr.New(rberr.Plan, "%s: give the column to rank by", ln.name)
	}
	if err := b.compileKeys(n, ln, in, "rank"); err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	ob, err := scope.Compile(n.OrderBy)
	if err != nil {
		return err
	}
	ob = expr.DecodeDictionary(ob) // ranks by the values
	if t := ob.Type(); !expr.IsNumeric(t) && !expr.IsString(t) && !expr.IsTemporal(t) && t.ID() != arrow.BOOL {
		return rberr.New(rberr.Type, "%s: cannot rank by %s of type %s", ln.name, ob, expr.TypeName(t))
	}
	ln.orderBy, ln.descending, ln.withTies, ln.limit = ob, n.Descending, n.WithTies, *n.N
	fields := append([]arrow.Field{}, in.schema.Fields()...)
	if n.Window != nil {
		if ln.win, err = compileWindower(n.Window, ln.name); err != nil {
			return err
		}
		if ln.win.kind == "session" {
			return rberr.New(rberr.Plan, "%s: top-N takes tumbling, sliding or cumulate windows", ln.name)
		}
		col := n.Window.On
		if col == "" {
			col = in.timeCol
		}
		if col == "" {
			return rberr.New(rberr.Plan, "%s: the input has no event time; pass event_time=<column> to the source", ln.name)
		}
		idx := in.schema.FieldIndices(col)
		if len(idx) == 0 {
			return (&expr.CompileScope{Schema: in.schema, Op: ln.name}).ColumnNotFound(col)
		}
		ln.winTime, ln.topWindow = col, true
		tt := in.schema.Field(idx[0]).Type
		if in.schema.HasField("window_start") || in.schema.HasField("window_end") {
			return rberr.New(rberr.Plan, "%s: the input already has window_start/window_end columns; rank them with top_n on the window result", ln.name)
		}
		fields = append(fields, arrow.Field{Name: "window_start", Type: tt}, arrow.Field{Name: "window_end", Type: tt})
	} else {
		for _, c := range []string{"window_start", "window_end"} {
			if !in.schema.HasField(c) {
				return rberr.New(rberr.Plan, "%s: without a window, top-N ranks the rows of each window of a window result, but the input has no %q column", ln.name, c)
			}
		}
	}
	if in.schema.HasField("rank") {
		return rberr.New(rberr.Plan, "%s: the input already has a column named \"rank\"", ln.name)
	}
	fields = append(fields, arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int64})
	ln.schema = arrow.NewSchema(fields, nil)
	return nil
}

// bindJoin validates a join of two inputs.
func (b *binder) bindJoin(n *plan.Node, ln *lnode, left, right *lnode) error {
	name := ln.name
	js := &joinSpec{name: name, how: n.How, leftSchema: left.schema, rightSchema: right.schema}
	if len(n.LeftOn) == 0 || len(n.LeftOn) != len(n.RightOn) {
		return rberr.New(rberr.Plan, "%s: give the same number of join keys for both sides (left_on and right_on, or on)", name)
	}
	ls := &expr.CompileScope{Schema: left.schema, Op: name + " (left)"}
	rs := &expr.CompileScope{Schema: right.schema, Op: name + " (right)"}
	dropRight := map[string]bool{}
	for i := range n.LeftOn {
		lk, err := ls.Compile(n.LeftOn[i])
		if err != nil {
			return err
		}
		rk, err := rs.Compile(n.RightOn[i])
		if err != nil {
			return err
		}
		lk, rk = expr.DecodeDictionary(lk), expr.DecodeDictionary(rk)
		t, ok := expr.ComparableType(lk.Type(), rk.Type())
		if !ok || !hashable(t) {
			return rberr.New(rberr.Type, "%s: cannot join %s (%s) with %s (%s)", name, lk, expr.TypeName(lk.Type()), rk, expr.TypeName(rk.Type()))
		}
		if !arrow.TypeEqual(lk.Type(), t) {
			lk = &expr.CastExpr{Arg: lk, To: t}
		}
		if !arrow.TypeEqual(rk.Type(), t) {
			rk = &expr.CastExpr{Arg: rk, To: t}
		}
		js.leftKeys = append(js.leftKeys, lk)
		js.rightKeys = append(js.rightKeys, rk)
		js.keyTypes = append(js.keyTypes, t)
		if n.LeftOn[i].Col != nil && n.RightOn[i].Col != nil && *n.LeftOn[i].Col == *n.RightOn[i].Col {
			dropRight[*n.RightOn[i].Col] = true
		}
	}
	timeOf := func(side *lnode, what string) (int, error) {
		if side.timeCol == "" {
			return 0, rberr.New(rberr.Plan, "%s: the %s input has no event time; pass event_time=<column> to its source", name, what)
		}
		return side.schema.FieldIndices(side.timeCol)[0], nil
	}
	var err error
	if js.leftTime, err = timeOf(left, "left"); err != nil {
		return err
	}
	if js.rightTime, err = timeOf(right, "right"); err != nil {
		return err
	}
	js.timeType = left.schema.Field(js.leftTime).Type
	suffix := n.Suffix
	if suffix == "" {
		suffix = "_right"
	}
	fields := append([]arrow.Field{}, left.schema.Fields()...)
	names := map[string]bool{}
	for _, f := range fields {
		names[f.Name] = true
	}
	for i, f := range right.schema.Fields() {
		if dropRight[f.Name] {
			continue
		}
		if names[f.Name] {
			f.Name += suffix
			if names[f.Name] {
				return rberr.New(rberr.Plan, "%s: the right column %q clashes with a left column even with the suffix %q", name, f.Name, suffix)
			}
		}
		names[f.Name] = true
		if n.How == "asof" {
			f.Nullable = true
		}
		fields = append(fields, f)
		js.rightKeep = append(js.rightKeep, i)
	}
	switch n.How {
	case "window":
		if n.Window == nil {
			return rberr.New(rberr.Plan, "%s: a window join needs a window", name)
		}
		if js.win, err = compileWindower(n.Window, name); err != nil {
			return err
		}
		if js.win.kind == "session" {
			return rberr.New(rberr.Plan, "%s: window joins take tumbling, sliding or cumulate windows", name)
		}
		if names["window_start"] || names["window_end"] {
			return rberr.New(rberr.Plan, "%s: the inputs already have window_start/window_end columns", name)
		}
		fields = append(fields, arrow.Field{Name: "window_start", Type: js.timeType}, arrow.Field{Name: "window_end", Type: js.timeType})
	case "interval":
		if n.Lower == "" || n.Upper == "" {
			return rberr.New(rberr.Plan, "%s: an interval join needs lower and upper bounds", name)
		}
		if js.lower, err = parseSignedDuration(n.Lower); err != nil {
			return rberr.New(rberr.Plan, "%s: lower: %v", name, err)
		}
		if js.upper, err = parseSignedDuration(n.Upper); err != nil {
			return rberr.New(rberr.Plan, "%s: upper: %v", name, err)
		}
		if js.lower > js.upper {
			return rberr.New(rberr.Plan, "%s: lower bound %s is above upper bound %s", name, n.Lower, n.Upper)
		}
	case "asof":
	default:
		msg := fmt.Sprintf("%s: unknown join kind %q", name, n.How)
		if s := plan.Suggest(n.How, []string{"window", "interval", "asof"}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return rberr.New(rberr.Plan, "%s", msg)
	}
	js.schema = arrow.NewSchema(fields, nil)
	ln.join = js
	ln.schema = js.schema
	if n.How != "window" {
		ln.timeCol = left.timeCol
	}
	return nil
}
