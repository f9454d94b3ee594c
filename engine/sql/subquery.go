package sql

import (
	"errors"
	"strconv"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Subqueries in WHERE and HAVING are decorrelated onto joins:
//
//   - x [NOT] IN (uncorrelated query)      → semi (anti) join on x = the query's column
//   - [NOT] EXISTS (query correlated only by equalities inner = outer)
//     → semi (anti) join on those equalities
//   - x op (uncorrelated scalar query)     → cross join with its one row, then a filter
//   - x op (scalar aggregate query correlated by equalities) → the query grouped by its
//     correlation columns, an inner join on them, then a filter (a missing group gives
//     NULL, and a comparison with NULL is not true: the inner join drops the same rows)
//
// Anything else is refused with its position.

// applySubquery filters r by a conjunct that contains a subquery.
func (pl *planner) applySubquery(r *rel, c Expr) (*rel, error) {
	switch e := c.(type) {
	case *Exists:
		return pl.exists(r, e.Query, e.Not, e.P)
	case *Unary:
		if ex, ok := e.X.(*Exists); ok && e.Op == "not" {
			return pl.exists(r, ex.Query, !ex.Not, e.P)
		}
		if in, ok := e.X.(*InSubquery); ok && e.Op == "not" {
			return pl.inSubquery(r, &InSubquery{At: in.At, X: in.X, Query: in.Query, Not: !in.Not})
		}
	case *InSubquery:
		return pl.inSubquery(r, e)
	case *Binary:
		if _, ok := compareOps[e.Op]; ok || e.Op == "<>" {
			if sq, ok := e.R.(*Subquery); ok && !containsSubquery(e.L) {
				return pl.scalarCompare(r, e, sq, true)
			}
			if sq, ok := e.L.(*Subquery); ok && !containsSubquery(e.R) {
				return pl.scalarCompare(r, e, sq, false)
			}
		}
	}
	return nil, unsupported(c.Position(), "this subquery (only [NOT] IN, [NOT] EXISTS and a comparison with a scalar subquery, as a conjunct of WHERE or HAVING)")
}

func (pl *planner) fresh(prefix string) string {
	pl.counter++
	return prefix + strconv.Itoa(pl.counter)
}

// simpleSelect is the query's SELECT block if it is one without ORDER BY or LIMIT.
func simpleSelect(q *Query) (*Select, bool) {
	s, ok := q.Body.(*Select)
	if !ok || len(q.OrderBy) > 0 || q.Limit != nil || len(q.With) > 0 {
		return nil, false
	}
	return s, true
}

// correlation splits a subquery's WHERE into the conditions on its own FROM (inner) and the
// equalities inner = outer that correlate it. ok is false when the query is not correlated.
func (pl *planner) correlation(s *Select, outer *rel) (inner Expr, innerKeys, outerKeys []Expr, correlated bool, err error) {
	// the inner FROM's columns (planned once to know them; the plan is built again below)
	var cols []column
	for _, it := range s.From {
		r, err := pl.tableExpr(it)
		if err != nil {
			return nil, nil, nil, false, err
		}
		cols = append(cols, r.cols...)
	}
	in := &scope{cols: cols}
	out := &scope{cols: outer.cols}
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
			return nil, nil, nil, false, e
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
		if _, e2 := pl.expr(c, &scope{cols: append(append([]column(nil), cols...), outer.cols...)}); e2 == nil {
			return nil, nil, nil, false, unsupported(c.Position(), "a correlated condition other than an equality between the subquery's and the outer query's columns")
		}
		return nil, nil, nil, false, e
	}
	return inner, innerKeys, outerKeys, len(innerKeys) > 0, nil
}

func and(a, b Expr) Expr {
	if a == nil {
		return b
	}
	return &Binary{At{a.Position()}, "and", a, b}
}

func (pl *planner) exists(r *rel, q *Query, not bool, at Pos) (*rel, error) {
	s, ok := simpleSelect(q)
	if !ok || len(s.GroupBy) > 0 || s.Having != nil || len(s.From) == 0 {
		return nil, unsupported(at, "EXISTS over a query with GROUP BY, HAVING, ORDER BY, LIMIT or without FROM")
	}
	inner, ik, ok2, correlated, err := pl.correlation(s, r)
	if err != nil {
		return nil, err
	}
	if !correlated {
		return nil, unsupported(at, "an uncorrelated EXISTS")
	}
	sub, err := pl.from(s.From, inner)
	if err != nil {
		return nil, err
	}
	how := "semi"
	if not {
		how = "anti"
	}
	return pl.join(r, sub, how, ok2, ik, at)
}

