package sql

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// plannedTable is a FROM item already planned (the top-N rewrite hands its ranked rows to
// the SELECT blocks around it).
type plannedTable struct {
	At
	r *rel
}

func (*plannedTable) tableExpr() {}

// info is what the engine's binder says of a node's output: schema, event time, boundedness.
func (pl *planner) info(n *plan.Node) (engine.OutputInfo, error) {
	doc, err := json.Marshal(map[string]any{"version": plan.PlanVersion, "root": Encode(n, nil), "options": map[string]any{}})
	if err != nil {
		return engine.OutputInfo{}, err
	}
	p, err := plan.ParsePlan(doc)
	if err != nil {
		return engine.OutputInfo{}, err
	}
	return engine.DescribeOutputWith(p, pl.inputs, pl.cache)
}

// topN plans Flink's top-N and deduplication queries,
//
//	SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY p ORDER BY o) AS rownum
//	                 FROM t) [alias] WHERE rownum <= N [AND ...]
//
// onto the engine's operators where they apply:
//
//   - PARTITION BY window_start, window_end [, k ...] (t a window table function, or a
//     window aggregation's result): window top-N ("topn", ranking by the one ORDER BY key);
//
//   - ORDER BY t's event-time column ASC and rownum = 1 (or <= 1): deduplication keeping
//     the first row ("dedup").
//
//   - any other ORDER BY over an unbounded table: Flink's streaming top-N ("rank"), an
//     updating result; with ORDER BY the event time DESC and rownum = 1, deduplication
//     keeping the last row. The row number is output (and rows whose rank changes are
//     updated) only if the query reads it, as Flink's "no ranking number" optimization.
//
// Other top-N queries over a bounded table are planned as written (ROW_NUMBER() by the
// engine's over, then the filter). ok is false when the query is not of this form.
func (pl *planner) topN(s *Select, order []*OrderItem) (_ *rel, ok bool, _ error) {
	if len(s.From) != 1 || s.Where == nil {
		return nil, false, nil
	}
	st, isSub := s.From[0].(*SubqueryTable)
	if !isSub || len(st.Query.With) > 0 || len(st.Query.OrderBy) > 0 || st.Query.Limit != nil || st.Query.Offset != nil {
		return nil, false, nil
	}
	sub, isSel := st.Query.Body.(*Select)
	if !isSel || len(sub.From) == 0 || sub.Distinct || len(sub.GroupBy) > 0 || sub.Having != nil {
		return nil, false, nil
	}
	rn := -1
	for i, it := range sub.Items {
		if f, isF := it.Expr.(*FuncCall); isF && f.Name == "ROW_NUMBER" && f.Over != nil {
			if rn >= 0 {
				return nil, false, nil
			}
			rn = i
		} else if it.Expr != nil && containsAggregate(it.Expr) {
			return nil, false, nil
		}
	}
	if rn < 0 {
		return nil, false, nil
	}
	item := sub.Items[rn]
	name := item.Alias
	if name == "" {
		name = "EXPR$" + strconv.Itoa(rn)
	}
	// the bound on rownum among the outer WHERE's conjuncts
	var n int64 = -1
	var rest []Expr
	for _, c := range conjuncts(s.Where) {
		if k, isBound := rowBound(c, name, st.Alias); isBound && n < 0 {
			n = k
			continue
		}
		rest = append(rest, c)
	}
	if n < 0 {
		return nil, false, nil
	}
	f := item.Expr.(*FuncCall)
	over := f.Over
	if len(f.Args) > 0 || f.Star {
		return nil, false, errorAt(f.P, "ROW_NUMBER() takes no arguments")
	}
	if over.Frame != nil {
		return nil, false, nil
	}
	from, err := pl.from(sub.From, sub.Where)
	if err != nil {
		return nil, false, err
	}
	sc := &scope{cols: from.cols, clause: "OVER (PARTITION BY ...)"}
	// partition columns: window_start and window_end make it a window top-N
	var keys []*plan.Expr
	hasStart, hasEnd := false, false
	for _, p := range over.PartitionBy {
		if id, isID := p.(*Ident); isID {
			c, err := sc.resolve(id)
			if err != nil {
				return nil, false, err
			}
			switch c.field {
			case "window_start":
				hasStart = true
				continue
			case "window_end":
				hasEnd = true
				continue
			}
		}
		x, err := pl.expr(p, sc)
		if err != nil {
			return nil, false, err
		}
		keys = append(keys, x)
	}
	windowed := hasStart && hasEnd
	if from.win != nil && !windowed {
		return nil, false, unsupported(over.P, "ROW_NUMBER() over a window table function without PARTITION BY window_start, window_end")
	}
	inf, err := pl.info(from.node)
	if err != nil {
		return nil, false, atPos(over.P, err)
	}
	var ranked *rel
	rowNumber := Expr(&Ident{At{item.P}, []string{"$rownum"}})
	switch {
	case windowed:
		if len(over.OrderBy) != 1 {
			return nil, false, unsupported(over.P, "a window top-N without exactly one ORDER BY key")
		}
		if n == 0 {
			return nil, false, errorAt(s.Where.Position(), "the top-N bound keeps no row")
		}
		ob := over.OrderBy[0]
		if ob.NullsFirst != nil && *ob.NullsFirst {
			return nil, false, unsupported(ob.P, "NULLS FIRST in a window top-N (it ranks NULL last)")
		}
		x, err := pl.expr(ob.Expr, &scope{cols: from.cols, clause: "OVER (ORDER BY ...)"})
		if err != nil {
			return nil, false, err
		}
		args := &engine.TopNArgs{Keys: keys, N: &n, OrderBy: x, Descending: ob.Desc}
		cols := from.cols
		if from.win != nil {
			args.Window = from.win.def
		}
		node, _, err := pl.add(&plan.Node{Op: "topn", Input: from.node, Args: args}, over.P)
		if err != nil {
			return nil, false, err
		}
		if from.win != nil { // the window table function's window_time, from window_end
			if node, cols, err = pl.withWindowTime(node, cols, over.P); err != nil {
				return nil, false, err
			}
		}
		ranked = &rel{node: node, cols: append(append([]column(nil), cols...), column{name: "$rownum", field: "rank", nostar: true})}
	case len(over.OrderBy) == 1 && isProctime(over.OrderBy[0].Expr):
		// Flink's processing-time deduplication and top-N: the rows rank in arrival order
		ob := over.OrderBy[0]
		if ob.NullsFirst != nil {
			return nil, false, errorAt(ob.P, "NULLS FIRST/LAST with ORDER BY PROCTIME() (processing time is never NULL)")
		}
		if n == 0 {
			return nil, false, errorAt(s.Where.Position(), "the top-N bound keeps no row")
		}
		first := !ob.Desc && n == 1 && len(keys) > 0
		if !inf.Unbounded && !first {
			// a bounded table's result is its final table, not the changes of an arrival order
			return nil, false, unsupported(ob.P, "ORDER BY PROCTIME() over a bounded table but for the first row per key (PARTITION BY, ASC, rownum = 1)")
		}
		if first && !inf.Updating {
			// the first row per key: an append-only result, as Flink's
			node, _, err := pl.add(&plan.Node{Op: "unique", Input: from.node, Args: &engine.UniqueArgs{Keys: keys, Mode: "first"}}, over.P)
			if err != nil {
				return nil, false, err
			}
			ranked = &rel{node: node, cols: from.cols}
			rowNumber = &Literal{At{item.P}, LitInt, "1", ""}
			break
		}
		// the first n (ASC) or the last n (DESC) rows per key: the engine's rank by arrival
		args := &engine.RankArgs{Keys: keys, N: &n, KeepLast: ob.Desc, ArrivalOrder: !ob.Desc}
		if ranked, rowNumber, err = pl.rank(args, from, item, name, st.Alias, s, rest, order, over.P); err != nil {
			return nil, false, err
		}
	case len(over.OrderBy) == 1 && !over.OrderBy[0].Desc && n == 1 && inf.EventTime != "" && len(keys) > 0 && isColumn(over.OrderBy[0].Expr, sc, inf.EventTime):
		node, _, err := pl.add(&plan.Node{Op: "dedup", Input: from.node, Args: &engine.DedupArgs{Keys: keys}}, over.P)
		if err != nil {
			return nil, false, err
		}
		ranked = &rel{node: node, cols: from.cols}
		rowNumber = &Literal{At{item.P}, LitInt, "1", ""}
	case inf.Unbounded:
		// Flink's streaming top-N and last-row deduplication: an updating result.
		if len(over.OrderBy) == 0 {
			return nil, false, errorAt(over.P, "ROW_NUMBER() without ORDER BY over an unbounded table is not supported: its rows would rank in arrival order; give the ORDER BY (e.g. the event time DESC, rownum = 1, to keep the last row per key, or PROCTIME() to rank the rows as they arrive)")
		}
		if n == 0 {
			return nil, false, errorAt(s.Where.Position(), "the top-N bound keeps no row")
		}
		args := &engine.RankArgs{Keys: keys, N: &n}
		osc := &scope{cols: from.cols, clause: "OVER (ORDER BY ...)"}
		for _, ob := range over.OrderBy {
			if isProctime(ob.Expr) {
				return nil, false, unsupported(ob.P, "PROCTIME() among several ORDER BY keys (order by PROCTIME() alone)")
			}
			x, err := pl.expr(ob.Expr, osc)
			if err != nil {
				return nil, false, err
			}
			// NULL is the smallest value unless NULLS FIRST/LAST says otherwise, as Flink's
			nullsFirst := !ob.Desc
			if ob.NullsFirst != nil {
				nullsFirst = *ob.NullsFirst
			}
			args.OrderBy, args.Descending = append(args.OrderBy, x), append(args.Descending, ob.Desc)
			args.NullsFirst = append(args.NullsFirst, nullsFirst)
		}
		// ORDER BY the event time DESC, rownum = 1: Flink's deduplication keeping the last
		// row (a later row of the same time replaces the kept one)
		args.KeepLast = n == 1 && len(over.OrderBy) == 1 && over.OrderBy[0].Desc && inf.EventTime != "" &&
			isColumn(over.OrderBy[0].Expr, sc, inf.EventTime)
		if ranked, rowNumber, err = pl.rank(args, from, item, name, st.Alias, s, rest, order, over.P); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, nil // bounded: planned as written
	}
	// the inner SELECT over the ranked rows, ROW_NUMBER() read from them
	items := append([]*SelectItem(nil), sub.Items...)
	items[rn] = &SelectItem{At: item.At, Expr: rowNumber, Alias: name}
	inner, err := pl.selectBlock(&Select{At: sub.At, Items: items, From: []TableExpr{&plannedTable{At: st.At, r: ranked}}}, nil)
	if err != nil {
		return nil, false, err
	}
	outer := &rel{node: inner.node}
	for _, c := range inner.cols {
		c.qual = st.Alias
		outer.cols = append(outer.cols, c)
	}
	var where Expr
	for _, c := range rest {
		if where == nil {
			where = c
		} else {
			where = &Binary{At{c.Position()}, "and", where, c}
		}
	}
	cp := *s
	cp.From, cp.Where = []TableExpr{&plannedTable{At: st.At, r: outer}}, where
	r, err := pl.selectBlock(&cp, order)
	return r, true, err
}

