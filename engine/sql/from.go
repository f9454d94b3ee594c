package sql

import (
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// from plans the FROM items and WHERE: each item is planned, WHERE is split into its
// conjuncts, those on one item are pushed onto it, equalities between items become the
// keys of hash joins (joined greedily, each next item one that an equality connects to
// those joined so far, else a cross join), and the rest filter the joined rows.
func (pl *planner) from(items []TableExpr, where Expr) (*rel, error) {
	var conj, subs []Expr
	if where != nil {
		for _, c := range conjuncts(factorOr(where)) {
			if containsAggregate(c) {
				return nil, errorAt(c.Position(), "aggregate functions are not allowed in WHERE; use HAVING")
			}
			if containsSubquery(c) {
				subs = append(subs, c)
			} else {
				conj = append(conj, c)
			}
		}
	}
	rels := make([]*rel, len(items))
	for i, it := range items {
		var r *rel
		var err error
		if j, ok := it.(*JoinExpr); ok && len(items) == 1 {
			// WHERE over one inner join is part of its condition: what reads one side
			// filters that side before the join (as the comma joins of joinAll)
			r, conj, err = pl.explicitJoinWhere(j, conj)
		} else {
			r, err = pl.tableExpr(it)
		}
		if err != nil {
			return nil, err
		}
		for j := range r.cols {
			r.cols[j].owner = i
		}
		rels[i] = r
	}
	r, err := pl.joinAll(items, rels, conj)
	if err != nil {
		return nil, err
	}
	if len(subs) > 0 && r.win != nil {
		// Flink's window semi and anti joins: [NOT] EXISTS or IN over another window table
		// function, correlated on the windows (timejoin.go)
		if r, err = pl.windowSemiJoin(r, subs[0]); err != nil {
			return nil, err
		}
		subs = subs[1:]
	}
	for _, c := range subs {
		if r, err = pl.applySubquery(r, c); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// joinAll joins the FROM items with the WHERE conjuncts (without subqueries).
func (pl *planner) joinAll(items []TableExpr, rels []*rel, conj []Expr) (*rel, error) {
	if len(rels) == 1 {
		r := rels[0]
		if r.win != nil && len(conj) > 0 {
			return nil, unsupported(conj[0].Position(), "WHERE over a window table function (filter the table in a subquery or view first)")
		}
		// one filter of the whole conjunction, as written (rows are taken once)
		var ys []*plan.Expr
		for _, c := range conj {
			y, err := pl.expr(c, &scope{cols: r.cols, clause: "WHERE"})
			if err != nil {
				return nil, err
			}
			ys = append(ys, y)
		}
		if len(ys) == 0 {
			return r, nil
		}
		x := andAll(ys)
		n, _, err := pl.add(&plan.Node{Op: "filter", Input: r.node, Args: &engine.FilterArgs{Predicate: x}}, conj[0].Position())
		if err != nil {
			return nil, err
		}
		return &rel{node: n, cols: r.cols}, nil
	}
	for _, r := range rels {
		if r.win != nil {
			return nil, unsupported(r.win.at, "a window table function joined with other tables by a comma (write a window join: FROM ... L JOIN ... R ON L.window_start = R.window_start AND L.window_end = R.window_end AND ...)")
		}
	}
	// which items each conjunct reads
	all := &scope{}
	for _, r := range rels {
		all.cols = append(all.cols, r.cols...)
	}
	owners := make([]map[int]bool, len(conj))
	for i, c := range conj {
		all.owners = map[int]bool{}
		if _, err := pl.expr(c, all); err != nil {
			return nil, err
		}
		owners[i] = all.owners
	}
	used := make([]bool, len(conj))
	// push single-item conjuncts down
	for i, c := range conj {
		if len(owners[i]) == 1 {
			for o := range owners[i] {
				r, err := pl.filter(rels[o], c)
				if err != nil {
					return nil, err
				}
				rels[o] = r
			}
			used[i] = true
		}
	}
	joined := map[int]bool{0: true}
	cur := rels[0]
	subset := func(m map[int]bool, of map[int]bool) bool {
		for k := range m {
			if !of[k] {
				return false
			}
		}
		return len(m) > 0
	}
	sideOwners := func(e Expr) map[int]bool {
		all.owners = map[int]bool{}
		_, _ = pl.expr(e, all)
		return all.owners
	}
	for len(joined) < len(rels) {
		next := -1
		var lk, rk []Expr
		for j := range rels {
			if joined[j] {
				continue
			}
			only := map[int]bool{j: true}
			var l, r []Expr
			for i, c := range conj {
				b, ok := c.(*Binary)
				if used[i] || !ok || b.Op != "=" {
					continue
				}
				lo, ro := sideOwners(b.L), sideOwners(b.R)
				switch {
				case subset(lo, joined) && subset(ro, only):
					l, r = append(l, b.L), append(r, b.R)
				case subset(ro, joined) && subset(lo, only):
					l, r = append(l, b.R), append(r, b.L)
				default:
					continue
				}
				used[i] = true
			}
			if len(l) > 0 {
				next, lk, rk = j, l, r
				break
			}
		}
		if next < 0 {
			for j := range rels {
				if !joined[j] {
					next = j
					break
				}
			}
		}
		// the conjuncts this join makes readable are its condition, checked on each pair
		// of rows before the pair's columns are gathered
		joined[next] = true
		var on []Expr
		for i, c := range conj {
			if !used[i] && subset(owners[i], joined) {
				on = append(on, c)
				used[i] = true
			}
		}
		var err error
		if cur, err = pl.joinOn(cur, rels[next], joinKind(len(lk)), lk, rk, on, items[next].Position()); err != nil {
			return nil, err
		}
	}
	for i, c := range conj {
		if !used[i] {
			var err error
			if cur, err = pl.filter(cur, c); err != nil {
				return nil, err
			}
		}
	}
	return cur, nil
}

func joinKind(keys int) string {
	if keys == 0 {
		return "cross"
	}
	return "inner"
}

func (pl *planner) filter(r *rel, c Expr) (*rel, error) {
	x, err := pl.expr(c, &scope{cols: r.cols, clause: "WHERE"})
	if err != nil {
		return nil, err
	}
	n, _, err := pl.add(&plan.Node{Op: "filter", Input: r.node, Args: &engine.FilterArgs{Predicate: x}}, c.Position())
	if err != nil {
		return nil, err
	}
	return &rel{node: n, cols: r.cols}, nil
}

// join joins two relations on key expressions (translated over each side). Every column
// of both sides is kept: right columns whose field names clash with left ones are renamed
// first, and plain-column keys are wrapped so that the engine does not drop them.
// joinKey plans one pair of equal join keys, lk over l's columns and rk over r's.
func (pl *planner) joinKey(lk, rk Expr, l, r *rel) (x, y *plan.Expr, err error) {
	if x, err = pl.expr(lk, &scope{cols: l.cols, clause: "a join condition"}); err != nil {
		return nil, nil, err
	}
	if y, err = pl.expr(rk, &scope{cols: r.cols, clause: "a join condition"}); err != nil {
		return nil, nil, err
	}
	return x, y, nil
}

func (pl *planner) join(l, r *rel, how string, lk, rk []Expr, at Pos) (*rel, error) {
	return pl.joinOn(l, r, how, lk, rk, nil, at)
}

// joinOn is join where a pair of rows with equal keys also meets the conditions on
// (the rest of an outer join's ON) to match.
func (pl *planner) joinOn(l, r *rel, how string, lk, rk, on []Expr, at Pos) (*rel, error) {
	right, err := pl.renameClashes(l, r, at)
	if err != nil {
		return nil, err
	}
	var lx, rx []*plan.Expr
	for i := range lk {
		x, y, err := pl.joinKey(lk[i], rk[i], l, right)
		if err != nil {
			return nil, err
		}
		lx, rx = append(lx, x), append(rx, y)
	}
	if len(on) > 0 && (how == "inner" || how == "cross") && (pl.updating(l) || pl.updating(right)) {
		// the join takes no condition over updating inputs: it filters the joined changes
		out, err := pl.joinExprs(l, right, how, lx, rx, nil, at)
		for i := 0; i < len(on) && err == nil; i++ {
			out, err = pl.filter(out, on[i])
		}
		return out, err
	}
	var where *plan.Expr
	if len(on) > 0 {
		var cond Expr
		for _, c := range on {
			cond = and(cond, c)
		}
		if where, err = pl.expr(cond, &scope{cols: append(append([]column(nil), l.cols...), right.cols...)}); err != nil {
			return nil, err
		}
	}
	return pl.joinExprs(l, right, how, lx, rx, where, at)
}

// colType is the type of the column of cols with field name f (nil: none, or f is nil).
func colType(cols []column, f *string) arrow.DataType {
	if f == nil {
		return nil
	}
	for _, c := range cols {
		if c.field == *f {
			return c.typ
		}
	}
	return nil
}

// identicalWhenEqual says whether two equal values of type t are the same value (not so
// for floats: -0 = 0; nor for decimals of other scales, which the type rules out anyway).
func identicalWhenEqual(t arrow.DataType) bool {
	return expr.IsInteger(t) || expr.IsString(t) || expr.IsTemporal(t) || t.ID() == arrow.BOOL
}

// updating says whether r is an updating table (a changelog: its node's last column is
// the op column, which r's columns leave out).
func (pl *planner) updating(r *rel) bool {
	s, err := pl.schemaOf(r.node)
	return err == nil && s.NumFields() == len(r.cols)+1 && s.Field(len(r.cols)).Name == agg.OpColumn
}

// renameClashes gives the right columns whose field names the left has a new field name
// (their SQL names stay).
func (pl *planner) renameClashes(l, r *rel, at Pos) (*rel, error) {
	taken := map[string]bool{}
	for _, c := range l.cols {
		taken[c.field] = true
	}
	clash := false
	for _, c := range r.cols {
		if taken[c.field] {
			clash = true
		}
	}
	if !clash {
		return r, nil
	}
	var exprs []*plan.Expr
	var cols []column
	for _, c := range r.cols {
		name := c.field
		for k := 0; taken[name]; k++ {
			name = c.field + strconv.Itoa(k)
		}
		taken[name] = true
		exprs = append(exprs, alias(colRef(c.field), name))
		c.field = name
		cols = append(cols, c)
	}
	n, _, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: exprs}}, at)
	if err != nil {
		return nil, err
	}
	return &rel{node: n, cols: cols}, nil
}

