package engine

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// lnode is a bound logical operator: what every operator has (its inputs, output schema,
// event time and whether its output is updating); the operator's own arguments and what
// binding resolved for them are in impl, the operator's type (op_<name>.go).
type lnode struct {
	op     string    // the operator's name ("filter")
	impl   logicalOp // the operator
	name   string    // for messages and explain: "filter", or the user's id
	uid    string    // the user's stable operator id (checkpoints), if given
	schema *arrow.Schema
	inputs []*lnode

	// changelog names the operator whose updating result (a changelog, with an op column)
	// this node's output carries; "" for an append-only stream (changelog.go).
	changelog string
	// changelogKeys are the columns that identify a row of an updating result (a
	// group_by's keys, while they survive unchanged); nil when none do (a join's).
	changelogKeys []string
	// noKeyWhy says why an updating result has no changelogKeys (for errors).
	noKeyWhy string
	// changelogFiltered: a filter passed the changes on (since the operator that made
	// them), so a -U may have lost its +U (the group's new row did not pass): the key left
	// the result.
	changelogFiltered bool

	// event time: the column that carries it (propagated while it survives), and on
	// sources the watermark settings
	timeCol string
	timeIdx int // the index of timeCol in schema, resolved once bound; -1: none
	wm      *runtime.WatermarkSpec
}

// binder binds a logical plan. It caches opened datasets so that binding twice (before
// and after projection pushdown) reads each footer once.
type binder struct {
	inputs   []*arrow.Schema
	datasets map[*plan.Node]*batch.Dataset
	columns  map[*plan.Node][]string // pushed-down projections of scans
	// selects: the output columns of each select that some consumer uses (the rest are
	// not computed, and the columns only they read are not read)
	selects map[*plan.Node]map[string]bool
	// filters: the columns of each filter's input that its consumers use (the filter
	// passes on only those: less to filter, to exchange and to keep)
	filters map[*plan.Node]map[string]bool
	// joins: the output columns of each relational join that its consumers use (it
	// gathers only those)
	joins map[*plan.Node]map[string]bool
	// unions: the columns a union's consumers need (its inputs may carry more, where one
	// of them is shared with a consumer needing more, and are narrowed to these)
	unions map[*plan.Node]map[string]bool
	// noWindowTime: window aggregations whose window_time column no consumer uses
	noWindowTime map[*plan.Node]bool
	counter      int
	// A plan is a DAG: a node used in several places is bound once.
	bound map[*plan.Node]*lnode
	// require: consumer edges of each node not yet reported, and the columns they need
	// so far (a nil entry in needAll: all columns).
	pending map[*plan.Node]int
	need    map[*plan.Node]map[string]bool
	needAll map[*plan.Node]bool
	// JSON schemas of Kafka reads inferred from a sample, so both bindings agree.
	kafkaSchemas kafkaSchemaCache
	// CSV and NDJSON datasets (schemas inferred once).
	texts map[*plan.Node]*batch.TextDataset
	// cache: Parquet datasets shared by the binds of one planning (nil: none)
	cache *BindCache
}

// BindCache keeps the Parquet datasets (their footers) that binding opened, by the paths
// read, for a planner that binds a growing plan many times (the SQL planner binds each
// node it adds): each dataset is opened once. A bind with a cache validates and
// describes the outputs only: it stops before pushing projections into the scans (the
// run binds the finished plan in full). Not safe for concurrent use.
type BindCache struct {
	datasets map[string]*batch.Dataset
}

// NewBindCache makes an empty BindCache.
func NewBindCache() *BindCache { return &BindCache{datasets: map[string]*batch.Dataset{}} }

// Bind validates a plan completely against its input schemas (one per scan_arrow source)
// and returns its bound outputs, with projections pushed into the scans. A node used in
// several places (a shared node) is bound once: it is one *lnode with one schema.
func Bind(p *plan.Plan, inputs []*arrow.Schema) ([]*lnode, error) {
	return bindWith(p, inputs, nil)
}