// rank adds the engine's streaming top-N ("rank", args) over from: the ranked rows and
// what the query reads as the row number (the rank column if the outer query s reads the
// row number, called name; otherwise a 1 never read, as Flink's "no ranking number").
func (pl *planner) rank(args *engine.RankArgs, from *rel, item *SelectItem, name, qual string, s *Select, rest []Expr, order []*OrderItem, p Pos) (*rel, Expr, error) {
	cols := from.cols
	var rowNumber Expr = &Literal{At{item.P}, LitInt, "1", ""} // never read
	if refersTo(name, qual, s, rest, order) {
		// the row number is selected: rows whose rank changes are updated too
		args.RankColumn = "$rownum"
		cols = append(append([]column(nil), cols...), column{name: "$rownum", field: "$rownum", nostar: true})
		rowNumber = &Ident{At{item.P}, []string{"$rownum"}}
	}
	node, _, err := pl.add(&plan.Node{Op: "rank", Input: from.node, Args: args}, p)
	if err != nil {
		return nil, nil, err
	}
	return &rel{node: node, cols: cols}, rowNumber, nil
}

// isProctime reports whether e is PROCTIME() (Flink's processing time).
func isProctime(e Expr) bool {
	f, ok := e.(*FuncCall)
	return ok && f.Name == "PROCTIME" && len(f.Args) == 0 && !f.Star && f.Over == nil
}

