package sql

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// rel is a planned relation: a plan node and the columns it offers to SQL.
type rel struct {
	node *plan.Node
	cols []column
	win  *windowTVF // set for TABLE(TUMBLE(...)) until its GROUP BY plans the window
}

// windowTVF is a window table function awaiting its GROUP BY window_start, window_end.
type windowTVF struct {
	def       *plan.WindowDef
	at        Pos
	partition []string // SESSION's PARTITION BY columns (fields of the input)
}

// planner compiles statements into plan nodes.
type planner struct {
	tables  map[string]*plan.Node // registered and created tables, views
	inputs  []*arrow.Schema
	schemas map[*plan.Node]*arrow.Schema
	ctes    []map[string]*cteDef
	counter int // fresh names
	// nullSafeKeys: the join being planned (joinExprs) matches its keys with IS NOT
	// DISTINCT FROM, null equal to null (JoinArgs.NullsEqual)
	nullSafeKeys bool
	created      []string
	ddl          map[string]*CreateTable // the CREATE TABLE statements, by name
	broken       map[string]error        // Parquet tables that could not be read (yet)
	cache        *engine.BindCache       // Parquet footers read once for all its binds
}

type cteDef struct {
	q    *Query
	r    *rel
	busy bool
}

// Compile parses SQL text and plans it over the given tables (plan nodes of the caller's
// streams, whose scan_arrow sources have the input schemas). It returns the plan node of
// the last statement, which must be a query; CREATE TABLE and CREATE VIEW statements
// before it define tables for it.
func Compile(src string, tables map[string]*plan.Node, inputs []*arrow.Schema) (*plan.Node, error) {
	stmts, err := Parse(src)
	if err != nil {
		return nil, err
	}
	pl := &planner{tables: map[string]*plan.Node{}, inputs: inputs, schemas: map[*plan.Node]*arrow.Schema{}, cache: engine.NewBindCache(),
		ddl: map[string]*CreateTable{}, broken: map[string]error{}}
	var brokenOrder []string
	for k, v := range tables {
		pl.tables[k] = v
	}
	var last *plan.Node
	for i, st := range stmts {
		switch st := st.(type) {
		case *CreateTable:
			pl.ddl[st.Name] = st
			n, err := pl.createTable(st)
			if err != nil {
				// a Parquet table may be a sink whose files do not exist yet: its error
				// is reported where it is read, or at the end if it is never written
				if !isSinkable(st) {
					return nil, err
				}
				pl.broken[st.Name] = err
				brokenOrder = append(brokenOrder, st.Name)
				continue
			}
			pl.tables[st.Name] = n
		case *Insert:
			if i != len(stmts)-1 {
				return nil, errorAt(st.P, "only the last statement may be an INSERT INTO")
			}
			n, err := pl.insert(st)
			if err != nil {
				return nil, err
			}
			delete(pl.broken, st.Table)
			last = n
		case *CreateView:
			r, err := pl.query(st.Query)
			if err != nil {
				return nil, err
			}
			pl.tables[st.Name] = r.node
		case *QueryStmt:
			if i != len(stmts)-1 {
				return nil, errorAt(st.P, "only the last statement may be a query")
			}
			r, err := pl.query(st.Query)
			if err != nil {
				return nil, err
			}
			if r.win != nil {
				return nil, unsupported(r.win.at, "a window table function without GROUP BY window_start, window_end")
			}
			last = r.node
		}
	}
	for _, name := range brokenOrder {
		if err, ok := pl.broken[name]; ok {
			return nil, err
		}
	}
	if last == nil {
		return nil, errorAt(stmts[len(stmts)-1].Position(), "the SQL text has no query: end it with a SELECT or an INSERT INTO")
	}
	return last, nil
}

// schemaOf binds a node (and what is under it) with the engine's binder: the output schema,
// or the engine's error.
func (pl *planner) schemaOf(n *plan.Node) (*arrow.Schema, error) {
	if s, ok := pl.schemas[n]; ok {
		return s, nil
	}
	// Binding decodes and rewrites the nodes it binds: it binds a copy (the arguments and
	// expressions shared, which binding does not change).
	root := copyNodes(n, map[*plan.Node]*plan.Node{})
	outs, err := engine.OutputSchemasWith(&plan.Plan{Root: root, Outputs: []*plan.Node{root}}, pl.inputs, pl.cache)
	if err != nil {
		return nil, err
	}
	s := outs[0]
	pl.schemas[n] = s
	return s, nil
}

