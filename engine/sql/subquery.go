package sql

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Subqueries in WHERE, HAVING and the SELECT list are decorrelated onto joins, and keep
// SQL's three-valued logic exactly: IN and comparisons with NULL are NULL, not FALSE.
//
// A conjunct of WHERE keeps a row only when it is TRUE, which allows the cheap plans:
//
//   - x IN (query)            → semi join on x = the query's column (and the correlation
//     equalities inner = outer, when the query is correlated);
//   - x NOT IN (query)        → anti join on the same keys, then a guard: the row stays only
//     when the query gives no row (n = 0), or when x is not NULL and no value of the query
//     is NULL (nn = n), with n and nn the query's row and non-null counts (per correlation
//     key: the counts grouped by it, joined on it; a missing group has n = 0);
//   - [NOT] EXISTS (query correlated by equalities) → semi (anti) join on the equalities;
//     uncorrelated: the query's row count, joined to every row, then n > 0 (n = 0);
//   - x op (scalar query)     → cross join with its one row, or an inner join with the
//     query grouped by its correlation columns (a missing group is NULL, and a comparison
//     with NULL is not TRUE, so the inner join drops the same rows), then a filter.
//
// Anywhere else (under OR, NOT or CASE, in the SELECT list, in HAVING) a subquery becomes a
// column of the row, computed by left ("mark") joins that keep every row once:
//
//   - x IN (query): TRUE when a left join with the query's distinct values matches; else
//     FALSE when the query gives no row; else NULL when x is NULL or the query has a NULL
//     value; else FALSE. NOT IN is its negation (NOT NULL is NULL).
//   - EXISTS: TRUE when a left join with the distinct correlation keys matches
//     (uncorrelated: n > 0); never NULL.
//   - a scalar subquery: its one row by a cross join, or the query grouped by its
//     correlation columns by a left join (a missing group is NULL; COUNT's is 0).
//
// Anything else is refused with its position: subqueries correlated by anything but
// equalities, scalar subqueries that may give more than one row (the run-time check SQL
// requires is not there), subqueries in ORDER BY, GROUP BY, ON or an aggregate's argument.

// applySubquery filters r by a WHERE conjunct that contains a subquery.
func (pl *planner) applySubquery(r *rel, c Expr) (*rel, error) {
	sc := &scope{cols: r.cols, clause: "WHERE"}
	switch e := c.(type) {
	case *Exists:
		return pl.existsJoin(r, e.Query, e.Not, e.P)
	case *Unary:
		if e.Op == "not" {
			switch x := e.X.(type) {
			case *Exists:
				return pl.existsJoin(r, x.Query, !x.Not, e.P)
			case *InSubquery: // NOT (x IN q) is x NOT IN q, in three-valued logic too
				if !containsSubquery(x.X) {
					return pl.inJoin(r, &InSubquery{At: x.At, X: x.X, Query: x.Query, Not: !x.Not})
				}
			}
		}
	case *InSubquery:
		if !containsSubquery(e.X) {
			return pl.inJoin(r, e)
		}
	case *Binary:
		if _, ok := binaryFns[e.Op]; ok && isComparison(e.Op) {
			if sq, ok := e.R.(*Subquery); ok && !containsSubquery(e.L) {
				return pl.scalarCompare(r, sc, e, sq, true)
			}
			if sq, ok := e.L.(*Subquery); ok && !containsSubquery(e.R) {
				return pl.scalarCompare(r, sc, e, sq, false)
			}
		}
	}
	m, x, sc, err := pl.markSubqueries(r, c, sc)
	if err != nil {
		return nil, err
	}
	px, err := pl.expr(x, sc)
	if err != nil {
		return nil, err
	}
	return pl.filterThenProject(m, px, r.cols, c.Position())
}

func isComparison(op string) bool {
	switch op {
	case "=", "<>", "<", "<=", ">", ">=":
		return true
	}
	return false
}

func (pl *planner) fresh(prefix string) string {
	pl.counter++
	return prefix + strconv.Itoa(pl.counter)
}

// filterThenProject filters r by a translated predicate and keeps the given columns.
func (pl *planner) filterThenProject(r *rel, pred *plan.Expr, cols []column, at Pos) (*rel, error) {
	n, _, err := pl.add(&plan.Node{Op: "filter", Input: r.node, Args: &engine.FilterArgs{Predicate: pred}}, at)
	if err != nil {
		return nil, err
	}
	return pl.project(&rel{node: n, cols: r.cols}, cols, at)
}

// project keeps the given columns of r (by field).
func (pl *planner) project(r *rel, cols []column, at Pos) (*rel, error) {
	var exprs []*plan.Expr
	for _, c := range cols {
		exprs = append(exprs, colRef(c.field))
	}
	n, _, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: exprs}}, at)
	if err != nil {
		return nil, err
	}
	return &rel{node: n, cols: cols}, nil
}