// joinExprs joins two relations whose fields do not clash on keys already translated over
// each side.
func (pl *planner) joinExprs(l, right *rel, how string, lx, rx []*plan.Expr, where *plan.Expr, at Pos) (*rel, error) {
	args := &engine.JoinArgs{How: how, Where: where, NullsEqual: pl.nullSafeKeys}
	node := &plan.Node{Op: "join", Inputs: []*plan.Node{l.node, right.node}, Args: args}
	keep := func(x *plan.Expr, cols []column) *plan.Expr {
		if x.Col == nil {
			return x
		}
		for _, c := range cols {
			if c.field == *x.Col && c.typ != nil {
				t := c.typ
				if d, ok := t.(*arrow.DictionaryType); ok {
					t = d.ValueType // a dictionary key is kept as its values (no type name for it)
				}
				return &plan.Expr{Cast: expr.TypeName(t), Args: []*plan.Expr{x}}
			}
		}
		return x
	}
	// An inner join's right key equal to a left key of the same type (integers, strings,
	// dates and times: equal means identical) holds the left key's values on every row: the
	// join drops it (as the Python API's) and the relation reads it from the left key,
	// instead of gathering and carrying a copy. Other right keys are kept as the join's
	// own column (a cast to their own type is not dropped).
	same := map[string]string{} // right key field -> the left field it equals ("": not every use)
	if how == "inner" {
		for i := range lx {
			x, y := lx[i], rx[i]
			if y.Col == nil {
				continue
			}
			lt, rt := colType(l.cols, x.Col), colType(right.cols, y.Col)
			if prev, seen := same[*y.Col]; x.Col == nil || lt == nil || rt == nil || !arrow.TypeEqual(lt, rt) ||
				!identicalWhenEqual(lt) || (seen && prev == "") {
				same[*y.Col] = ""
				continue
			}
			same[*y.Col] = *x.Col
		}
	}
	for i := range lx {
		x, y := lx[i], rx[i]
		switch how {
		case "inner", "left":
			if y.Col == nil || same[*y.Col] == "" {
				y = keep(y, right.cols)
			}
		case "right":
			x = keep(x, l.cols)
		}
		args.LeftOn = append(args.LeftOn, x)
		args.RightOn = append(args.RightOn, y)
	}
	n, schema, err := pl.add(node, at)
	if err != nil {
		return nil, err
	}
	if how == "semi" || how == "anti" {
		return &rel{node: n, cols: l.cols}, nil
	}
	cols := append(append([]column(nil), l.cols...), right.cols...)
	fieldOf := make([]int, 0, len(cols)) // the join's fields, in order, as cols' indexes
	var copies []*plan.Expr              // with a dropped right key: the select that gives it back
	for i, c := range cols {
		if i >= len(l.cols) && same[c.field] != "" {
			copies = append(copies, alias(colRef(same[c.field]), c.field))
			continue
		}
		fieldOf = append(fieldOf, i)
		copies = append(copies, colRef(c.field))
	}
	if schema.NumFields() == len(fieldOf)+1 && schema.Field(len(fieldOf)).Name == agg.OpColumn {
		// an outer join over an unbounded input gives an updating result: its op column
		// goes on through the operators that take it (docs/changelog.md), unnamed in SQL
		schema = arrow.NewSchema(schema.Fields()[:len(fieldOf)], nil)
	}
	if schema.NumFields() != len(fieldOf) {
		return nil, errorAt(at, "internal: the join gives %d columns, the planner expected %d", schema.NumFields(), len(fieldOf))
	}
	for i, c := range fieldOf {
		if schema.Field(i).Name != cols[c].field {
			return nil, errorAt(at, "internal: the join's column %d is %q, the planner expected %q", i, schema.Field(i).Name, cols[c].field)
		}
		cols[c].typ = schema.Field(i).Type
	}
	if len(fieldOf) < len(cols) {
		// the right keys read from the left ones, a copy of the column's reference (a
		// select that no one reads a column of drops it)
		var opCol []*plan.Expr
		if schema.NumFields() < len(fieldOf)+1 {
			if full, err := pl.schemaOf(n); err == nil && full.NumFields() == len(fieldOf)+1 {
				opCol = append(opCol, colRef(agg.OpColumn))
			}
		}
		if n, _, err = pl.add(&plan.Node{Op: "select", Input: n, Args: &engine.SelectArgs{Exprs: append(copies, opCol...)}}, at); err != nil {
			return nil, err
		}
	}
	return &rel{node: n, cols: cols}, nil
}