// copyNodes copies the nodes of a plan, keeping its shared nodes shared.
func copyNodes(n *plan.Node, done map[*plan.Node]*plan.Node) *plan.Node {
	if n == nil {
		return nil
	}
	if c, ok := done[n]; ok {
		return c
	}
	c := *n
	done[n] = &c
	c.Input = copyNodes(n.Input, done)
	if n.Inputs != nil {
		c.Inputs = make([]*plan.Node, len(n.Inputs))
		for i, in := range n.Inputs {
			c.Inputs[i] = copyNodes(in, done)
		}
	}
	return &c
}

// add validates a new node with the binder; an error is reported at the SQL position.
func (pl *planner) add(n *plan.Node, at Pos) (*plan.Node, *arrow.Schema, error) {
	s, err := pl.schemaOf(n)
	if err != nil {
		return nil, nil, atPos(at, err)
	}
	return n, s, nil
}

// relOf is a relation over a node, its columns qualified by qual.
func (pl *planner) relOf(n *plan.Node, qual string, at Pos) (*rel, error) {
	s, err := pl.schemaOf(n)
	if err != nil {
		return nil, atPos(at, err)
	}
	r := &rel{node: n}
	for i, f := range s.Fields() {
		if i == s.NumFields()-1 && f.Name == agg.OpColumn && i > 0 {
			// an updating table (upsert-kafka, a changelog stream): its op column goes
			// on through the operators that take it (docs/changelog.md), unnamed in SQL
			break
		}
		r.cols = append(r.cols, column{qual: qual, name: f.Name, field: f.Name, typ: f.Type})
	}
	return r, nil
}

// ---- queries ----

func (pl *planner) query(q *Query) (*rel, error) {
	if len(q.With) > 0 {
		defs := map[string]*cteDef{}
		for _, c := range q.With {
			defs[c.Name] = &cteDef{q: c.Query}
		}
		pl.ctes = append(pl.ctes, defs)
		defer func() { pl.ctes = pl.ctes[:len(pl.ctes)-1] }()
	}
	var order []*OrderItem
	if len(q.OrderBy) > 0 {
		order = q.OrderBy
	}
	sel, isSelect := q.Body.(*Select)
	var r *rel
	var err error
	if isSelect {
		r, err = pl.selectBlock(sel, order)
		order = nil // planned with the SELECT (it may read columns the SELECT drops)
	} else {
		r, err = pl.body(q.Body)
	}
	if err != nil {
		return nil, err
	}
	if len(order) > 0 {
		if r, err = pl.sort(r, order, &scope{cols: r.cols, clause: "ORDER BY"}, nil); err != nil {
			return nil, err
		}
	}
	if q.Limit != nil || q.Offset != nil {
		if r.win != nil {
			return nil, unsupported(r.win.at, "LIMIT over a window table function")
		}
		n := int64(math.MaxInt64)
		if q.Limit != nil {
			n = *q.Limit
		}
		node, _, err := pl.add(&plan.Node{Op: "limit", Input: r.node, Args: &engine.LimitArgs{N: &n, Offset: q.Offset}}, q.LimitAt)
		if err != nil {
			return nil, err
		}
		r = &rel{node: node, cols: r.cols}
	}
	return r, nil
}

// hiddenQual qualifies the columns of a relation that no name reaches (nor any *).
const hiddenQual = "$hidden"