// fieldOf is the field of r's column named name (the planner's own columns have unique names).
func fieldOf(r *rel, name string) string {
	for _, c := range r.cols {
		if c.name == name && c.qual == "" {
			return c.field
		}
	}
	return name
}

// streamingRefusal names the SQL construct when the engine refuses one of the joins the
// planner adds for it because an input is unbounded or updating (a cross join, or a join
// over the changes of an anti or left join); other errors pass unchanged.
func streamingRefusal(at Pos, what string, err error) error {
	var re *rberr.Error
	if err == nil || !errors.As(err, &re) || re.Kind != rberr.Plan ||
		!strings.Contains(re.Msg, "unbounded") && !strings.Contains(re.Msg, "updating stream") {
		return err
	}
	msg := sqlPrefix.ReplaceAllString(re.Msg, "")
	return errorAt(at, "%s over an unbounded table is not supported yet: its plan joins the rows with the subquery's row counts, and the engine refused: %s", what, msg)
}

var sqlPrefix = regexp.MustCompile(`^SQL line \d+, column \d+: `)

// simpleSelect is the query's SELECT block if it is one without ORDER BY or LIMIT.
func simpleSelect(q *Query) (*Select, bool) {
	s, ok := q.Body.(*Select)
	if !ok || len(q.OrderBy) > 0 || q.Limit != nil || q.Offset != nil || len(q.With) > 0 {
		return nil, false
	}
	return s, true
}

// correlation splits a subquery's WHERE into the conditions on its own FROM (inner), the
// equalities inner = outer that correlate it and the other conditions over both its own
// and the outer columns (res: nil when there are none). correlated is false when the
// query is not correlated.
func (pl *planner) correlation(s *Select, outer []column) (inner Expr, innerKeys, outerKeys []Expr, res *residual, correlated bool, err error) {
	// the inner FROM's columns (planned once to know them; the plan is built again below)
	var cols []column
	for _, it := range s.From {
		r, err := pl.tableExpr(it)
		if err != nil {
			return nil, nil, nil, nil, false, err
		}
		cols = append(cols, r.cols...)
	}
	in := &scope{cols: cols}
	out := &scope{cols: outer}
	resolves := func(e Expr, sc *scope) bool {
		_, err := pl.expr(e, sc)
		return err == nil
	}
	notFound := func(err error) bool {
		var re *rberr.Error
		return errors.As(err, &re) && re.Kind == rberr.ColumnNotFound
	}
	for _, c := range conjuncts(s.Where) {
		if containsSubquery(c) {
			inner = and(inner, c) // nested subqueries are planned inside the inner query
			continue
		}
		_, e := pl.expr(c, in)
		if e == nil {
			inner = and(inner, c)
			continue
		}
		if !notFound(e) {
			return nil, nil, nil, nil, false, e
		}
		b, ok := c.(*Binary)
		if ok && b.Op == "=" {
			switch {
			case resolves(b.L, in) && resolves(b.R, out):
				innerKeys, outerKeys = append(innerKeys, b.L), append(outerKeys, b.R)
				continue
			case resolves(b.R, in) && resolves(b.L, out):
				innerKeys, outerKeys = append(innerKeys, b.R), append(outerKeys, b.L)
				continue
			}
		}
		if _, e2 := pl.expr(c, residualScope(cols, outer)); e2 == nil {
			if res == nil {
				res = &residual{}
			}
			res.add(c, in)
			continue
		}
		return nil, nil, nil, nil, false, e
	}
	return inner, innerKeys, outerKeys, res, len(innerKeys) > 0 || res != nil, nil
}

// residual holds the conditions of a correlated subquery's WHERE over both its own and the
// outer query's columns, other than the equalities that correlate it (TPC-H q21's
// l2.l_suppkey <> l1.l_suppkey): the semi or anti join of an IN or EXISTS checks them on
// each pair of rows with equal keys (the join's where). inner are the subquery's columns
// they read; the subquery gives each as a column of a fresh name (field).
type residual struct {
	conds []Expr
	inner []column
	refs  map[string]bool
}

// add takes condition c, noting the subquery's columns it reads (those in scope in).
func (res *residual) add(c Expr, in *scope) {
	res.conds = append(res.conds, c)
	if res.refs == nil {
		res.refs = map[string]bool{}
	}
	rewriteExpr(c, func(e Expr) (Expr, bool) {
		id, ok := e.(*Ident)
		if !ok {
			return e, false
		}
		col, err := in.resolve(id)
		if err == nil && !res.refs[col.qual+"."+col.name] {
			res.refs[col.qual+"."+col.name] = true
			res.inner = append(res.inner, *col)
		}
		return e, true
	})
}

// residualScope is where a subquery's residual conditions resolve names: its own columns
// first (an unqualified name the outer query also has is the subquery's, as SQL scopes
// it), then the outer query's.
func residualScope(inner, outer []column) *scope {
	cols := append([]column(nil), inner...)
	for _, c := range outer {
		c.shadow = true
		cols = append(cols, c)
	}
	return &scope{cols: cols}
}

