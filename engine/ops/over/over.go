package over

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Functions are the window functions, which exist only inside over(...).
var Functions = expr.WindowFunctions

// RankMethods are rank's ways of ranking ties, with Polars' names.
var RankMethods = []string{"average", "min", "max", "dense", "ordinal"}

// Func is one compiled window function over partitions.
type Func struct {
	Fn        string // a function of Functions, or "agg"
	Text      string // the expression, for errors
	Arg       expr.Expr
	Partition []expr.Expr
	PartTypes []arrow.DataType
	Order     []expr.Expr
	Desc      bool // order_by descending (true if any key is, with KeyDesc)
	NullsLast bool // order_by nulls last
	// KeyDesc, KeyNullsLast: per order_by key, when the options list one flag per key
	// (SQL's OVER (ORDER BY price DESC, ts ASC)); nil: Desc and NullsLast for every key.
	KeyDesc, KeyNullsLast []bool
	N                     int64
	MinRows               int64
	// NaNGreatest (rolling_min / rolling_max): NaN orders above every number, as SQL's MIN
	// and MAX over a ROWS frame (DuckDB's), instead of propagating (Polars').
	NaNGreatest bool
	Method      string // rank
	RankDesc    bool
	Agg         *agg.Spec
	OutType     arrow.DataType
	// Frame (Fn "frame"): an aggregation over a frame of preceding rows (rows=) or order
	// values (range=); OrderCol: the one order_by column's name ("" for an expression).
	Frame    *FrameSpec
	OrderCol string
	FA       FrameAgg // the frame's aggregation, resolved by the planner
}

// FrameSpec is the frame of over(..., rows= | range=): ROWS (Rows) or RANGE, UNBOUNDED
// PRECEDING (Unbounded) or N rows / order units (an integer order column) or Dur (a
// duration, for a temporal order column) PRECEDING, AND CURRENT ROW.
type FrameSpec struct {
	Rows      bool
	Unbounded bool
	N         int64
	Dur       string
}

// frameOf reads the frame options of an over(...) node; nil without rows= or range=.
func frameOf(o map[string]any) (*FrameSpec, error) {
	rv, hasRows := o["rows"]
	gv, hasRange := o["range"]
	hasRows, hasRange = hasRows && rv != nil, hasRange && gv != nil
	switch {
	case hasRows && hasRange:
		return nil, fmt.Errorf("give rows= or range=, not both")
	case hasRows:
		if s, ok := rv.(string); ok {
			if s != "unbounded" {
				return nil, fmt.Errorf("rows must be a number of preceding rows or \"unbounded\", got %q", s)
			}
			return &FrameSpec{Rows: true, Unbounded: true}, nil
		}
		n, err := optInt(o, "rows", 0)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("rows must be a non-negative number of preceding rows or \"unbounded\", got %v", rv)
		}
		return &FrameSpec{Rows: true, N: n}, nil
	case hasRange:
		if s, ok := gv.(string); ok {
			if s == "unbounded" {
				return &FrameSpec{Unbounded: true}, nil
			}
			return &FrameSpec{Dur: s}, nil
		}
		n, err := optInt(o, "range", 0)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("range must be a duration such as \"1h\", a non-negative number or \"unbounded\", got %v", gv)
		}
		return &FrameSpec{N: n}, nil
	}
	return nil, nil
}

// IsOver reports whether e is a window function over partitions.
func IsOver(e *plan.Expr) bool { return e != nil && e.Fn == "over" }

// Contains reports whether an over(...) occurs anywhere in e.
func Contains(e *plan.Expr) bool {
	if e == nil {
		return false
	}
	if IsOver(e) {
		return true
	}
	for _, a := range e.Args {
		if Contains(a) {
			return true
		}
	}
	return false
}

func optInt(o map[string]any, name string, def int64) (int64, error) {
	v, ok := o[name]
	if !ok || v == nil {
		return def, nil
	}
	var f float64
	switch n := v.(type) {
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			return 0, fmt.Errorf("%s must be an integer, got %s", name, n)
		}
		f = x
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	default:
		return 0, fmt.Errorf("%s must be an integer, got %v", name, v)
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("%s must be an integer, got %v", name, v)
	}
	if math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s %v is out of range (at most 2**53)", name, v)
	}
	return int64(f), nil
}