func (pl *planner) inSubquery(r *rel, e *InSubquery) (*rel, error) {
	if s, ok := simpleSelect(e.Query); ok && len(s.From) > 0 {
		if _, _, _, correlated, err := pl.correlation(s, r); err != nil {
			return nil, err
		} else if correlated {
			return nil, unsupported(e.P, "a correlated IN subquery")
		}
	}
	sub, err := pl.query(e.Query)
	if err != nil {
		return nil, err
	}
	if len(sub.cols) != 1 {
		return nil, errorAt(e.Query.P, "the IN subquery gives %d columns; it must give one", len(sub.cols))
	}
	name := pl.fresh("_in")
	sub, err = pl.renameOne(sub, name, e.P)
	if err != nil {
		return nil, err
	}
	how := "semi"
	if e.Not {
		how = "anti"
	}
	return pl.join(r, sub, how, []Expr{e.X}, []Expr{&Ident{At{e.P}, []string{name}}}, e.P)
}

// renameOne gives a one-column relation's column a fresh name.
func (pl *planner) renameOne(r *rel, name string, at Pos) (*rel, error) {
	n, s, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: []*plan.Expr{alias(colRef(r.cols[0].field), name)}}}, at)
	if err != nil {
		return nil, err
	}
	return &rel{node: n, cols: []column{{name: name, field: name, typ: s.Field(0).Type}}}, nil
}

// scalarCompare plans x op (scalar subquery); right says the subquery is on the right.
func (pl *planner) scalarCompare(r *rel, b *Binary, sq *Subquery, right bool) (*rel, error) {
	name := pl.fresh("_sq")
	var joined *rel
	s, simple := simpleSelect(sq.Query)
	correlated := false
	var inner Expr
	var ik, ok []Expr
	if simple && len(s.From) > 0 {
		var err error
		if inner, ik, ok, correlated, err = pl.correlation(s, r); err != nil {
			return nil, err
		}
	}
	if !correlated {
		sub, err := pl.query(sq.Query)
		if err != nil {
			return nil, err
		}
		if len(sub.cols) != 1 {
			return nil, errorAt(sq.P, "the scalar subquery gives %d columns; it must give one", len(sub.cols))
		}
		if sub, err = pl.renameOne(sub, name, sq.P); err != nil {
			return nil, err
		}
		// one row (an aggregate without GROUP BY) is what makes it scalar; more rows would
		// multiply the outer rows
		if !oneRow(sq.Query) {
			return nil, unsupported(sq.P, "a scalar subquery that is not an aggregate without GROUP BY")
		}
		if joined, err = pl.join(r, sub, "cross", nil, nil, sq.P); err != nil {
			return nil, err
		}
	} else {
		if len(s.Items) != 1 || s.Items[0].Star || len(s.GroupBy) > 0 || s.Having != nil || !containsAggregate(s.Items[0].Expr) {
			return nil, unsupported(sq.P, "a correlated scalar subquery other than one aggregate expression without GROUP BY")
		}
		if hasCount(s.Items[0].Expr) {
			return nil, unsupported(sq.P, "COUNT in a correlated scalar subquery (an empty group gives 0, not NULL)")
		}
		grouped := &Select{At: s.At, From: s.From, Where: inner}
		var keys []Expr
		for i, k := range ik {
			kn := name + "_k" + strconv.Itoa(i)
			grouped.Items = append(grouped.Items, &SelectItem{At: At{k.Position()}, Expr: k, Alias: kn})
			grouped.GroupBy = append(grouped.GroupBy, k)
			keys = append(keys, &Ident{At{k.Position()}, []string{kn}})
		}
		grouped.Items = append(grouped.Items, &SelectItem{At: s.Items[0].At, Expr: s.Items[0].Expr, Alias: name})
		sub, err := pl.selectBlock(grouped, nil)
		if err != nil {
			return nil, err
		}
		if joined, err = pl.join(r, sub, "inner", ok, keys, sq.P); err != nil {
			return nil, err
		}
	}
	ref := &Ident{At{sq.P}, []string{name}}
	cmp := &Binary{At: b.At, Op: b.Op, L: b.L, R: ref}
	if !right {
		cmp = &Binary{At: b.At, Op: b.Op, L: ref, R: b.R}
	}
	out, err := pl.filter(joined, cmp)
	if err != nil {
		return nil, err
	}
	// drop the subquery's columns again
	var exprs []*plan.Expr
	for _, c := range r.cols {
		exprs = append(exprs, colRef(c.field))
	}
	n, _, err := pl.add(&plan.Node{Op: "select", Input: out.node, Args: &engine.SelectArgs{Exprs: exprs}}, sq.P)
	if err != nil {
		return nil, err
	}
	return &rel{node: n, cols: r.cols}, nil
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