func bindWith(p *plan.Plan, inputs []*arrow.Schema, cache *BindCache) ([]*lnode, error) {
	b := &binder{inputs: inputs, datasets: map[*plan.Node]*batch.Dataset{}, cache: cache}
	outs := p.Outputs
	if len(outs) == 0 && p.Root != nil {
		outs = []*plan.Node{p.Root}
	}
	if err := prepareNodes(outs); err != nil {
		return nil, err
	}
	first, err := b.bindAll(outs)
	if err != nil {
		return nil, err
	}
	if cache != nil {
		// A planner asks for schemas: the first pass has them (the second only pushes
		// projections into the scans, which the plan it grows is bound for in the end).
		return first, nil
	}
	b.columns = map[*plan.Node][]string{}
	b.selects = map[*plan.Node]map[string]bool{}
	b.filters = map[*plan.Node]map[string]bool{}
	b.joins = map[*plan.Node]map[string]bool{}
	b.unions = map[*plan.Node]map[string]bool{}
	b.noWindowTime = map[*plan.Node]bool{}
	b.pending = map[*plan.Node]int{}
	b.need = map[*plan.Node]map[string]bool{}
	b.needAll = map[*plan.Node]bool{}
	seen := map[*plan.Node]bool{}
	var count func(n *plan.Node)
	count = func(n *plan.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		for _, in := range append([]*plan.Node{n.Input}, n.Inputs...) {
			if in != nil {
				b.pending[in]++
				count(in)
			}
		}
	}
	for _, out := range outs {
		b.pending[out]++
		count(out)
	}
	for i, out := range outs {
		b.require(out, first[i], nil)
	}
	b.counter = 0
	return b.bindAll(outs)
}

// prepareNodes decodes the arguments of every node into its operator's type (refusing
// fields it does not take) and applies the operators' rewrites, inputs first. A node of
// an unknown operator is left for bindNode to report.
func prepareNodes(outs []*plan.Node) error {
	seen := map[*plan.Node]bool{}
	var walk func(n *plan.Node) error
	walk = func(n *plan.Node) error {
		if n == nil || seen[n] {
			return nil
		}
		seen[n] = true
		for _, in := range append([]*plan.Node{n.Input}, n.Inputs...) {
			if err := walk(in); err != nil {
				return err
			}
		}
		for {
			def, ok := logicalOps[n.Op]
			if !ok {
				return nil
			}
			args, err := def.args(n, opName(n))
			if err != nil {
				return err
			}
			n.Args = args
			op := n.Op
			if def.rewrite == nil {
				return nil
			}
			if def.rewrite(n); n.Op == op {
				return nil
			}
		}
	}
	for _, out := range outs {
		if err := walk(out); err != nil {
			return err
		}
	}
	return nil
}

// opName names a node for messages: its operator, with the user's id if it has one.
func opName(n *plan.Node) string {
	if n.ID != "" {
		return fmt.Sprintf("%s %q", n.Op, n.ID)
	}
	return n.Op
}

func (b *binder) bindAll(outs []*plan.Node) ([]*lnode, error) {
	b.bound = map[*plan.Node]*lnode{}
	res := make([]*lnode, len(outs))
	for i, out := range outs {
		ln, err := b.bind(out)
		if err != nil {
			return nil, err
		}
		res[i] = ln
	}
	return res, nil
}

func (b *binder) bind(n *plan.Node) (*lnode, error) {
	if n == nil {
		return nil, rberr.New(rberr.Plan, "operator has no input")
	}
	if ln, ok := b.bound[n]; ok {
		return ln, nil
	}
	ln, err := b.bindNode(n)
	if err != nil {
		return nil, err
	}
	b.bound[n] = ln
	return ln, nil
}