// Compile compiles e, an over(...) node: args are the function, then partition_by
// expressions (options.partition_by of them), then order_by expressions.
func Compile(s *expr.CompileScope, e *plan.Expr) (Func, error) {
	text := e.Describe()
	fail := func(kind rberr.Kind, format string, a ...any) (Func, error) {
		return Func{}, s.Errorf(kind, "%s: %s", text, fmt.Sprintf(format, a...))
	}
	if len(e.Args) < 1 {
		return fail(rberr.Plan, "over(...) needs an expression")
	}
	np, err := optInt(e.Options, "partition_by", 0)
	if err != nil || np < 0 || int(np) > len(e.Args)-1 {
		return fail(rberr.Plan, "malformed over(...): partition_by %v", e.Options["partition_by"])
	}
	f := Func{Text: text}
	nOrder := len(e.Args) - 1 - int(np)
	for _, k := range []string{"descending", "nulls_last"} {
		v, ok := e.Options[k]
		if !ok || v == nil {
			continue
		}
		var flags []bool
		switch v := v.(type) {
		case bool:
			flags = []bool{v}
		case []any: // one flag per order_by key
			if len(v) != nOrder {
				return fail(rberr.Plan, "%s takes one flag or one per order_by key (%d), got %d", k, nOrder, len(v))
			}
			for _, x := range v {
				b, isBool := x.(bool)
				if !isBool {
					return fail(rberr.Plan, "%s must be true or false, or a list of them", k)
				}
				flags = append(flags, b)
			}
		default:
			return fail(rberr.Plan, "%s must be true or false, or a list of them", k)
		}
		anySet := false
		for _, b := range flags {
			anySet = anySet || b
		}
		if k == "descending" {
			f.Desc = anySet
			if isList(v) {
				f.KeyDesc = flags
			}
		} else {
			f.NullsLast = anySet
			if isList(v) {
				f.KeyNullsLast = flags
			}
		}
	}
	for i, a := range e.Args[1:] {
		c, err := s.Compile(a)
		if err != nil {
			return Func{}, err
		}
		c = expr.DecodeDictionary(c)
		if int64(i) < np {
			if !expr.HashableType(c.Type()) {
				return fail(rberr.Type, "cannot partition by %s of type %s", c, expr.TypeName(c.Type()))
			}
			f.Partition = append(f.Partition, c)
			f.PartTypes = append(f.PartTypes, c.Type())
		} else {
			if !sortable(c.Type()) {
				return fail(rberr.Type, "cannot order by %s of type %s", c, expr.TypeName(c.Type()))
			}
			f.Order = append(f.Order, c)
		}
	}
	inner := e.Args[0]
	for inner.Alias != nil && len(inner.Args) == 1 {
		inner = inner.Args[0]
	}
	fr, err := frameOf(e.Options)
	if err != nil {
		return fail(rberr.Plan, "%v", err)
	}
	if fr != nil {
		return compileFrame(s, f, fr, inner, e.Args[1+np:], fail)
	}
	if inner.Agg != "" {
		spec, err := agg.Compile(s, inner)
		if err != nil {
			return Func{}, err
		}
		f.Fn, f.Agg, f.OutType = "agg", &spec, spec.OutType
		return f, nil
	}
	known := false
	for _, fn := range Functions {
		known = known || fn == inner.Fn
	}
	if !known {
		msg := fmt.Sprintf("over(...) takes a window function (%v) or an aggregation, got %s", Functions, inner.Describe())
		if sug := plan.Suggest(inner.Fn, Functions); inner.Fn != "" && sug != "" {
			msg += fmt.Sprintf("; did you mean %q?", sug)
		}
		return fail(rberr.Plan, "%s", msg)
	}
	f.Fn = inner.Fn
	if f.Fn == "row_number" {
		if len(inner.Args) != 0 {
			return fail(rberr.Plan, "row_number() takes no arguments")
		}
		f.OutType = arrow.PrimitiveTypes.Int64
		return f, nil
	}
	if len(inner.Args) != 1 {
		return fail(rberr.Plan, "%s takes exactly one expression", f.Fn)
	}
	if f.Arg, err = s.Compile(inner.Args[0]); err != nil {
		return Func{}, err
	}
	f.Arg = expr.DecodeDictionary(f.Arg)
	t := f.Arg.Type()
	numeric := expr.IsNumeric(t) || t.ID() == arrow.BOOL
	needNumeric := func() (Func, error) {
		switch {
		case t.ID() == arrow.UINT64:
			return fail(rberr.Type, "%s does not take uint64 (%s); cast it to int64 or float64 first", f.Fn, f.Arg)
		case t.ID() == arrow.DECIMAL256:
			return fail(rberr.Type, "%s does not take decimal256 (%s of type %s); cast it to decimal128 or float64 first", f.Fn, f.Arg, expr.TypeName(t))
		}
		return fail(rberr.Type, "%s needs a numeric column, got %s of type %s", f.Fn, f.Arg, expr.TypeName(t))
	}
	opts := inner.Options
	switch f.Fn {
	case "cum_count":
		f.OutType = arrow.PrimitiveTypes.Int64
	case "shift":
		if f.N, err = optInt(opts, "n", 1); err != nil {
			return fail(rberr.Plan, "shift: %v", err)
		}
		f.OutType = t
	case "forward_fill", "backward_fill":
		// N: the most rows a value fills (limit), -1 for no limit.
		if f.N, err = optInt(opts, "limit", -1); err != nil || f.N < -1 {
			return fail(rberr.Plan, "%s: limit must be a count of rows (0 or more) or None", f.Fn)
		}
		f.OutType = t
	case "cum_sum", "rolling_sum":
		switch {
		case t.ID() == arrow.DECIMAL128:
			f.OutType = &arrow.Decimal128Type{Precision: 38, Scale: t.(*arrow.Decimal128Type).Scale}
		case expr.IsFloat(t):
			f.OutType = arrow.PrimitiveTypes.Float64
		case numeric && !(expr.IsInteger(t) && !expr.IsSigned(t) && t.ID() == arrow.UINT64):
			f.OutType = arrow.PrimitiveTypes.Int64
		default:
			return needNumeric()
		}
	case "cum_min", "cum_max", "rolling_min", "rolling_max":
		if (!expr.IsNumeric(t) || t.ID() == arrow.UINT64) && t.ID() != arrow.DECIMAL128 {
			return needNumeric()
		}
		f.OutType = t
	case "rolling_mean":
		if (!numeric || t.ID() == arrow.UINT64) && t.ID() != arrow.DECIMAL128 {
			return needNumeric()
		}
		f.OutType = arrow.PrimitiveTypes.Float64
	case "rank":
		if !sortable(t) {
			return fail(rberr.Type, "cannot rank %s of type %s", f.Arg, expr.TypeName(t))
		}
		f.Method = "average"
		if v, ok := opts["method"]; ok && v != nil {
			m, _ := v.(string)
			ok := false
			for _, r := range RankMethods {
				ok = ok || r == m
			}
			if !ok {
				msg := fmt.Sprintf("rank: method must be one of %v, got %v", RankMethods, v)
				if sug := plan.Suggest(m, RankMethods); sug != "" {
					msg += fmt.Sprintf("; did you mean %q?", sug)
				}
				return fail(rberr.Plan, "%s", msg)
			}
			f.Method = m
		}
		if v, ok := opts["descending"]; ok && v != nil {
			b, isBool := v.(bool)
			if !isBool {
				return fail(rberr.Plan, "rank: descending must be true or false")
			}
			f.RankDesc = b
		}
		f.OutType = arrow.PrimitiveTypes.Int64
		if f.Method == "average" {
			f.OutType = arrow.PrimitiveTypes.Float64
		}
	}
	if f.Fn[:min(len(f.Fn), 8)] == "rolling_" {
		if f.N, err = optInt(opts, "window_size", 0); err != nil {
			return fail(rberr.Plan, "%s: %v", f.Fn, err)
		} else if f.N <= 0 {
			return fail(rberr.Plan, "%s: window_size must be a positive integer, got %v", f.Fn, opts["window_size"])
		}
		if f.MinRows, err = optInt(opts, "min_samples", f.N); err != nil || f.MinRows < 0 {
			return fail(rberr.Plan, "%s: min_samples must be a non-negative integer, got %v", f.Fn, opts["min_samples"])
		}
		f.NaNGreatest = opts["nan_greatest"] == true
	}
	return f, nil
}