func and(a, b Expr) Expr {
	if a == nil {
		return b
	}
	return &Binary{At{a.Position()}, "and", a, b}
}

// subRel is an IN or EXISTS subquery planned for a join: its rows, with the inner sides of
// the correlation equalities as columns (keys) and, for IN, the value column (val); outer
// are the outer sides of the equalities, in the outer query's scope.
type subRel struct {
	r     *rel
	keys  []string // column names in r
	outer []Expr
	val   string    // column name in r; "" for EXISTS
	res   *residual // other conditions on both the subquery's and the outer columns
}

// noResidual refuses a subquery with residual conditions where its plan cannot check
// them on each pair of rows (what names the construct).
func (sub *subRel) noResidual(what string) error {
	if sub.res == nil {
		return nil
	}
	return unsupported(sub.res.conds[0].Position(), "a correlated condition other than an equality in "+what+" (only IN and [NOT] EXISTS as WHERE conjuncts take them)")
}

// planSub plans the query of an IN (value) or EXISTS (!value) subquery whose outer query
// has the columns outer.
func (pl *planner) planSub(q *Query, outer []column, value bool, what string, at Pos) (*subRel, error) {
	name := pl.fresh("_sq")
	s, simple := simpleSelect(q)
	correlated := false
	var inner Expr
	var ik, ok []Expr
	var res *residual
	if simple && len(s.From) > 0 {
		var err error
		if inner, ik, ok, res, correlated, err = pl.correlation(s, outer); err != nil {
			return nil, err
		}
	}
	if !correlated {
		sub, err := pl.query(q)
		if err != nil {
			return nil, err
		}
		if sub.win != nil {
			return nil, unsupported(sub.win.at, "a window table function without GROUP BY window_start, window_end")
		}
		if !value {
			return &subRel{r: sub}, nil
		}
		if len(sub.cols) != 1 {
			return nil, errorAt(q.P, "the %s subquery gives %d columns; it must give one", what, len(sub.cols))
		}
		if sub, err = pl.renameOne(sub, name, at); err != nil {
			return nil, err
		}
		return &subRel{r: sub, val: name}, nil
	}
	if len(s.GroupBy) > 0 || s.Having != nil {
		return nil, unsupported(at, "a correlated "+what+" subquery with GROUP BY or HAVING")
	}
	for _, it := range s.Items {
		if !it.Star && containsAggregate(it.Expr) {
			// an aggregate without GROUP BY gives one row even over no rows
			return nil, unsupported(at, "a correlated "+what+" subquery whose SELECT is an aggregate")
		}
	}
	if res != nil && len(ik) == 0 && !value {
		// no key to join on (IN has its value)
		return nil, unsupported(res.conds[0].Position(), "a subquery correlated only by conditions other than equalities between its and the outer query's columns")
	}
	sel := &Select{At: s.At, From: s.From, Where: inner}
	out := &subRel{outer: ok, res: res}
	for i, k := range ik {
		kn := name + "_k" + strconv.Itoa(i)
		sel.Items = append(sel.Items, &SelectItem{At: At{k.Position()}, Expr: k, Alias: kn})
		out.keys = append(out.keys, kn)
	}
	if res != nil {
		for i := range res.inner {
			c := &res.inner[i]
			parts := []string{c.name}
			if c.qual != "" {
				parts = []string{c.qual, c.name}
			}
			c.field = name + "_c" + strconv.Itoa(i)
			sel.Items = append(sel.Items, &SelectItem{At: At{at}, Expr: &Ident{At: At{at}, Parts: parts}, Alias: c.field})
		}
	}
	if value {
		if len(s.Items) != 1 || s.Items[0].Star {
			return nil, errorAt(q.P, "the %s subquery must give one column", what)
		}
		sel.Items = append(sel.Items, &SelectItem{At: s.Items[0].At, Expr: s.Items[0].Expr, Alias: name})
		out.val = name
	}
	r, err := pl.selectBlock(sel, nil)
	if err != nil {
		return nil, err
	}
	out.r = r
	return out, nil
}