func (b *binder) bindNode(n *plan.Node) (*lnode, error) {
	b.counter++
	name := opName(n)
	def, ok := logicalOps[n.Op]
	if !ok {
		msg := fmt.Sprintf("unknown operator %q", n.Op)
		if s := plan.Suggest(n.Op, opNames()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, rberr.New(rberr.Plan, "%s", msg)
	}
	args, err := def.args(n, name)
	if err != nil {
		return nil, err
	}
	op := def.newOp(args)
	ln := &lnode{op: n.Op, impl: op, name: name, uid: n.UID}
	err = op.bind(b, n, ln)
	// An updating input the operator cannot take is the first thing to say, whatever else
	// its binding found.
	if cerr := checkChangelogInput(ln); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	if err := ln.resolveTime(); err != nil {
		return nil, err
	}
	return ln, nil
}

// resolveTime sets timeIdx, the index of the event-time column in the node's output.
// Column indexes are resolved in bind, once: physical planning does not look names up.
func (ln *lnode) resolveTime() error {
	ln.timeIdx = -1
	if ln.timeCol != "" {
		idx := ln.schema.FieldIndices(ln.timeCol)
		if len(idx) != 1 {
			return rberr.New(rberr.Internal, "%s: its event-time column %q is not one column of its output", ln.name, ln.timeCol)
		}
		ln.timeIdx = idx[0]
	}
	return nil
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
//
// A shared node hears from each of its consumers first and passes down the union of what
// they need.
func (b *binder) require(n *plan.Node, ln *lnode, need map[string]bool) {
	if b.pending[n] > 1 {
		b.pending[n]--
		if need == nil {
			b.needAll[n] = true
		} else if !b.needAll[n] {
			if b.need[n] == nil {
				b.need[n] = map[string]bool{}
			}
			for k := range need {
				b.need[n][k] = true
			}
		}
		return
	}
	if b.needAll[n] {
		need = nil
	} else if acc := b.need[n]; acc != nil && need != nil {
		for k := range need {
			acc[k] = true
		}
		need = acc
	}
	ln.impl.require(b, n, ln, need)
}

// passedOn is what a node that narrows its output to its consumers' use passes on: the
// columns they need, and its event time (which goes on with the stream).
func passedOn(ln *lnode, need map[string]bool) map[string]bool {
	keep := make(map[string]bool, len(need)+1)
	for k := range need {
		keep[k] = true
	}
	if ln.timeCol != "" {
		keep[ln.timeCol] = true
	}
	return keep
}

// refs is the set of columns expressions read.
func refs(es ...*plan.Expr) map[string]bool {
	m := map[string]bool{}
	for _, e := range es {
		collectCols(e, m)
	}
	return m
}

// union adds c to a (nil: all columns, which stays nil).
func union(a, c map[string]bool) map[string]bool {
	if a == nil {
		return nil
	}
	for k := range c {
		a[k] = true
	}
	return a
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

// bindEventTime applies a source's event_time settings to its bound node ln, whose schema
// is set.
func bindEventTime(et plan.EventTimeDef, ln *lnode) error {
	spec, err := runtime.SourceEventTime(et, ln.schema, ln.name)
	if err != nil {
		return err
	}
	if spec != nil {
		ln.wm, ln.timeCol = spec, spec.Column
	}
	return nil
}

// bindKeys compiles an operator's key expressions over its input in, checking that each
// can be hashed ("cannot <what> by ...").
func bindKeys(keys []*plan.Expr, ln, in *lnode, what string) ([]expr.Bound, error) {
	bound, _, err := compileKeys(&expr.CompileScope{Schema: in.schema, Op: ln.name}, keys, ln.name, what, nil, "")
	return bound, err
}

// compileKeys compiles an operator's key expressions, checking that each can be hashed
// ("<name>: cannot <what> by ..."), and returns them and their output fields. With seen, a
// key whose output name is taken is an error (clash says what else it may clash with),
// and the name is then taken.
func compileKeys(scope *expr.CompileScope, keys []*plan.Expr, name, what string, seen map[string]bool, clash string) ([]expr.Bound, []arrow.Field, error) {
	return compileKeysOf(scope, keys, name, what, hashable, seen, clash)
}

// compileKeysOf is compileKeys for keys whose types allowed says (sort keys need an order,
// not a hash).
func compileKeysOf(scope *expr.CompileScope, keys []*plan.Expr, name, what string, allowed func(arrow.DataType) bool, seen map[string]bool, clash string) ([]expr.Bound, []arrow.Field, error) {
	var bound []expr.Bound
	var fields []arrow.Field
	for _, k := range keys {
		bk, err := scope.CompileNamed(k)
		if err != nil {
			return nil, nil, err
		}
		bk = keyExpr(bk)
		if !allowed(bk.Type()) {
			return nil, nil, rberr.New(rberr.Type, "%s: cannot %s by %s of type %s", name, what, bk, expr.TypeName(bk.Type()))
		}
		if seen != nil {
			if seen[bk.Name] {
				return nil, nil, rberr.New(rberr.Plan, "%s: the key %q is given twice%s", name, bk.Name, clash)
			}
			seen[bk.Name] = true
		}
		bound = append(bound, bk)
		fields = append(fields, arrow.Field{Name: bk.Name, Type: bk.Type(), Nullable: true})
	}
	return bound, fields, nil
}

// single binds the one input of an operator that takes one.
func (b *binder) single(n *plan.Node, ln *lnode) (*lnode, error) {
	if n.Input == nil {
		return nil, rberr.New(rberr.Plan, "%s: missing input", ln.name)
	}
	in, err := b.bind(n.Input)
	if err != nil {
		return nil, err
	}
	ln.inputs = []*lnode{in}
	return in, nil
}
