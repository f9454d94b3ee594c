package sql

import (
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// overCall translates a window function call f(...) OVER (PARTITION BY ... ORDER BY ...
// [frame]) in a SELECT list into the engine's over(...) expression (engine/ops/over),
// which the engine computes on bounded input:
//
//   - ROW_NUMBER() is row_number; RANK() and DENSE_RANK() are rank (method min, dense) of
//     the one ORDER BY key;
//   - LAG(x [, n [, default]]) and LEAD(...) are shift by n rows (lagLead);
//   - an aggregate over the whole partition (no ORDER BY, or ROWS/RANGE BETWEEN UNBOUNDED
//     PRECEDING AND UNBOUNDED FOLLOWING) is the aggregate broadcast to the partition's rows;
//   - COUNT, SUM, AVG, MIN and MAX with one ascending ORDER BY key and a frame ending at
//     CURRENT ROW (ROWS or RANGE, n / INTERVAL / UNBOUNDED PRECEDING; no frame: RANGE
//     BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) are aggregations over frames
//     (over(..., rows= | range=)), which also run on unbounded tables ordered by their
//     event time (frameOver);
//   - else an aggregate with ROWS BETWEEN n PRECEDING AND CURRENT ROW is rolling_* over n + 1
//     rows (at least one value, else NULL); with ROWS BETWEEN UNBOUNDED PRECEDING AND
//     CURRENT ROW COUNT is row_number / cum_count, SUM the running sum of the values (NULL
//     while there is none).
//
// Everything else is refused with its position.
func (pl *planner) overCall(f *FuncCall, s *scope) (*plan.Expr, error) {
	o := f.Over
	if s.clause != "SELECT" {
		return nil, unsupported(f.P, f.Name+"(...) OVER (...) outside the SELECT list")
	}
	if f.Distinct {
		return nil, unsupported(f.P, f.Name+"(DISTINCT ...) OVER (...)")
	}
	var parts, orders []*plan.Expr
	for _, p := range o.PartitionBy {
		x, err := pl.expr(p, s)
		if err != nil {
			return nil, err
		}
		parts = append(parts, x)
	}
	desc, nullsLast := false, false
	var keyDesc, keyNullsLast []any // per key, when they differ
	mixed := false
	for i, it := range o.OrderBy {
		x, err := pl.expr(it.Expr, s)
		if err != nil {
			return nil, err
		}
		nl := it.Desc // Flink's default: NULL is the smallest value
		if it.NullsFirst != nil {
			nl = !*it.NullsFirst
		}
		if i == 0 {
			desc, nullsLast = it.Desc, nl
		} else if it.Desc != desc || nl != nullsLast {
			mixed = true
		}
		keyDesc, keyNullsLast = append(keyDesc, it.Desc), append(keyNullsLast, nl)
		orders = append(orders, x)
	}
	// Keys of different directions: the engine's over sorts each key its own way; ranking
	// by ROW_NUMBER, LAG/LEAD and ROWS frames take that order (RANK takes one key, RANGE
	// frames and the default frame one ascending key).
	if mixed && f.Name != "ROW_NUMBER" && f.Name != "LAG" && f.Name != "LEAD" && (o.Frame == nil || !o.Frame.Rows) {
		return nil, unsupported(o.OrderBy[1].P, "ORDER BY keys of different directions (or NULLS FIRST/LAST) in "+f.Name+"(...) OVER (...)")
	}
	over := func(inner *plan.Expr, ordered bool) *plan.Expr {
		args := append([]*plan.Expr{inner}, parts...)
		opts := map[string]any{"partition_by": len(parts)}
		if ordered {
			args = append(args, orders...)
			switch {
			case mixed: // one flag per key
				opts["descending"], opts["nulls_last"] = keyDesc, keyNullsLast
			default:
				if desc {
					opts["descending"] = true
				}
				if nullsLast {
					opts["nulls_last"] = true
				}
			}
		}
		return &plan.Expr{Fn: "over", Args: args, Options: opts}
	}
	fr := o.Frame
	switch f.Name {
	case "ROW_NUMBER", "RANK", "DENSE_RANK":
		if len(f.Args) > 0 || f.Star {
			return nil, errorAt(f.P, "%s() takes no arguments", f.Name)
		}
		if f.Name == "ROW_NUMBER" {
			return over(fn("row_number"), true), nil
		}
		if len(orders) != 1 {
			return nil, unsupported(o.P, f.Name+"() OVER (...) without exactly one ORDER BY key")
		}
		r := fn("rank", orders[0])
		method := map[string]string{"RANK": "min", "DENSE_RANK": "dense"}[f.Name]
		r.Options = map[string]any{"method": method, "descending": desc}
		// rank ranks NULL values NULL; SQL ranks them with the others: refuse NULLs at run time
		return errorIf(fn("is_null", orders[0]), over(r, false),
			"SQL "+f.P.String()+": "+f.Name+"() of a NULL ORDER BY value is not supported yet"), nil
	}
	if f.Name == "LAG" || f.Name == "LEAD" {
		return pl.lagLead(f, s, over, len(orders) > 0)
	}
	name, ok := aggregateNames[f.Name]
	if !ok {
		return nil, unsupported(f.P, f.Name+"(...) OVER (...)")
	}
	agg, err := pl.aggCall(f, s)
	if err != nil {
		return nil, err
	}
	whole := fr == nil && len(orders) == 0 ||
		fr != nil && fr.Start.Kind == "unbounded preceding" && fr.End.Kind == "unbounded following"
	if whole {
		return over(agg, false), nil
	}
	// ROWS frames ordered by a column the frame operator does not order by (a string, a
	// float) keep the bounded translations below.
	if fr == nil || !fr.Rows || len(orders) != 1 || frameOrderable(orders[0], s) {
		if x, ok, err := pl.frameOver(f, name, agg, over, len(orders), desc); ok || err != nil {
			return x, err
		}
	}
	if fr == nil {
		return nil, unsupported(o.P, "an aggregate OVER (... ORDER BY ...) without a frame, other than COUNT, SUM, AVG, MIN or MAX ordered by one ascending key (the default frame, RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, takes rows of equal ORDER BY values together); write ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, or n PRECEDING,")
	}
	if !fr.Rows {
		return nil, unsupported(fr.P, "a RANGE frame other than UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING, or ... PRECEDING AND CURRENT ROW of COUNT, SUM, AVG, MIN or MAX ordered by one ascending key,")
	}
	if fr.End.Kind != "current row" {
		return nil, unsupported(fr.End.P, "a ROWS frame that does not end at CURRENT ROW")
	}
	if len(orders) == 0 {
		return nil, unsupported(o.P, "a ROWS frame without ORDER BY (the rows' order would be arbitrary)")
	}
	var arg *plan.Expr
	if len(agg.Args) > 0 {
		arg = agg.Args[0]
	}
	switch fr.Start.Kind {
	case "unbounded preceding":
		switch name {
		case "count":
			if arg == nil {
				return over(fn("row_number"), true), nil
			}
			return over(fn("cum_count", arg), true), nil
		case "sum":
			// the running sum of the values so far; NULL until there is one (cum_sum alone
			// gives NULL on a NULL row)
			n := over(fn("cum_count", arg), true)
			sum := over(fn("cum_sum", fn("fill_null", arg, lit(0, "int64"))), true)
			return fn("case_when", fn("eq", n, lit(0, "int64")), lit(nil, "null"), sum), nil
		}
		return nil, unsupported(f.P, f.Name+"(...) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) (COUNT and SUM are)")
	case "preceding":
		l, ok := fr.Start.Offset.(*Literal)
		if !ok || l.Kind != LitInt {
			return nil, unsupported(fr.Start.P, "a ROWS frame offset other than a number of rows")
		}
		n, err := strconv.ParseInt(l.Text, 10, 64)
		if err != nil || n < 0 || n > 1<<30 {
			return nil, errorAt(fr.Start.P, "a ROWS frame offset must be a number of rows, got %s", l.Text)
		}
		rolling := func(fnName string, x *plan.Expr) *plan.Expr {
			r := fn(fnName, x)
			r.Options = map[string]any{"window_size": n + 1, "min_samples": 1}
			return over(r, true)
		}
		switch name {
		case "sum":
			return rolling("rolling_sum", arg), nil
		case "mean":
			return rolling("rolling_mean", arg), nil
		case "min", "max": // NaN above every number, as SQL's MIN and MAX elsewhere
			r := rolling("rolling_"+name, arg)
			r.Args[0].Options["nan_greatest"] = true
			return r, nil
		case "count":
			one := lit(1, "int64")
			if arg != nil {
				one = &plan.Expr{Cast: "int64", Args: []*plan.Expr{fn("is_not_null", arg)}}
			}
			return rolling("rolling_sum", one), nil
		}
		return nil, unsupported(f.P, f.Name+"(...) OVER (ROWS BETWEEN n PRECEDING AND CURRENT ROW) (COUNT, SUM, AVG, MIN and MAX are)")
	}
	return nil, unsupported(fr.Start.P, "a ROWS frame starting "+fr.Start.Kind)
}

// lagLead translates LAG(x [, n [, default]]) / LEAD(...) OVER (... ORDER BY ...): x of the
// row n rows before (after) in the partition, shift(x, ±n); default (NULL if not given)
// where there is no such row, not where x itself is NULL.
func (pl *planner) lagLead(f *FuncCall, s *scope, over func(*plan.Expr, bool) *plan.Expr, ordered bool) (*plan.Expr, error) {
	if f.Over.Frame != nil {
		return nil, errorAt(f.Over.Frame.P, "%s(...) OVER (...) takes no frame", f.Name)
	}
	if !ordered {
		return nil, errorAt(f.Over.P, "%s(...) OVER (...) needs an ORDER BY (the rows' order would be arbitrary)", f.Name)
	}
	if f.Star || len(f.Args) < 1 || len(f.Args) > 3 {
		return nil, errorAt(f.P, "%s takes a value, an optional number of rows and an optional default: %s(x [, n [, default]])", f.Name, f.Name)
	}
	x, err := pl.expr(f.Args[0], s)
	if err != nil {
		return nil, err
	}
	n := int64(1)
	if len(f.Args) > 1 {
		l, ok := f.Args[1].(*Literal)
		if !ok || l.Kind != LitInt {
			return nil, errorAt(f.Args[1].Position(), "%s's number of rows must be a non-negative integer literal", f.Name)
		}
		if n, err = strconv.ParseInt(l.Text, 10, 64); err != nil || n < 0 || n > 1<<30 {
			return nil, errorAt(f.Args[1].Position(), "%s's number of rows must be a non-negative integer literal, got %s", f.Name, l.Text)
		}
	}
	shift := fn("shift", x)
	shift.Options = map[string]any{"n": map[bool]int64{true: n, false: -n}[f.Name == "LAG"]}
	out := over(shift, true)
	if len(f.Args) < 3 {
		return out, nil
	}
	def, err := pl.expr(f.Args[2], s)
	if err != nil {
		return nil, err
	}
	// Where no row is n rows away: the row number is at most n (LAG), or more than n
	// from the partition's last row (LEAD).
	rn := over(fn("row_number"), true)
	var missing *plan.Expr
	if f.Name == "LAG" {
		missing = fn("le", rn, lit(n, "int64"))
	} else {
		missing = fn("gt", fn("add", rn, lit(n, "int64")), over(&plan.Expr{Agg: "count"}, false))
	}
	return fn("case_when", missing, def, out), nil
}

// frameOver translates an aggregate over a frame of preceding rows or ORDER BY values
// into over(..., rows= | range=); ok is false where the frame is not one (the caller
// then tries the bounded translations).
func (pl *planner) frameOver(f *FuncCall, name string, agg *plan.Expr, over func(*plan.Expr, bool) *plan.Expr, norders int, desc bool) (*plan.Expr, bool, error) {
	fr := f.Over.Frame
	switch name {
	case "count", "sum", "mean", "min", "max":
	default:
		return nil, false, nil
	}
	if norders != 1 || desc || fr != nil && fr.End.Kind != "current row" {
		return nil, false, nil
	}
	key, val := "range", any("unbounded")
	if fr != nil {
		if fr.Rows {
			key = "rows"
		}
		switch fr.Start.Kind {
		case "unbounded preceding":
		case "current row":
			val = int64(0)
		case "preceding":
			l, ok := fr.Start.Offset.(*Literal)
			switch {
			case ok && l.Kind == LitInt:
				n, err := strconv.ParseInt(l.Text, 10, 64)
				if err != nil || n < 0 || n > 1<<30 {
					return nil, true, errorAt(fr.Start.P, "a frame offset must be a non-negative number, got %s", l.Text)
				}
				val = n
			case ok && l.Kind == LitInterval && !fr.Rows:
				d, err := intervalDuration(l)
				if err != nil {
					return nil, true, err
				}
				val = d
			case fr.Rows:
				return nil, true, unsupported(fr.Start.P, "a ROWS frame offset other than a number of rows")
			default:
				return nil, true, unsupported(fr.Start.P, "a RANGE frame offset other than a number or an INTERVAL")
			}
		default:
			return nil, false, nil
		}
	}
	x := over(agg, true)
	x.Options[key] = val
	return x, true, nil
}

// frameOrderable reports whether the aggregations over frames order by x: a column of a
// signed integer, date32 or timestamp type (or an expression, which the engine checks).
func frameOrderable(x *plan.Expr, s *scope) bool {
	if x.Col == nil {
		return true
	}
	for _, c := range s.cols {
		if c.field == *x.Col && c.typ != nil {
			t := c.typ
			return expr.IsInteger(t) && expr.IsSigned(t) || expr.IsTemporal(t) && t.ID() != arrow.DURATION && t.ID() != arrow.DATE64
		}
	}
	return true
}