// windowProjection plans a SELECT of columns of a window table function without GROUP BY,
// as Flink's window joins read them, (SELECT * FROM TABLE(TUMBLE(...))) L: it is the
// window table function still, with the columns chosen (renamed by their aliases), for a
// window join to read. The others stay in its input, out of reach of names. Anything else
// over it is refused.
func (pl *planner) windowProjection(s *Select, from *rel, outs []outCol, order []*OrderItem) (*rel, error) {
	what := "a window table function without GROUP BY window_start, window_end (a SELECT of its columns, as a window join's input, or a window aggregation or top-N)"
	if s.Distinct || len(order) > 0 {
		return nil, unsupported(from.win.at, what)
	}
	in := &scope{cols: from.cols}
	chosen := map[string]column{}
	for _, o := range outs {
		c := o.col
		if c == nil {
			id, ok := o.expr.(*Ident)
			if !ok {
				return nil, unsupported(o.expr.Position(), what)
			}
			var err error
			if c, err = in.resolve(id); err != nil {
				return nil, err
			}
		}
		if _, dup := chosen[c.field]; dup {
			return nil, unsupported(o.at, "a column chosen twice from a window table function")
		}
		cp := *c
		cp.name, cp.shadow, cp.nostar = o.name, false, false
		chosen[c.field] = cp
	}
	// The columns stay in their input's order (a window join lays out its output by it).
	r := &rel{node: from.node, win: from.win}
	for _, c := range from.cols {
		if cp, ok := chosen[c.field]; ok {
			r.cols = append(r.cols, cp)
			continue
		}
		c.qual, c.name, c.nostar = hiddenQual, hiddenQual+" "+c.name, true
		r.cols = append(r.cols, c)
	}
	return r, nil
}

func (pl *planner) body(b QueryBody) (*rel, error) {
	switch b := b.(type) {
	case *Select:
		return pl.selectBlock(b, nil)
	case *ParenQuery:
		return pl.query(b.Query)
	case *SetOp:
		if b.Op != "union" {
			return nil, unsupported(b.P, strings.ToUpper(b.Op))
		}
		l, err := pl.body(b.Left)
		if err != nil {
			return nil, err
		}
		r, err := pl.body(b.Right)
		if err != nil {
			return nil, err
		}
		if len(l.cols) != len(r.cols) {
			return nil, errorAt(b.P, "UNION of %d columns with %d columns", len(l.cols), len(r.cols))
		}
		// Columns of different types meet in their common type (int32 with int64, a
		// decimal with a double; an untyped NULL with anything), as SQL's UNION: each side
		// is cast to it.
		left, right := l.node, r.node
		cols := slices.Clone(l.cols)
		var lexprs []*plan.Expr
		cast := false
		common := make([]bool, len(cols)) // column i is cast to cols[i].typ
		for i, c := range l.cols {
			lt, rt := c.typ, r.cols[i].typ
			lexprs = append(lexprs, colRef(c.field))
			if lt == nil || rt == nil || arrow.TypeEqual(lt, rt) {
				continue
			}
			if ct, ok := expr.CommonType(lt, rt); ok && unionable(lt, rt) {
				cols[i].typ, cast, common[i] = ct, true, true
				if !arrow.TypeEqual(ct, lt) {
					lexprs[i] = alias(&plan.Expr{Cast: ct.String(), Args: []*plan.Expr{colRef(c.field)}}, c.field)
				}
			}
		}
		if cast {
			if left, _, err = pl.add(&plan.Node{Op: "select", Input: left, Args: &engine.SelectArgs{Exprs: lexprs}}, b.P); err != nil {
				return nil, err
			}
		}
		// the engine's union matches columns by name: give the right side the left's names
		var exprs []*plan.Expr
		rename := cast
		for i, c := range r.cols {
			if c.field != l.cols[i].field {
				rename = true
			}
			x := colRef(c.field)
			if t := cols[i].typ; common[i] && !arrow.TypeEqual(t, c.typ) {
				x = &plan.Expr{Cast: t.String(), Args: []*plan.Expr{x}}
			}
			exprs = append(exprs, alias(x, l.cols[i].field))
		}
		if rename {
			if right, _, err = pl.add(&plan.Node{Op: "select", Input: right, Args: &engine.SelectArgs{Exprs: exprs}}, b.P); err != nil {
				return nil, err
			}
		}
		node, _, err := pl.add(&plan.Node{Op: "union", Inputs: []*plan.Node{left, right}}, b.P)
		if err != nil {
			return nil, err
		}
		out := &rel{node: node, cols: cols}
		if !b.All {
			return pl.distinct(out, b.P)
		}
		return out, nil
	}
	return nil, errorAt(b.Position(), "unexpected query")
}

// unionable reports whether UNION casts columns of types a and b to their common type: an
// untyped NULL with anything, numbers (decimals too), strings, timestamps, durations;
// other mixes (a number and a string) stay an error of the union.
func unionable(a, b arrow.DataType) bool {
	number := func(t arrow.DataType) bool { return expr.IsNumeric(t) || t.ID() == arrow.DECIMAL128 }
	return a.ID() == arrow.NULL || b.ID() == arrow.NULL || number(a) && number(b) || expr.IsString(a) && expr.IsString(b) ||
		a.ID() == b.ID() && (a.ID() == arrow.TIMESTAMP || a.ID() == arrow.DURATION)
}