// outerKeys translates the outer sides of a subquery's correlation equalities.
func (pl *planner) outerKeys(sub *subRel, sc *scope) ([]*plan.Expr, error) {
	var out []*plan.Expr
	for _, o := range sub.outer {
		x, err := pl.expr(o, sc)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// joinNames joins l and r on l's key expressions equal to r's columns of the given names.
func (pl *planner) joinNames(l, r *rel, how string, lx []*plan.Expr, rnames []string, at Pos) (*rel, error) {
	return pl.joinNamesWhere(l, r, how, lx, rnames, nil, at)
}

// joinNamesWhere is joinNames where a pair of rows with equal keys also meets the
// subquery's residual conditions (res; nil: none), r being that subquery's rows.
func (pl *planner) joinNamesWhere(l, r *rel, how string, lx []*plan.Expr, rnames []string, res *residual, at Pos) (*rel, error) {
	right, err := pl.renameClashes(l, r, at)
	if err != nil {
		return nil, err
	}
	var rx []*plan.Expr
	for _, n := range rnames {
		rx = append(rx, colRef(fieldOf(right, n)))
	}
	if len(lx) == 0 {
		how = "cross"
	}
	var where *plan.Expr
	if res != nil {
		inner := append([]column(nil), res.inner...)
		for i := range inner {
			inner[i].field = fieldOf(right, inner[i].field)
		}
		var cond Expr
		for _, c := range res.conds {
			cond = and(cond, c)
		}
		if where, err = pl.expr(cond, residualScope(inner, l.cols)); err != nil {
			return nil, err
		}
	}
	return pl.joinExprs(l, right, how, lx, rx, where, at)
}

// subStats joins to l the subquery's row count n and (for IN) non-null value count nn:
// one row for an uncorrelated query (a cross join), grouped by the correlation keys
// otherwise (a left join: a key without rows has n NULL, which means 0). It returns the
// joined relation and the fields of n and nn.
func (pl *planner) subStats(l *rel, sub *subRel, sc *scope, at Pos) (*rel, string, string, error) {
	name := pl.fresh("_st")
	args := &engine.AggregateArgs{}
	node := &plan.Node{Op: "aggregate", Input: sub.r.node, Args: args}
	var keys []string
	for i, k := range sub.keys {
		kn := name + "_k" + strconv.Itoa(i)
		args.Keys = append(args.Keys, alias(colRef(fieldOf(sub.r, k)), kn))
		keys = append(keys, kn)
	}
	args.Aggs = append(args.Aggs, alias(&plan.Expr{Agg: "count"}, name+"_n"))
	if sub.val != "" {
		args.Aggs = append(args.Aggs, alias(&plan.Expr{Agg: "count", Args: []*plan.Expr{colRef(fieldOf(sub.r, sub.val))}}, name+"_nn"))
	}
	st, err := pl.relOf(node, "", at)
	if err != nil {
		return nil, "", "", err
	}
	lx, err := pl.outerKeys(sub, sc)
	if err != nil {
		return nil, "", "", err
	}
	j, err := pl.joinNames(l, st, "left", lx, keys, at)
	if err != nil {
		return nil, "", "", err
	}
	return j, fieldOf(j, name+"_n"), fieldOf(j, name+"_nn"), nil
}

// marks is the subquery's distinct rows of the given columns, each with a TRUE column
// named mark.
func (pl *planner) marks(sub *subRel, names []string, mark string, at Pos) (*rel, error) {
	var cols []column
	for _, n := range names {
		for _, c := range sub.r.cols {
			if c.name == n && c.qual == "" {
				cols = append(cols, c)
			}
		}
	}
	p, err := pl.project(sub.r, cols, at)
	if err != nil {
		return nil, err
	}
	if p, err = pl.distinct(p, at); err != nil {
		return nil, err
	}
	exprs := []*plan.Expr{}
	for _, c := range p.cols {
		exprs = append(exprs, colRef(c.field))
	}
	exprs = append(exprs, alias(lit(true, "bool"), mark))
	n, _, err := pl.add(&plan.Node{Op: "select", Input: p.node, Args: &engine.SelectArgs{Exprs: exprs}}, at)
	if err != nil {
		return nil, err
	}
	return &rel{node: n, cols: append(append([]column(nil), p.cols...), column{name: mark, field: mark})}, nil
}

// inJoin filters r by a WHERE conjunct x [NOT] IN (query).
func (pl *planner) inJoin(r *rel, e *InSubquery) (*rel, error) {
	sc := &scope{cols: r.cols, clause: "WHERE"}
	sub, err := pl.planSub(e.Query, r.cols, true, "IN", e.P)
	if err != nil {
		return nil, err
	}
	x, err := pl.expr(e.X, sc)
	if err != nil {
		return nil, err
	}
	lx, err := pl.outerKeys(sub, sc)
	if err != nil {
		return nil, err
	}
	lx = append(lx, x)
	rk := append(append([]string(nil), sub.keys...), sub.val)
	if !e.Not {
		return pl.joinNamesWhere(r, sub.r, "semi", lx, rk, sub.res, e.P)
	}
	if err := sub.noResidual("x NOT IN (subquery)"); err != nil {
		return nil, err
	}
	// The anti join keeps the rows whose x matches no value (and those whose x is NULL);
	// x NOT IN (q) is TRUE only when q gives no row, or when x is not NULL and no value of
	// q is NULL.
	j, err := pl.joinNames(r, sub.r, "anti", lx, rk, e.P)
	if err != nil {
		return nil, err
	}
	j, n, nn, err := pl.subStats(j, sub, sc, e.P)
	if err != nil {
		return nil, streamingRefusal(e.P, "x NOT IN (subquery)", err)
	}
	guard := fn("or",
		fn("eq", fn("fill_null", colRef(n), lit(0, "int64")), lit(0, "int64")),
		fn("and", fn("is_not_null", x), fn("eq", colRef(nn), colRef(n))))
	return pl.filterThenProject(j, guard, r.cols, e.P)
}

// existsJoin filters r by a WHERE conjunct [NOT] EXISTS (query).
func (pl *planner) existsJoin(r *rel, q *Query, not bool, at Pos) (*rel, error) {
	sc := &scope{cols: r.cols, clause: "WHERE"}
	sub, err := pl.planSub(q, r.cols, false, "EXISTS", at)
	if err != nil {
		return nil, err
	}
	if len(sub.keys) == 0 {
		j, n, _, err := pl.subStats(r, sub, sc, at)
		if err != nil {
			return nil, streamingRefusal(at, "an uncorrelated EXISTS", err)
		}
		pred := fn("gt", colRef(n), lit(0, "int64"))
		if not {
			pred = fn("eq", colRef(n), lit(0, "int64"))
		}
		return pl.filterThenProject(j, pred, r.cols, at)
	}
	how := "semi"
	if not {
		how = "anti"
	}
	lx, err := pl.outerKeys(sub, sc)
	if err != nil {
		return nil, err
	}
	return pl.joinNamesWhere(r, sub.r, how, lx, sub.keys, sub.res, at)
}

// renameOne gives a one-column relation's column a fresh name.
func (pl *planner) renameOne(r *rel, name string, at Pos) (*rel, error) {
	n, s, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: []*plan.Expr{alias(colRef(r.cols[0].field), name)}}}, at)
	if err != nil {
		return nil, err
	}
	return &rel{node: n, cols: []column{{name: name, field: name, typ: s.Field(0).Type}}}, nil
}