// sortable reports whether arrow-go's sort takes values of type t.
func sortable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.NULL, arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME32, arrow.TIME64, arrow.DECIMAL128:
		return true
	}
	return expr.IsNumeric(t)
}

// compileFrame compiles an aggregation over a frame: count, sum, mean, min or max, ordered
// by one integer or temporal column, ascending.
func compileFrame(s *expr.CompileScope, f Func, fr *FrameSpec, inner *plan.Expr, orders []*plan.Expr, fail func(rberr.Kind, string, ...any) (Func, error)) (Func, error) {
	isFrameAgg := false
	for _, a := range FrameAggs {
		isFrameAgg = isFrameAgg || a == inner.Agg
	}
	if !isFrameAgg {
		return fail(rberr.Plan, "over(..., rows=/range=) takes an aggregation (%v), got %s", FrameAggs, inner.Describe())
	}
	if len(f.Order) != 1 {
		return fail(rberr.Plan, "over(..., rows=/range=) needs exactly one order_by column, got %d", len(f.Order))
	}
	if f.Desc {
		return fail(rberr.Plan, "over(..., rows=/range=) orders ascending; descending=True is not supported")
	}
	if t := f.Order[0].Type(); !(expr.IsInteger(t) && expr.IsSigned(t)) && !expr.IsTemporal(t) || t.ID() == arrow.DURATION || t.ID() == arrow.DATE64 {
		return fail(rberr.Type, "over(..., rows=/range=) orders by an integer, date or timestamp column, got %s of type %s", f.Order[0], expr.TypeName(t))
	}
	if c := orders[0].Col; c != nil {
		f.OrderCol = *c
	}
	spec, err := agg.Compile(s, inner)
	if err != nil {
		return Func{}, err
	}
	if spec.Arg != nil && spec.Fn != "count" {
		t := spec.Arg.Type()
		ok := expr.IsFloat(t) || expr.IsInteger(t) && t.ID() != arrow.UINT64 || t.ID() == arrow.BOOL && (spec.Fn == "sum" || spec.Fn == "mean")
		if !ok {
			return fail(rberr.Type, "%s over a frame needs a numeric column (integers other than uint64, floats; sum and mean also booleans), got %s of type %s", spec.Fn, spec.Arg, expr.TypeName(t))
		}
		if spec.Fn == "min" || spec.Fn == "max" {
			spec.OutType = t
		}
	}
	f.Fn, f.Agg, f.Frame, f.OutType = "frame", &spec, fr, spec.OutType
	return f, nil
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}