func (pl *planner) distinct(r *rel, at Pos) (*rel, error) {
	var keys []*plan.Expr
	for _, c := range r.cols {
		keys = append(keys, colRef(c.field))
	}
	node, _, err := pl.add(&plan.Node{Op: "unique", Input: r.node, Args: &engine.UniqueArgs{Keys: keys, Mode: "any"}}, at)
	if err != nil {
		return nil, err
	}
	return &rel{node: node, cols: r.cols}, nil
}

// selectItem is one output column of a SELECT: its expression or the column it copies.
type outCol struct {
	name string
	expr Expr    // nil for a column of *
	col  *column // for *
	at   Pos
}

func (pl *planner) selectBlock(s *Select, order []*OrderItem) (*rel, error) {
	if len(s.From) == 0 {
		return nil, unsupported(s.P, "SELECT without FROM")
	}
	if r, ok, err := pl.topN(s, order); ok || err != nil {
		return r, err
	}
	from, err := pl.from(s.From, s.Where)
	if err != nil {
		return nil, err
	}
	// the output columns
	var outs []outCol
	for i, it := range s.Items {
		if it.Star {
			n := 0
			for j := range from.cols {
				c := &from.cols[j]
				if it.Qualifier != "" && !strings.EqualFold(c.qual, it.Qualifier) || it.Qualifier == "" && c.nostar {
					continue
				}
				outs = append(outs, outCol{name: c.name, col: c, at: it.P})
				n++
			}
			if n == 0 {
				return nil, errorKindAt(rberr.ColumnNotFound, it.P, "no table or alias %q for %s.*", it.Qualifier, it.Qualifier)
			}
			continue
		}
		name := it.Alias
		if name == "" {
			switch x := it.Expr.(type) {
			case *Ident:
				name = x.Parts[len(x.Parts)-1]
			default:
				name = "EXPR$" + strconv.Itoa(i)
			}
		}
		outs = append(outs, outCol{name: name, expr: it.Expr, at: it.P})
	}
	// unique output names, as Flink: a repeated name gets a number
	seen := map[string]bool{}
	for i := range outs {
		base, name := outs[i].name, outs[i].name
		for k := 0; seen[name]; k++ {
			name = base + strconv.Itoa(k)
		}
		seen[name] = true
		outs[i].name = name
	}

	grouped := len(s.GroupBy) > 0 || s.Having != nil
	for _, o := range outs {
		if o.expr != nil && containsAggregate(o.expr) {
			grouped = true
		}
	}
	for _, o := range order {
		if containsAggregate(o.Expr) {
			grouped = true
		}
	}
	in := &scope{cols: from.cols}
	if grouped {
		if from, in, err = pl.aggregate(s, from, outs, order); err != nil {
			return nil, err
		}
	} else if from.win != nil {
		return pl.windowProjection(s, from, outs, order)
	}
	// subqueries in the select list become columns of the input (subquery.go)
	in.clause = "SELECT"
	for i, o := range outs {
		if o.expr != nil && containsSubquery(o.expr) {
			if from, outs[i].expr, in, err = pl.markSubqueries(from, o.expr, in); err != nil {
				return nil, err
			}
		}
	}
	// the projection, with hidden columns for ORDER BY expressions it does not output
	var exprs []*plan.Expr
	var cols []column
	for _, o := range outs {
		var x *plan.Expr
		var t arrow.DataType
		if o.col != nil {
			if grouped {
				return nil, errorAt(o.at, "SELECT * in a grouped query: name the GROUP BY columns and aggregates")
			}
			x, t = colRef(o.col.field), o.col.typ
		} else {
			if x, err = pl.expr(o.expr, in); err != nil {
				return nil, err
			}
		}
		exprs = append(exprs, alias(x, o.name))
		cols = append(cols, column{name: o.name, field: o.name, typ: t})
	}
	visible := len(cols)
	var sortKeys []*plan.Expr
	if len(order) > 0 {
		outScope := &scope{cols: cols}
		for i, o := range order {
			if err := orderPosition(o.Expr, visible); err != nil {
				return nil, err
			}
			// an output column by name or position, else an expression of the input
			if k, ok := pl.outputRef(o.Expr, outScope, visible); ok {
				sortKeys = append(sortKeys, k)
				continue
			}
			if s.Distinct {
				return nil, errorAt(o.P, "with SELECT DISTINCT, ORDER BY expressions must be output columns")
			}
			in.clause = "ORDER BY"
			x, err := pl.expr(o.Expr, in)
			if err != nil {
				return nil, err
			}
			name := "_order" + strconv.Itoa(i)
			exprs = append(exprs, alias(x, name))
			cols = append(cols, column{name: name, field: name})
			sortKeys = append(sortKeys, colRef(name))
		}
	}
	node, schema, err := pl.add(&plan.Node{Op: "select", Input: from.node, Args: &engine.SelectArgs{Exprs: exprs}}, s.P)
	if err != nil {
		// report the error at the select item that causes it
		for i, x := range exprs {
			if i < len(outs) {
				if _, e := pl.schemaOf(&plan.Node{Op: "select", Input: from.node, Args: &engine.SelectArgs{Exprs: []*plan.Expr{x}}}); e != nil {
					return nil, atPos(outs[i].at, e)
				}
			}
		}
		return nil, err
	}
	for i := range cols {
		cols[i].typ = schema.Field(i).Type
	}
	r := &rel{node: node, cols: cols}
	if s.Distinct {
		if r, err = pl.distinct(r, s.P); err != nil {
			return nil, err
		}
	}
	if len(order) > 0 {
		if r, err = pl.sort(r, order, nil, sortKeys); err != nil {
			return nil, err
		}
		if len(cols) > visible {
			var keep []*plan.Expr
			for _, c := range cols[:visible] {
				keep = append(keep, colRef(c.field))
			}
			n, _, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: keep}}, s.P)
			if err != nil {
				return nil, err
			}
			r = &rel{node: n, cols: cols[:visible]}
		}
	}
	return r, nil
}