// scalarCompare filters r by a WHERE conjunct x op (scalar subquery); right says the
// subquery is on the right.
func (pl *planner) scalarCompare(r *rel, sc *scope, b *Binary, sq *Subquery, right bool) (*rel, error) {
	j, v, err := pl.scalarSub(r, sc, sq, true)
	if err != nil {
		return nil, err
	}
	other := b.L
	if !right {
		other = b.R
	}
	x, err := pl.expr(other, sc)
	if err != nil {
		return nil, err
	}
	pred := fn(binaryFns[b.Op], x, v)
	if !right {
		pred = fn(binaryFns[b.Op], v, x)
	}
	return pl.filterThenProject(j, pred, r.cols, b.P)
}

// scalarSub joins a scalar subquery's value to r: uncorrelated, its one row by a cross
// join; correlated, the query grouped by its correlation columns, by a left join on them
// (or an inner join when inner is set and the caller drops a NULL value's rows anyway). It
// returns the joined relation and the value over it.
func (pl *planner) scalarSub(r *rel, sc *scope, sq *Subquery, inner bool) (*rel, *plan.Expr, error) {
	name := pl.fresh("_sq")
	s, simple := simpleSelect(sq.Query)
	correlated := false
	var where Expr
	var ik, ok []Expr
	if simple && len(s.From) > 0 {
		var err error
		var res *residual
		if where, ik, ok, res, correlated, err = pl.correlation(s, sc.cols); err != nil {
			return nil, nil, err
		}
		if res != nil {
			return nil, nil, (&subRel{res: res}).noResidual("a scalar subquery")
		}
	}
	tooMany := fmt.Sprintf("SQL %s: the scalar subquery gave more than one row", sq.P)
	if !correlated {
		sub, err := pl.query(sq.Query)
		if err != nil {
			return nil, nil, err
		}
		if len(sub.cols) != 1 {
			return nil, nil, errorAt(sq.P, "the scalar subquery gives %d columns; it must give one", len(sub.cols))
		}
		if sub, err = pl.renameOne(sub, name, sq.P); err != nil {
			return nil, nil, err
		}
		check := ""
		if !oneRow(sq.Query) {
			// it may give any number of rows: its value (NULL for none) and its row count,
			// which must not be more than one (SQL's run-time error)
			node := &plan.Node{Op: "aggregate", Input: sub.node, Args: &engine.AggregateArgs{Aggs: []*plan.Expr{
				alias(&plan.Expr{Agg: "first", Args: []*plan.Expr{colRef(name)}}, name),
				alias(&plan.Expr{Agg: "count"}, name+"_n")}}}
			if sub, err = pl.relOf(node, "", sq.P); err != nil {
				return nil, nil, err
			}
			check = name + "_n"
		}
		j, err := pl.joinNames(r, sub, "cross", nil, nil, sq.P)
		if err != nil {
			return nil, nil, streamingRefusal(sq.P, "an uncorrelated scalar subquery", err)
		}
		v := colRef(fieldOf(j, name))
		if check != "" {
			v = errorIf(fn("gt", colRef(fieldOf(j, check)), lit(1, "int64")), v, tooMany)
		}
		return j, v, nil
	}
	if len(s.Items) != 1 || s.Items[0].Star || len(s.GroupBy) > 0 || s.Having != nil {
		return nil, nil, unsupported(sq.P, "a correlated scalar subquery other than one expression without GROUP BY or HAVING")
	}
	// a key without rows gives no group: the left join gives NULL, which is the value of
	// every aggregate over no rows but COUNT's (0)
	item := s.Items[0].Expr
	check := false
	var aggs []*SelectItem
	var after Expr // the item over the joined relation: aggregates read their columns
	if !containsAggregate(item) {
		// a value per row: its first (NULL for none) and the row count per key, which
		// must not be more than one
		if s.Distinct {
			return nil, nil, unsupported(sq.P, "SELECT DISTINCT in a correlated scalar subquery")
		}
		check = true
	} else {
		var err error
		if after, aggs, err = pl.splitAggregates(item, s, sc, name); err != nil {
			return nil, nil, err
		}
	}
	grouped := &Select{At: s.At, From: s.From, Where: where}
	var keys []string
	for i, k := range ik {
		kn := name + "_k" + strconv.Itoa(i)
		grouped.Items = append(grouped.Items, &SelectItem{At: At{k.Position()}, Expr: k, Alias: kn})
		grouped.GroupBy = append(grouped.GroupBy, k)
		keys = append(keys, kn)
	}
	if check {
		at := At{item.Position()}
		grouped.Items = append(grouped.Items,
			&SelectItem{At: at, Expr: &FuncCall{At: at, Name: "FIRST_VALUE", Args: []Expr{item}}, Alias: name},
			&SelectItem{At: at, Expr: &FuncCall{At: at, Name: "COUNT", Star: true}, Alias: name + "_n"})
	} else {
		grouped.Items = append(grouped.Items, aggs...)
	}
	sub, err := pl.selectBlock(grouped, nil)
	if err != nil {
		return nil, nil, err
	}
	var lx []*plan.Expr
	for _, o := range ok {
		x, err := pl.expr(o, sc)
		if err != nil {
			return nil, nil, err
		}
		lx = append(lx, x)
	}
	how := "left"
	if inner && (check || nullWithoutRows(after)) {
		// the value is NULL for a key without rows, which the comparison drops anyway
		how = "inner"
	}
	j, err := pl.joinNames(r, sub, how, lx, keys, sq.P)
	if err != nil {
		return nil, nil, err
	}
	if check {
		v := colRef(fieldOf(j, name))
		return j, errorIf(fn("gt", colRef(fieldOf(j, name+"_n")), lit(1, "int64")), v, tooMany), nil
	}
	js := *sc
	js.cols = j.cols
	if sc.keys != nil {
		// a grouped query's (SELECT or HAVING): the subquery's aggregates are read as they
		// are, one value per group (its correlation columns are the group's keys, or the
		// outer expressions naming them are refused as outside GROUP BY)
		js.keys = map[string]string{}
		for k, f := range sc.keys {
			js.keys[k] = f
		}
		for _, a := range aggs {
			f := fieldOf(j, a.Alias)
			js.keys[canon(colRef(f))] = f
		}
	}
	v, err := pl.expr(after, &js)
	if err != nil {
		return nil, nil, err
	}
	return j, v, nil
}