// tableExpr plans one FROM item.
func (pl *planner) tableExpr(t TableExpr) (*rel, error) {
	switch t := t.(type) {
	case *TableName:
		return pl.table(t)
	case *SubqueryTable:
		r, err := pl.query(t.Query)
		if err != nil {
			return nil, err
		}
		out := &rel{node: r.node, win: r.win} // a window table function: for a window join
		for _, c := range r.cols {
			if c.qual != hiddenQual {
				c.qual = t.Alias
			}
			out.cols = append(out.cols, c)
		}
		return out, nil
	case *JoinExpr:
		return pl.explicitJoin(t)
	case *WindowTVF:
		return pl.windowTVF(t)
	case *plannedTable:
		return &rel{node: t.r.node, cols: append([]column(nil), t.r.cols...), win: t.r.win}, nil
	}
	return nil, errorAt(t.Position(), "unexpected FROM item")
}

// explicitJoin plans left [kind] JOIN right ON/USING.
func (pl *planner) explicitJoin(j *JoinExpr) (*rel, error) {
	r, _, err := pl.explicitJoinWhere(j, nil)
	return r, err
}

// explicitJoinWhere plans left [kind] JOIN right ON/USING under the conjuncts where of a
// WHERE (without subqueries). An inner or cross join of two tables takes them as part of
// its ON condition (the same rows for an inner join): a conjunct that reads one side
// filters it before the join, an equality between the sides is a join key. It returns the
// conjuncts it did not take (all of them for the other joins) to filter its result.
func (pl *planner) explicitJoinWhere(j *JoinExpr, where []Expr) (*rel, []Expr, error) {
	l, err := pl.tableExpr(j.Left)
	if err != nil {
		return nil, nil, err
	}
	right := j.Right
	versioned, _ := j.Right.(*TableName)
	if versioned != nil && versioned.AsOf != nil {
		if err := pl.versionedTable(versioned); err != nil {
			return nil, nil, err
		}
		plain := *versioned
		plain.AsOf = nil
		right = &plain
	} else {
		versioned = nil
	}
	r, err := pl.tableExpr(right)
	if err != nil {
		return nil, nil, err
	}
	if l.win != nil || r.win != nil {
		out, err := pl.windowJoin(j, l, r)
		return out, where, err
	}
	for i := range l.cols {
		l.cols[i].owner = 0
	}
	for i := range r.cols {
		r.cols[i].owner = 1
	}
	kind := j.Kind
	if kind == "cross" && len(where) > 0 {
		kind = "inner" // its WHERE may hold the keys
	}
	var left []Expr // the conjuncts that filter the result
	if kind != "inner" || j.Using != nil || versioned != nil {
		left, where = where, nil
	}
	if kind == "cross" {
		out, err := pl.join(l, r, "cross", nil, nil, j.P)
		return out, left, err
	}
	var lk, rk []Expr
	var rest []Expr
	var nsL, nsR, nsC []Expr // IS NOT DISTINCT FROM between the sides: left, right, conjunct
	nullSafe := false
	if j.Using != nil {
		for _, c := range j.Using {
			lk = append(lk, &Ident{At{j.P}, []string{c}})
			rk = append(rk, &Ident{At{j.P}, []string{c}})
		}
		for i := range r.cols {
			for _, c := range j.Using {
				if r.cols[i].name == c {
					r.cols[i].shadow, r.cols[i].nostar = true, true
				}
			}
		}
	} else {
		both := &scope{cols: append(append([]column(nil), l.cols...), r.cols...)}
		ownersOf := func(e Expr) (map[int]bool, error) {
			both.owners = map[int]bool{}
			_, err := pl.expr(e, both)
			return both.owners, err
		}
		for _, c := range append(conjuncts(j.On), where...) {
			if containsSubquery(c) {
				return nil, nil, unsupported(c.Position(), "a subquery in a join condition")
			}
			// l IS NOT DISTINCT FROM r between the two sides: a key that matches NULL with
			// NULL, used as the join's keys when no equality is (below); else a condition.
			if d, ok := c.(*IsDistinct); ok && d.Not {
				lo, err1 := ownersOf(d.L)
				ro, err2 := ownersOf(d.R)
				switch {
				case err1 != nil || err2 != nil:
				case len(lo) == 1 && lo[0] && len(ro) == 1 && ro[1]:
					nsL, nsR, nsC = append(nsL, d.L), append(nsR, d.R), append(nsC, c)
				case len(lo) == 1 && lo[1] && len(ro) == 1 && ro[0]:
					nsL, nsR, nsC = append(nsL, d.R), append(nsR, d.L), append(nsC, c)
				}
			}
			if b, ok := c.(*Binary); ok && b.Op == "=" {
				lo, err := ownersOf(b.L)
				if err != nil {
					return nil, nil, err
				}
				ro, err := ownersOf(b.R)
				if err != nil {
					return nil, nil, err
				}
				switch {
				case len(lo) == 1 && lo[0] && len(ro) == 1 && ro[1]:
					lk, rk = append(lk, b.L), append(rk, b.R)
					continue
				case len(lo) == 1 && lo[1] && len(ro) == 1 && ro[0]:
					lk, rk = append(lk, b.R), append(rk, b.L)
					continue
				}
			}
			if _, err := ownersOf(c); err != nil {
				return nil, nil, err
			}
			rest = append(rest, c)
		}
	}
	if len(lk) == 0 && len(nsL) > 0 && versioned == nil {
		// Only null-safe equalities between the sides: they are the keys, null matching
		// null (with an equality as well, they stay conditions on its matches).
		lk, rk, nullSafe = nsL, nsR, true
		kept := rest[:0:0]
		for _, c := range rest {
			if !slices.Contains(nsC, c) {
				kept = append(kept, c)
			}
		}
		rest = kept
	}
	if versioned != nil {
		out, err := pl.temporalJoin(j, versioned, l, r, lk, rk, rest)
		return out, left, err
	}
	// an inner join with bounds between the two sides' event times is an interval join
	if kind == "inner" && len(lk) > 0 && len(rest) > 0 && !nullSafe {
		if lo, hi, others, ok := pl.intervalBounds(l, r, rest); ok {
			out, err := pl.timeJoin(j, l, r, lk, rk, others,
				&engine.JoinArgs{How: "interval", Lower: signedDuration(lo), Upper: signedDuration(hi)}, nil)
			return out, nil, err
		}
	}
	// other conditions: on the side a join keeps whole they filter that input first; the
	// rest are the join's condition, checked on each pair of rows with equal keys (an inner
	// join drops a pair that fails before it gathers the pair's columns)
	var on []Expr
	for _, c := range rest {
		both := &scope{cols: append(append([]column(nil), l.cols...), r.cols...), owners: map[int]bool{}}
		if _, err := pl.expr(c, both); err != nil {
			return nil, nil, err
		}
		onlyLeft := len(both.owners) == 1 && both.owners[0]
		onlyRight := len(both.owners) == 1 && both.owners[1]
		switch {
		case onlyRight && (kind == "inner" || kind == "left"):
			if r, err = pl.filter(r, c); err != nil {
				return nil, nil, err
			}
		case onlyLeft && (kind == "inner" || kind == "right"):
			if l, err = pl.filter(l, c); err != nil {
				return nil, nil, err
			}
		default:
			on = append(on, c)
		}
	}
	how := kind
	if len(lk) == 0 {
		if kind != "inner" {
			what := "a " + kind + " join without an equality between the two sides (= or IS NOT DISTINCT FROM between a column of each)"
			return nil, nil, unsupported(j.P, what)
		}
		how = "cross"
	}
	pl.nullSafeKeys = nullSafe
	out, err := pl.joinOn(l, r, how, lk, rk, on, j.P)
	pl.nullSafeKeys = false
	if err != nil {
		return nil, nil, err
	}
	if j.Using != nil && (how == "right" || how == "full") {
		if out, err = pl.mergeUsing(out, len(l.cols), j); err != nil {
			return nil, nil, err
		}
	}
	return out, left, nil
}