// orderPosition refuses an ORDER BY position that names no output column (ORDER BY 3 of
// two columns would otherwise sort by the constant 3: not at all).
func orderPosition(e Expr, visible int) error {
	if l, ok := e.(*Literal); ok && l.Kind == LitInt {
		if n, err := strconv.Atoi(l.Text); err != nil || n < 1 || n > visible {
			return errorAt(e.Position(), "ORDER BY %s: there is no output column %s (the query has %d)", l.Text, l.Text, visible)
		}
	}
	return nil
}

// outputRef resolves an ORDER BY item against the output columns: a name or a position.
func (pl *planner) outputRef(e Expr, out *scope, visible int) (*plan.Expr, bool) {
	if l, ok := e.(*Literal); ok && l.Kind == LitInt {
		n, err := strconv.Atoi(l.Text)
		if err == nil && n >= 1 && n <= visible {
			return colRef(out.cols[n-1].field), true
		}
		return nil, false
	}
	if containsAggregate(e) {
		return nil, false
	}
	x, err := pl.expr(e, &scope{cols: out.cols[:visible]})
	if err != nil {
		return nil, false
	}
	return x, true
}

func (pl *planner) sort(r *rel, order []*OrderItem, s *scope, keys []*plan.Expr) (*rel, error) {
	args := &engine.SortArgs{}
	n := &plan.Node{Op: "sort", Input: r.node, Args: args}
	for i, o := range order {
		var k *plan.Expr
		if keys != nil {
			k = keys[i]
		} else {
			if err := orderPosition(o.Expr, len(r.cols)); err != nil {
				return nil, err
			}
			var ok bool
			if k, ok = pl.outputRef(o.Expr, s, len(r.cols)); !ok {
				x, err := pl.expr(o.Expr, s)
				if err != nil {
					return nil, err
				}
				k = x
			}
		}
		args.Keys = append(args.Keys, k)
		args.SortDescending = append(args.SortDescending, o.Desc)
		// Flink's default (Calcite's NullCollation.LOW): NULL sorts as the smallest value,
		// first in ascending order and last in descending order
		nullsLast := o.Desc
		if o.NullsFirst != nil {
			nullsLast = !*o.NullsFirst
		}
		args.NullsLast = append(args.NullsLast, nullsLast)
	}
	node, _, err := pl.add(n, order[0].P)
	if err != nil {
		return nil, err
	}
	return &rel{node: node, cols: r.cols}, nil
}