// nullWithoutRows reports whether the expression after splitAggregates is NULL whenever its
// aggregates are (a key without rows): aggregates other than COUNT under arithmetic, casts,
// literals and the outer query's columns.
func nullWithoutRows(after Expr) bool {
	strict, agg := true, false
	walkExpr(after, func(x Expr) bool {
		switch x := x.(type) {
		case *Binary:
			strict = strict && strings.Contains("+-*/%", x.Op) && len(x.Op) == 1
		case *Unary:
			strict = strict && (x.Op == "-" || x.Op == "+")
		case *Cast, *Literal:
		case *Ident:
			agg = true
		default:
			strict = false // COUNT's COALESCE, CASE, functions
		}
		return strict
	})
	return strict && agg
}

// splitAggregates splits the SELECT item of a correlated scalar subquery with aggregates
// into the aggregate calls (aggs: items of the subquery grouped by its correlation keys,
// named name_aN) and the expression around them (after: computed over the outer rows
// joined with the groups, each call replaced by its column; COUNT's NULL, a key without
// rows, read as 0). The expression around them may use the outer query's columns (scope
// sc); a column of the subquery's own tables outside an aggregate is an error, as SQL's
// "must appear in GROUP BY".
func (pl *planner) splitAggregates(item Expr, s *Select, sc *scope, name string) (after Expr, aggs []*SelectItem, err error) {
	after = rewriteExpr(item, func(x Expr) (Expr, bool) {
		if !isAggregate(x) {
			return nil, false
		}
		an := name + "_a" + strconv.Itoa(len(aggs))
		at := At{x.Position()}
		aggs = append(aggs, &SelectItem{At: at, Expr: x, Alias: an})
		var ref Expr = &Ident{At: at, Parts: []string{an}}
		if x.(*FuncCall).Name == "COUNT" {
			ref = &FuncCall{At: at, Name: "COALESCE", Args: []Expr{ref, &Literal{At: at, Kind: LitInt, Text: "0"}}}
		}
		return ref, true
	})
	var inner []column
	for _, it := range s.From {
		r, err := pl.tableExpr(it)
		if err != nil {
			return nil, nil, err
		}
		inner = append(inner, r.cols...)
	}
	in := &scope{cols: inner}
	walkExpr(after, func(x Expr) bool {
		id, ok := x.(*Ident)
		if !ok || err != nil {
			return err == nil
		}
		if _, e := in.resolve(id); e == nil {
			err = errorAt(id.P, "%s is a column of the scalar subquery's tables outside an aggregate: without GROUP BY, the subquery's SELECT takes its columns in aggregates only", strings.Join(id.Parts, "."))
		}
		return false
	})
	return after, aggs, err
}