// mergeUsing gives a right or full join USING (cols) the merged columns SQL defines: an
// unqualified USING column is the right side's value (right join) or the first non-NULL of
// the two (full join), since an unmatched row has NULL on the other side. The merged
// column takes the left one's place in *; t.k and u.k still name each side's own.
func (pl *planner) mergeUsing(out *rel, nLeft int, j *JoinExpr) (*rel, error) {
	var exprs []*plan.Expr
	var cols []column
	for i, c := range out.cols {
		if i < nLeft {
			for _, name := range j.Using {
				if c.name != name {
					continue
				}
				var rc *column
				for k := nLeft; k < len(out.cols); k++ {
					if out.cols[k].name == name {
						rc = &out.cols[k]
					}
				}
				if rc == nil {
					return nil, errorAt(j.P, "internal: no right column %q for USING", name)
				}
				v := colRef(rc.field)
				if j.Kind == "full" {
					v = fn("fill_null", colRef(c.field), v)
				}
				field := pl.fresh("_using")
				exprs = append(exprs, alias(v, field))
				cols = append(cols, column{name: name, field: field, owner: c.owner})
				c.shadow, c.nostar = true, true
			}
		}
		exprs = append(exprs, colRef(c.field))
		cols = append(cols, c)
	}
	n, schema, err := pl.add(&plan.Node{Op: "select", Input: out.node, Args: &engine.SelectArgs{Exprs: exprs}}, j.P)
	if err != nil {
		return nil, err
	}
	for i := range cols {
		cols[i].typ = schema.Field(i).Type
	}
	return &rel{node: n, cols: cols}, nil
}