// aggregate plans GROUP BY and HAVING: an aggregate (or window_agg over a window table
// function) computing the keys and every aggregate call, then HAVING as a filter. It
// returns the scope in which the SELECT list and ORDER BY are translated.
func (pl *planner) aggregate(s *Select, from *rel, outs []outCol, order []*OrderItem) (*rel, *scope, error) {
	in := &scope{cols: from.cols, clause: "GROUP BY"}
	// keys: expressions of the input, an output alias or a position
	var keys []*plan.Expr
	keyField := map[string]string{}
	var win *windowTVF = from.win
	winStart, winEnd := false, false
	for i, g := range s.GroupBy {
		ge := g
		if l, ok := g.(*Literal); ok && l.Kind == LitInt {
			n, _ := strconv.Atoi(l.Text)
			if n < 1 || n > len(outs) || outs[n-1].expr == nil {
				return nil, nil, errorAt(g.Position(), "GROUP BY %s: there is no output column %s", l.Text, l.Text)
			}
			ge = outs[n-1].expr
		}
		if id, ok := ge.(*Ident); ok && win != nil {
			switch strings.ToLower(id.Parts[len(id.Parts)-1]) {
			case "window_start":
				winStart = true
				continue
			case "window_end":
				winEnd = true
				continue
			case "window_time": // a function of window_end
				continue
			}
		}
		x, err := pl.expr(ge, in)
		if err != nil {
			if id, ok := ge.(*Ident); ok && len(id.Parts) == 1 {
				for _, o := range outs { // GROUP BY an output alias
					if o.expr != nil && o.name == id.Parts[0] && !containsAggregate(o.expr) {
						if x, err = pl.expr(o.expr, in); err == nil {
							ge = o.expr
						}
						break
					}
				}
			}
			if err != nil {
				return nil, nil, err
			}
		}
		c := canon(x)
		if _, dup := keyField[c]; dup {
			continue
		}
		name := "_k" + strconv.Itoa(i)
		if x.Col != nil {
			name = *x.Col
		}
		keyField[c] = name
		if x.Col == nil {
			x = alias(x, name)
		}
		keys = append(keys, x)
	}
	if win != nil && !(winStart && winEnd) {
		return nil, nil, unsupported(win.at, "a window table function without GROUP BY window_start, window_end")
	}
	if win != nil {
		for _, k := range win.partition {
			found := false
			for _, x := range keys {
				found = found || x.Col != nil && *x.Col == k
			}
			if !found {
				return nil, nil, unsupported(win.at, "SESSION(... PARTITION BY "+k+") without "+k+" in GROUP BY (the sessions are per GROUP BY key)")
			}
		}
	}
	// the aggregate calls of SELECT, HAVING and ORDER BY, each computed once
	aggField := map[string]string{}
	var aggs []*plan.Expr
	collect := func(e Expr) error {
		var err error
		walkExpr(e, func(x Expr) bool {
			if err != nil {
				return false
			}
			if f, ok := x.(*FuncCall); ok && isAggregate(f) {
				var a *plan.Expr
				if a, err = pl.aggCall(f, &scope{cols: from.cols, clause: "an aggregate's argument"}); err != nil {
					return false
				}
				c := canon(a)
				if _, ok := aggField[c]; !ok {
					name := "_a" + strconv.Itoa(len(aggs))
					aggField[c] = name
					aggs = append(aggs, alias(a, name))
				}
				return false
			}
			return true
		})
		return err
	}
	for _, o := range outs {
		if o.expr != nil {
			if err := collect(o.expr); err != nil {
				return nil, nil, err
			}
		}
	}
	if s.Having != nil {
		if err := collect(s.Having); err != nil {
			return nil, nil, err
		}
	}
	for _, o := range order {
		if err := collect(o.Expr); err != nil {
			return nil, nil, err
		}
	}
	if len(aggs) == 0 { // GROUP BY without aggregates: the engine needs one
		aggs = append(aggs, alias(&plan.Expr{Agg: "count"}, "_a0"))
	}
	var node *plan.Node
	at := s.P
	if len(s.GroupBy) > 0 {
		at = s.GroupBy[0].Position()
	}
	if win != nil {
		node = &plan.Node{Op: "window_agg", Input: from.node, Args: &engine.WindowAggArgs{Keys: keys, Aggs: aggs, Window: win.def, WindowTime: true}}
	} else {
		node = &plan.Node{Op: "aggregate", Input: from.node, Args: &engine.AggregateArgs{Keys: keys, Aggs: aggs}}
	}
	node, schema, err := pl.add(node, at)
	if err != nil {
		return nil, nil, err
	}
	// the aggregate's output: keys, [window_start, window_end, window_time,] aggregates
	var cols []column
	for _, f := range schema.Fields() {
		cols = append(cols, column{name: f.Name, field: f.Name, typ: f.Type})
	}
	// expressions over the input match keys by their canonical form
	post := &scope{cols: from.cols, keys: keyField, aggs: aggField}
	if win != nil {
		// window_start, window_end and window_time, by any qualifier
		for _, c := range windowCols {
			keyField[canon(colRef(c))] = c
		}
	}
	r := &rel{node: node, cols: cols}
	for _, c := range conjuncts(s.Having) {
		post.clause = "HAVING"
		if containsSubquery(c) {
			// subqueries become columns of the groups (subquery.go), over which the
			// condition is then a plain filter
			var err error
			if r, c, post, err = pl.markSubqueries(r, c, post); err != nil {
				return nil, nil, err
			}
		}
		x, err := pl.expr(c, post)
		if err != nil {
			return nil, nil, err
		}
		n, _, err := pl.add(&plan.Node{Op: "filter", Input: r.node, Args: &engine.FilterArgs{Predicate: x}}, c.Position())
		if err != nil {
			return nil, nil, err
		}
		r = &rel{node: n, cols: r.cols}
	}
	return r, post, nil
}