// errorIf is the value, or a run-time DataError with the message where cond is true.
func errorIf(cond, value *plan.Expr, message string) *plan.Expr {
	x := fn("error_if", cond, value)
	x.Options = map[string]any{"message": message}
	return x
}

// markIn joins to r what x [NOT] IN (query) needs and returns its three-valued value.
func (pl *planner) markIn(r *rel, sc *scope, e *InSubquery) (*rel, *plan.Expr, error) {
	sub, err := pl.planSub(e.Query, sc.cols, true, "IN", e.P)
	if err != nil {
		return nil, nil, err
	}
	if err := sub.noResidual("an IN subquery outside a WHERE conjunct"); err != nil {
		return nil, nil, err
	}
	x, err := pl.expr(e.X, sc)
	if err != nil {
		return nil, nil, err
	}
	lx, err := pl.outerKeys(sub, sc)
	if err != nil {
		return nil, nil, err
	}
	mark := pl.fresh("_mark")
	rk := append(append([]string(nil), sub.keys...), sub.val)
	m, err := pl.marks(sub, rk, mark, e.P)
	if err != nil {
		return nil, nil, err
	}
	j, err := pl.joinNames(r, m, "left", append(lx, x), rk, e.P)
	if err != nil {
		return nil, nil, streamingRefusal(e.P, "x [NOT] IN (subquery) as a value", err)
	}
	j, n, nn, err := pl.subStats(j, sub, sc, e.P)
	if err != nil {
		return nil, nil, streamingRefusal(e.P, "x [NOT] IN (subquery) as a value", err)
	}
	v := fn("case_when",
		fn("fill_null", colRef(fieldOf(j, mark)), lit(false, "bool")), lit(true, "bool"),
		fn("eq", fn("fill_null", colRef(n), lit(0, "int64")), lit(0, "int64")), lit(false, "bool"),
		fn("or", fn("is_null", x), fn("lt", colRef(nn), colRef(n))), lit(nil, "bool"),
		lit(false, "bool"))
	if e.Not {
		v = fn("not", v)
	}
	return j, v, nil
}

// markExists joins to r what [NOT] EXISTS (query) needs and returns its value.
func (pl *planner) markExists(r *rel, sc *scope, e *Exists) (*rel, *plan.Expr, error) {
	sub, err := pl.planSub(e.Query, sc.cols, false, "EXISTS", e.P)
	if err != nil {
		return nil, nil, err
	}
	if err := sub.noResidual("an EXISTS subquery outside a WHERE conjunct"); err != nil {
		return nil, nil, err
	}
	var j *rel
	var v *plan.Expr
	if len(sub.keys) == 0 {
		var n string
		if j, n, _, err = pl.subStats(r, sub, sc, e.P); err != nil {
			return nil, nil, streamingRefusal(e.P, "an uncorrelated EXISTS", err)
		}
		v = fn("gt", colRef(n), lit(0, "int64"))
	} else {
		lx, err := pl.outerKeys(sub, sc)
		if err != nil {
			return nil, nil, err
		}
		mark := pl.fresh("_mark")
		m, err := pl.marks(sub, sub.keys, mark, e.P)
		if err != nil {
			return nil, nil, err
		}
		if j, err = pl.joinNames(r, m, "left", lx, sub.keys, e.P); err != nil {
			return nil, nil, err
		}
		v = fn("fill_null", colRef(fieldOf(j, mark)), lit(false, "bool"))
	}
	if e.Not {
		v = fn("not", v)
	}
	return j, v, nil
}

