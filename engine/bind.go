package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
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
	source int
	// filter
	pred     cexpr
	predExpr *Expr
	// select, with_columns
	exprs []bound
	// aggregate
	keys []bound
	aggs []aggSpec
	// limit
	limit int64
	// write_parquet
	path string
}

// binder binds a logical plan. It caches opened datasets so that binding twice (before
// and after projection pushdown) reads each footer once.
type binder struct {
	inputs   []*arrow.Schema
	datasets map[*Node]*batch.Dataset
	columns  map[*Node][]string // pushed-down projections of scans
	counter  int
}

// Bind validates a plan completely against its input schemas (one per scan_arrow source)
// and returns the bound tree with projections pushed into the scans.
func Bind(p *Plan, inputs []*arrow.Schema) (*lnode, error) {
	b := &binder{inputs: inputs, datasets: map[*Node]*batch.Dataset{}}
	first, err := b.bind(p.Root)
	if err != nil {
		return nil, err
	}
	b.columns = map[*Node][]string{}
	b.require(p.Root, first, nil)
	b.counter = 0
	return b.bind(p.Root)
}

func (b *binder) bind(n *Node) (*lnode, error) {
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
		scope := &compileScope{schema: ds.Schema, op: name}
		if cols == nil {
			for i := range ds.Schema.Fields() {
				ln.projection = append(ln.projection, i)
			}
		} else {
			for _, c := range cols {
				idx := ds.Schema.FieldIndices(c)
				if len(idx) == 0 {
					return nil, scope.columnNotFound(c)
				}
				ln.projection = append(ln.projection, idx[0])
			}
		}
		fields := make([]arrow.Field, len(ln.projection))
		for i, idx := range ln.projection {
			fields[i] = ds.Schema.Field(idx)
		}
		ln.schema = arrow.NewSchema(fields, nil)
	case "scan_arrow":
		if n.Source < 0 || n.Source >= len(b.inputs) {
			return nil, rberr.New(rberr.Plan, "%s: input %d was not provided (%d inputs given)", name, n.Source, len(b.inputs))
		}
		ln.source = n.Source
		ln.schema = b.inputs[n.Source]
	case "filter":
		in, err := single()
		if err != nil {
			return nil, err
		}
		scope := &compileScope{schema: in.schema, op: name}
		pred, err := scope.compile(n.Predicate)
		if err != nil {
			return nil, err
		}
		if pred.Type().ID() != arrow.BOOL {
			return nil, rberr.New(rberr.Type, "%s: the predicate %s is %s, not bool; compare it, e.g. %s > 0", name, pred, TypeName(pred.Type()), pred)
		}
		ln.pred, ln.predExpr, ln.schema = pred, n.Predicate, in.schema
	case "select", "with_columns":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if len(n.Exprs) == 0 && n.Op == "select" {
			return nil, rberr.New(rberr.Plan, "%s: no columns selected", name)
		}
		scope := &compileScope{schema: in.schema, op: name}
		var out []bound
		if n.Op == "with_columns" {
			for i, f := range in.schema.Fields() {
				out = append(out, bound{cexpr: &colExpr{idx: i, name: f.Name, dt: f.Type}, name: f.Name})
			}
		}
		seen := map[string]bool{}
		for _, e := range n.Exprs {
			be, err := scope.compileNamed(e)
			if err != nil {
				return nil, err
			}
			if seen[be.name] {
				return nil, rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, be.name)
			}
			seen[be.name] = true
			replaced := false
			for i := range out {
				if out[i].name == be.name {
					out[i], replaced = be, true
				}
			}
			if !replaced {
				out = append(out, be)
			}
		}
		ln.exprs = out
		ln.schema = boundSchema(out)
	case "aggregate":
		in, err := single()
		if err != nil {
			return nil, err
		}
		scope := &compileScope{schema: in.schema, op: name}
		if len(n.Aggs) == 0 {
			return nil, rberr.New(rberr.Plan, "%s: no aggregations given to agg(...)", name)
		}
		seen := map[string]bool{}
		var fields []arrow.Field
		for _, k := range n.Keys {
			bk, err := scope.compileNamed(k)
			if err != nil {
				return nil, err
			}
			if !hashable(bk.Type()) {
				return nil, rberr.New(rberr.Type, "%s: cannot group by %s of type %s", name, bk, TypeName(bk.Type()))
			}
			if seen[bk.name] {
				return nil, rberr.New(rberr.Plan, "%s: the key %q is given twice", name, bk.name)
			}
			seen[bk.name] = true
			ln.keys = append(ln.keys, bk)
			fields = append(fields, arrow.Field{Name: bk.name, Type: bk.Type(), Nullable: true})
		}
		for _, a := range n.Aggs {
			spec, err := compileAgg(scope, a)
			if err != nil {
				return nil, err
			}
			if seen[spec.name] {
				return nil, rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, spec.name)
			}
			seen[spec.name] = true
			ln.aggs = append(ln.aggs, spec)
			fields = append(fields, arrow.Field{Name: spec.name, Type: spec.outType, Nullable: true})
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
			if i > 0 && !sameColumns(ln.inputs[0].schema, in.schema) {
				return nil, rberr.New(rberr.Schema, "%s: input %d has columns %s but input 0 has %s; select the same columns with the same types on both sides", name, i, describeSchema(in.schema), describeSchema(ln.inputs[0].schema))
			}
			ln.inputs = append(ln.inputs, in)
		}
		ln.schema = ln.inputs[0].schema
	case "limit":
		in, err := single()
		if err != nil {
			return nil, err
		}
		if n.N == nil || *n.N < 0 {
			return nil, rberr.New(rberr.Plan, "%s: needs a non-negative number of rows", name)
		}
		ln.limit, ln.schema = *n.N, in.schema
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
				return nil, rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to Parquet yet", name, f.Name, TypeName(f.Type))
			}
		}
		ln.path = n.Path
		ln.schema = writeSummarySchema
	default:
		ops := []string{"scan_parquet", "scan_arrow", "filter", "select", "with_columns", "aggregate", "union", "limit", "write_parquet"}
		msg := fmt.Sprintf("unknown operator %q", n.Op)
		if s := suggest(n.Op, ops); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, rberr.New(rberr.Plan, "%s", msg)
	}
	return ln, nil
}

func boundSchema(bs []bound) *arrow.Schema {
	fields := make([]arrow.Field, len(bs))
	for i, b := range bs {
		fields[i] = arrow.Field{Name: b.name, Type: b.Type(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}

func describeSchema(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = fmt.Sprintf("%s: %s", f.Name, TypeName(f.Type))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func hashable(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.NULL:
		return true
	}
	if _, ok := dt.(arrow.FixedWidthDataType); ok {
		return dt.ID() != arrow.DECIMAL128 && dt.ID() != arrow.DECIMAL256
	}
	return false
}

// require computes the columns each scan must read: only those some operator above uses.
// need is the set of output columns of n that are used; nil means all.
func (b *binder) require(n *Node, ln *lnode, need map[string]bool) {
	refs := func(es ...*Expr) map[string]bool {
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
				defined[outputName(e)] = true
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
		b.require(n.Input, ln.inputs[0], refs(append(append([]*Expr{}, n.Keys...), n.Aggs...)...))
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
	case "write_parquet":
		b.require(n.Input, ln.inputs[0], nil)
	}
}

func collectCols(e *Expr, m map[string]bool) {
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