// ---- names ----

func (pl *planner) lookupCTE(name string) *cteDef {
	for i := len(pl.ctes) - 1; i >= 0; i-- {
		if d, ok := pl.ctes[i][name]; ok {
			return d
		}
	}
	for i := len(pl.ctes) - 1; i >= 0; i-- {
		for k, d := range pl.ctes[i] {
			if strings.EqualFold(k, name) {
				return d
			}
		}
	}
	return nil
}

func (pl *planner) table(t *TableName) (*rel, error) {
	if t.AsOf != nil {
		return nil, errorAt(t.AsOfAt, "FOR SYSTEM_TIME AS OF names the versioned table on the right of a temporal join: FROM orders o JOIN %s FOR SYSTEM_TIME AS OF o.order_time AS r ON o.k = r.k", t.Name)
	}
	qual := t.Alias
	if qual == "" {
		qual = t.Name
	}
	if d := pl.lookupCTE(t.Name); d != nil {
		if d.busy {
			return nil, unsupported(t.P, "a recursive WITH query")
		}
		if d.r == nil {
			d.busy = true
			r, err := pl.query(d.q)
			d.busy = false
			if err != nil {
				return nil, err
			}
			d.r = r
		}
		out := &rel{node: d.r.node}
		for _, c := range d.r.cols {
			c.qual = qual
			out.cols = append(out.cols, c)
		}
		return out, nil
	}
	if err, ok := pl.broken[t.Name]; ok {
		return nil, err
	}
	n, ok := pl.tables[t.Name]
	if !ok {
		for k, v := range pl.tables {
			if strings.EqualFold(k, t.Name) {
				n, ok = v, true
				break
			}
		}
	}
	if !ok {
		var names []string
		for k := range pl.tables {
			names = append(names, k)
		}
		for i := range pl.ctes {
			for k := range pl.ctes[i] {
				names = append(names, k)
			}
		}
		msg := fmt.Sprintf("no table %q", t.Name)
		if sg := plan.Suggest(t.Name, names); sg != "" {
			msg += fmt.Sprintf("; did you mean %q?", sg)
		} else if len(names) > 0 {
			msg += fmt.Sprintf("; the tables are %s", strings.Join(sortedCopy(names), ", "))
		} else {
			msg += " (register tables as keyword arguments: rb.sql(query, orders=stream))"
		}
		return nil, errorKindAt(rberr.NotFound, t.P, "%s", msg)
	}
	return pl.relOf(n, qual, t.P)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