// rowBound recognizes rownum <= N, rownum < N, rownum = 1 (and N >= rownum, ...): the number
// of rows it keeps.
func rowBound(c Expr, name, qual string) (int64, bool) {
	b, isB := c.(*Binary)
	if !isB {
		return 0, false
	}
	isName := func(e Expr) bool {
		id, ok := e.(*Ident)
		if !ok {
			return false
		}
		switch len(id.Parts) {
		case 1:
			return strings.EqualFold(id.Parts[0], name)
		case 2:
			return qual != "" && strings.EqualFold(id.Parts[0], qual) && strings.EqualFold(id.Parts[1], name)
		}
		return false
	}
	num := func(e Expr) (int64, bool) {
		l, ok := e.(*Literal)
		if !ok || l.Kind != LitInt {
			return 0, false
		}
		v, err := strconv.ParseInt(l.Text, 10, 64)
		return v, err == nil && v >= 0
	}
	op := b.Op
	l, r := b.L, b.R
	if !isName(l) {
		l, r = r, l
		op = map[string]string{"<=": ">=", ">=": "<=", "<": ">", ">": "<", "=": "="}[op]
	}
	if !isName(l) {
		return 0, false
	}
	v, ok := num(r)
	if !ok {
		return 0, false
	}
	switch op {
	case "<=":
		return v, true
	case "<":
		if v == 0 {
			return 0, true
		}
		return v - 1, true
	case "=":
		if v == 1 {
			return 1, true
		}
	}
	return 0, false
}

// isColumn reports whether e names the column whose field is field.
func isColumn(e Expr, sc *scope, field string) bool {
	id, ok := e.(*Ident)
	if !ok {
		return false
	}
	c, err := sc.resolve(id)
	return err == nil && c.field == field
}

// refersTo reports whether the outer query s (its items, its ORDER BY order and the conjuncts rest
// of its WHERE besides the bound) reads the column name (qualified by qual or not): a
// SELECT * does.
func refersTo(name, qual string, s *Select, rest []Expr, order []*OrderItem) bool {
	found := false
	visit := func(e Expr) bool {
		if id, ok := e.(*Ident); ok {
			switch len(id.Parts) {
			case 1:
				found = found || strings.EqualFold(id.Parts[0], name)
			case 2:
				found = found || (strings.EqualFold(id.Parts[1], name) && (qual == "" || strings.EqualFold(id.Parts[0], qual)))
			}
		}
		return !found
	}
	for _, it := range s.Items {
		if it.Star {
			return true
		}
		walkExpr(it.Expr, visit)
	}
	for _, c := range rest {
		walkExpr(c, visit)
	}
	for _, o := range order {
		walkExpr(o.Expr, visit)
	}
	return found
}