// windowTVF plans TABLE(TUMBLE|HOP|CUMULATE(TABLE t, DESCRIPTOR(ts), ...)): the table's
// relation with window_start, window_end and window_time, and the window its GROUP BY
// window_start, window_end aggregates over.
func (pl *planner) windowTVF(t *WindowTVF) (*rel, error) {
	base, err := pl.tableExpr(t.Table)
	if err != nil {
		return nil, err
	}
	if base.win != nil {
		return nil, unsupported(t.P, "a window table function over another")
	}
	ts, err := (&scope{cols: base.cols}).resolve(&Ident{At{t.DescAt}, []string{t.Descriptor}})
	if err != nil {
		return nil, err
	}
	def := &plan.WindowDef{On: ts.field}
	want := 1
	switch t.Fn {
	case "TUMBLE":
		def.Kind = "tumbling"
	case "HOP":
		def.Kind, want = "sliding", 2
	case "CUMULATE":
		def.Kind, want = "cumulate", 2
	case "SESSION":
		def.Kind = "session"
	}
	if len(t.Args) < want || len(t.Args) > want+1 {
		return nil, errorAt(t.P, "%s takes TABLE, DESCRIPTOR and %d interval(s)%s, got %d", t.Fn, want, map[bool]string{true: " and an optional offset", false: ""}[t.Fn != "SESSION"], len(t.Args))
	}
	var ds []string
	for _, a := range t.Args {
		d, err := intervalDuration(a)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	switch t.Fn {
	case "TUMBLE":
		def.Size = ds[0]
	case "HOP": // HOP(TABLE t, DESCRIPTOR(ts), slide, size)
		def.Slide, def.Size = ds[0], ds[1]
	case "CUMULATE": // CUMULATE(TABLE t, DESCRIPTOR(ts), step, max size)
		def.Step, def.Size = ds[0], ds[1]
	case "SESSION":
		def.Gap = ds[0]
	}
	if len(ds) > want {
		if t.Fn == "SESSION" {
			return nil, errorAt(t.Args[want].Position(), "SESSION takes one interval (the gap)")
		}
		def.Offset = ds[want]
	}
	// SESSION(TABLE t PARTITION BY k, ...): sessions per k, which the engine's session
	// window_agg keyed by the GROUP BY keys gives when k is among them (checked there).
	var partition []string
	for _, k := range t.PartitionBy {
		c, err := (&scope{cols: base.cols}).resolve(&Ident{At{t.P}, []string{k}})
		if err != nil {
			return nil, err
		}
		partition = append(partition, c.field)
	}
	qual := t.Alias
	r := &rel{node: base.node, win: &windowTVF{def: def, at: t.P, partition: partition}}
	for _, c := range base.cols {
		if qual != "" {
			c.qual = qual
		}
		r.cols = append(r.cols, c)
	}
	for _, name := range windowCols {
		r.cols = append(r.cols, column{qual: qual, name: name, field: name, typ: ts.typ})
	}
	return r, nil
}

// windowCols are the columns a window table function adds: the window's bounds and
// window_time, its last instant (window_end minus one unit of the time column, Flink's
// window_end - 1 ms of a TIMESTAMP(3)), which the window operators over it (aggregation,
// join) output as the event time of their result.
var windowCols = []string{"window_start", "window_end", "window_time"}

// isWindowCol says whether a column is one of windowCols.
func isWindowCol(c column) bool {
	return c.field == "window_start" || c.field == "window_end" || c.field == "window_time"
}

// withWindowTime adds window_time to the output of a window operator over a window
// table function that gives window_start and window_end only (the window top-N): window_end
// minus one unit of its type. A DATE window's has no such expression: the columns then
// lose window_time.
func (pl *planner) withWindowTime(n *plan.Node, cols []column, at Pos) (*plan.Node, []column, error) {
	var typ arrow.DataType
	for _, c := range cols {
		if c.field == "window_end" {
			typ = c.typ
		}
	}
	var one *plan.Expr
	switch t := typ.(type) {
	case *arrow.TimestampType:
		one = lit(1, "duration["+t.Unit.String()+"]")
	case *arrow.Int64Type:
		one = lit(1, "int64")
	default:
		var kept []column
		for _, c := range cols {
			if c.field != "window_time" {
				kept = append(kept, c)
			}
		}
		return n, kept, nil
	}
	n, _, err := pl.add(&plan.Node{Op: "with_columns", Input: n, Args: &engine.WithColumnsArgs{Exprs: []*plan.Expr{
		alias(fn("sub", colRef("window_end"), one), "window_time")}}}, at)
	return n, cols, err
}

// conjuncts splits a condition at its top-level ANDs.
func conjuncts(e Expr) []Expr {
	if b, ok := e.(*Binary); ok && b.Op == "and" {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	if e == nil {
		return nil
	}
	return []Expr{e}
}

func disjuncts(e Expr) []Expr {
	if b, ok := e.(*Binary); ok && b.Op == "or" {
		return append(disjuncts(b.L), disjuncts(b.R)...)
	}
	return []Expr{e}
}

// factorOr rewrites (A AND B) OR (A AND C) as A AND (B OR C) in each conjunct, so that a
// join condition repeated in every branch of an OR becomes a join key.
func factorOr(e Expr) Expr {
	var out []Expr
	for _, c := range conjuncts(e) {
		ds := disjuncts(c)
		if len(ds) < 2 {
			out = append(out, c)
			continue
		}
		first := conjuncts(ds[0])
		var common []Expr
		for _, x := range first {
			k := exprKey(x)
			inAll := true
			for _, d := range ds[1:] {
				found := false
				for _, y := range conjuncts(d) {
					if exprKey(y) == k {
						found = true
						break
					}
				}
				if !found {
					inAll = false
					break
				}
			}
			if inAll {
				common = append(common, x)
			}
		}
		if len(common) == 0 {
			out = append(out, c)
			continue
		}
		keys := map[string]bool{}
		for _, x := range common {
			keys[exprKey(x)] = true
		}
		var branches Expr
		empty := false
		var alts []Expr
		for _, d := range ds {
			var rest []Expr
			for _, y := range conjuncts(d) {
				if !keys[exprKey(y)] {
					rest = append(rest, y)
				}
			}
			if len(rest) == 0 {
				empty = true // one branch is just the common part: the OR is true
				break
			}
			alts = append(alts, balanced("and", rest))
		}
		if !empty {
			branches = balanced("or", alts)
		}
		out = append(out, common...)
		if !empty {
			out = append(out, branches)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return balanced("and", out)
}

// andAll is the conjunction of xs (at least one), as a balanced tree (see balanced).
func andAll(xs []*plan.Expr) *plan.Expr {
	if len(xs) == 1 {
		return xs[0]
	}
	mid := len(xs) / 2
	return fn("and", andAll(xs[:mid]), andAll(xs[mid:]))
}

// exprKey is a position-free text of an expression, to compare expressions.
func exprKey(e Expr) string {
	var b []byte
	var w func(e Expr)
	w = func(e Expr) {
		switch e := e.(type) {
		case nil:
			b = append(b, "nil"...)
		case *Ident:
			for _, p := range e.Parts {
				b = append(b, p...)
				b = append(b, '.')
			}
		case *Literal:
			b = append(b, "lit("...)
			b = strconv.AppendInt(b, int64(e.Kind), 10)
			b = append(b, e.Text...)
			b = append(b, e.Unit...)
			b = append(b, ')')
		case *Binary:
			b = append(b, '(')
			w(e.L)
			b = append(b, e.Op...)
			w(e.R)
			b = append(b, ')')
		default:
			// other kinds compare by identity: never factored
			b = append(b, "node"...)
			b = strconv.AppendInt(b, int64(e.Position().Line), 10)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(e.Position().Col), 10)
			b = append(b, describe(e)...)
		}
	}
	w(e)
	return string(b)
}

func describe(e Expr) string {
	switch e.(type) {
	case *InList:
		return "in"
	case *Between:
		return "between"
	case *Like:
		return "like"
	}
	return "x"
}

func containsSubquery(e Expr) bool {
	found := false
	walkExpr(e, func(x Expr) bool {
		switch x.(type) {
		case *Subquery, *InSubquery, *Exists:
			found = true
			return false
		}
		return true
	})
	return found
}