// markSubqueries plans every subquery in e (outside nested queries) as a column of r, and
// returns r with those columns, e with each subquery replaced by a reference to its
// column, and the scope sc (over r) extended with them. The rows of r stay as they are.
func (pl *planner) markSubqueries(r *rel, e Expr, sc *scope) (*rel, Expr, *scope, error) {
	var err error
	var mark func(x Expr) (Expr, bool)
	mark = func(x Expr) (Expr, bool) {
		if err != nil {
			return x, true
		}
		var j *rel
		var v *plan.Expr
		switch s := x.(type) {
		case *InSubquery:
			in := *s
			if containsSubquery(s.X) {
				in.X = rewriteExpr(s.X, mark)
				if err != nil {
					return x, true
				}
			}
			j, v, err = pl.markIn(r, sc, &in)
		case *Exists:
			j, v, err = pl.markExists(r, sc, s)
		case *Subquery:
			j, v, err = pl.scalarSub(r, sc, s, false)
		default:
			return nil, false
		}
		if err != nil {
			return x, true
		}
		// the value as a column of r (the helper columns of the joins dropped)
		name := pl.fresh("_subq")
		var exprs []*plan.Expr
		for _, c := range r.cols {
			exprs = append(exprs, colRef(c.field))
		}
		exprs = append(exprs, alias(v, name))
		n, s, e2 := pl.add(&plan.Node{Op: "select", Input: j.node, Args: &engine.SelectArgs{Exprs: exprs}}, x.Position())
		if e2 != nil {
			err = e2
			return x, true
		}
		c := column{name: name, field: name, typ: s.Field(len(exprs) - 1).Type}
		r = &rel{node: n, cols: append(append([]column(nil), r.cols...), c)}
		next := *sc
		next.cols = append(append([]column(nil), sc.cols...), c)
		if sc.keys != nil { // a grouped scope: the column is read as it is
			next.keys = map[string]string{canon(colRef(name)): name}
			for k, f := range sc.keys {
				next.keys[k] = f
			}
		}
		sc = &next
		return &Ident{At{x.Position()}, []string{name}}, true
	}
	out := rewriteExpr(e, mark)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, out, sc, nil
}

// rewriteExpr copies e with the nodes f replaces (f returns the replacement and true; its
// children are then not visited) and the rest rebuilt from their rewritten children.
func rewriteExpr(e Expr, f func(Expr) (Expr, bool)) Expr {
	if e == nil {
		return nil
	}
	if y, ok := f(e); ok {
		return y
	}
	w := func(x Expr) Expr { return rewriteExpr(x, f) }
	switch e := e.(type) {
	case *Unary:
		c := *e
		c.X = w(e.X)
		return &c
	case *Binary:
		c := *e
		c.L, c.R = w(e.L), w(e.R)
		return &c
	case *FuncCall:
		c := *e
		c.Args = nil
		for _, a := range e.Args {
			c.Args = append(c.Args, w(a))
		}
		return &c
	case *Cast:
		c := *e
		c.X = w(e.X)
		return &c
	case *Case:
		c := *e
		c.Operand, c.Else = w(e.Operand), w(e.Else)
		c.Whens = nil
		for _, wh := range e.Whens {
			c.Whens = append(c.Whens, &When{At: wh.At, Cond: w(wh.Cond), Then: w(wh.Then)})
		}
		return &c
	case *InList:
		c := *e
		c.X = w(e.X)
		c.List = nil
		for _, v := range e.List {
			c.List = append(c.List, w(v))
		}
		return &c
	case *InSubquery:
		c := *e
		c.X = w(e.X)
		return &c
	case *Between:
		c := *e
		c.X, c.Lo, c.Hi = w(e.X), w(e.Lo), w(e.Hi)
		return &c
	case *Like:
		c := *e
		c.X, c.Pattern = w(e.X), w(e.Pattern)
		return &c
	case *IsNull:
		c := *e
		c.X = w(e.X)
		return &c
	case *IsBool:
		c := *e
		c.X = w(e.X)
		return &c
	case *IsDistinct:
		c := *e
		c.L, c.R = w(e.L), w(e.R)
		return &c
	case *Extract:
		c := *e
		c.X = w(e.X)
		return &c
	}
	return e
}

// oneRow reports whether a query gives exactly one row: one SELECT block of aggregates
// without GROUP BY.
func oneRow(q *Query) bool {
	s, ok := simpleSelect(q)
	if !ok || len(s.GroupBy) > 0 || s.Having != nil || s.Distinct {
		return false
	}
	for _, it := range s.Items {
		if it.Star || !containsAggregate(it.Expr) {
			return false
		}
	}
	return true
}

func hasCount(e Expr) bool {
	found := false
	walkExpr(e, func(x Expr) bool {
		if f, ok := x.(*FuncCall); ok && f.Name == "COUNT" {
			found = true
		}
		return !found
	})
	return found
}
