package source

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// Pruner decides from a split's column statistics that no row of it can pass a filter,
// so the split need not be read at all. It understands comparisons of a column with a
// literal, is_null / is_not_null, and & and | of those; anything else keeps the split.
type Pruner struct {
	Pred   *plan.Expr
	Schema *arrow.Schema // the dataset schema the statistics are indexed by
}

func (p *Pruner) skip(s batch.Split) bool {
	return p.canSkip(p.Pred, s)
}

func (p *Pruner) canSkip(e *plan.Expr, s batch.Split) bool {
	if e == nil || e.Fn == "" {
		return false
	}
	switch e.Fn {
	case "and":
		return len(e.Args) == 2 && (p.canSkip(e.Args[0], s) || p.canSkip(e.Args[1], s))
	case "or":
		return len(e.Args) == 2 && p.canSkip(e.Args[0], s) && p.canSkip(e.Args[1], s)
	case "is_null", "is_not_null":
		st, ok := p.stats(e.Args, 0, s)
		if !ok || !st.HasNulls {
			return false
		}
		if e.Fn == "is_null" {
			return st.NullCount == 0
		}
		return st.NullCount == s.NumRows
	case "eq", "ne", "lt", "le", "gt", "ge":
		if len(e.Args) != 2 {
			return false
		}
		fn, colArg, litArg := e.Fn, e.Args[0], e.Args[1]
		if colArg.Col == nil {
			colArg, litArg = litArg, colArg
			fn = map[string]string{"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}[fn]
		}
		if colArg.Col == nil || litArg.Lit == nil {
			return false
		}
		st, ok := p.stats(e.Args[:0:0], -1, s, *colArg.Col)
		if !ok {
			return false
		}
		if st.HasNulls && st.NullCount == s.NumRows {
			return true // only nulls: a comparison is never true
		}
		if !st.Valid {
			return false
		}
		lo, hi, lit, ok := p.domain(*colArg.Col, st, litArg)
		if !ok {
			return false
		}
		if f, isF := lit.(float64); isF && (math.IsNaN(f) || fn == "gt" || fn == "ge") {
			// NaN is greater than every number (numeric.go) and statistics leave NaN out:
			// a NaN literal, or rows above the maximum, may still match.
			return false
		}
		switch fn {
		case "eq":
			return cmpAny(lit, lo) < 0 || cmpAny(lit, hi) > 0
		case "ne":
			_, isFloat := lit.(float64)
			return !isFloat && cmpAny(lo, lit) == 0 && cmpAny(hi, lit) == 0
		case "lt":
			return cmpAny(lo, lit) >= 0
		case "le":
			return cmpAny(lo, lit) > 0
		case "gt":
			return cmpAny(hi, lit) <= 0
		case "ge":
			return cmpAny(hi, lit) < 0
		}
	}
	return false
}

// stats finds the statistics of the column named by args[i] (a column reference) or by name.
func (p *Pruner) stats(args []*plan.Expr, i int, s batch.Split, name ...string) (batch.ColumnStats, bool) {
	var col string
	switch {
	case len(name) == 1:
		col = name[0]
	case i >= 0 && i < len(args) && args[i].Col != nil:
		col = *args[i].Col
	default:
		return batch.ColumnStats{}, false
	}
	idx := p.Schema.FieldIndices(col)
	if len(idx) != 1 || idx[0] >= len(s.Stats) {
		return batch.ColumnStats{}, false
	}
	return s.Stats[idx[0]], true
}

// domain brings the statistics and the literal into one comparable Go type.
func (p *Pruner) domain(col string, st batch.ColumnStats, lit *plan.Expr) (lo, hi, v any, ok bool) {
	dt := p.Schema.Field(p.Schema.FieldIndices(col)[0]).Type
	if d, ok := dt.(*arrow.DictionaryType); ok {
		dt = d.ValueType // the statistics bound the values
	}
	lt, err := expr.ParseType(lit.Type)
	if err != nil {
		return nil, nil, nil, false
	}
	sc, err := expr.MakeScalar(lit.Lit, lt)
	if err != nil || !sc.IsValid() {
		return nil, nil, nil, false
	}
	switch {
	case expr.IsString(dt) && expr.IsString(lt):
		mn, ok1 := st.Min.(string)
		mx, ok2 := st.Max.(string)
		s, ok3 := sc.(*scalar.String)
		if !ok1 || !ok2 || !ok3 {
			return nil, nil, nil, false
		}
		return mn, mx, string(s.Value.Bytes()), true
	case dt.ID() == arrow.UINT64:
		return nil, nil, nil, false // statistics are int64 and cannot hold every uint64
	}
	// Numbers and time: compare as float64 where that is exact, else as int64.
	litNum, litIsFloat, ok := numberOf(sc, dt)
	if !ok {
		return nil, nil, nil, false
	}
	if f, isF := st.Min.(float64); isF {
		return f, st.Max.(float64), litNum, true
	}
	mn, ok1 := st.Min.(int64)
	mx, ok2 := st.Max.(int64)
	if !ok1 || !ok2 {
		return nil, nil, nil, false
	}
	if litIsFloat {
		if math.Abs(float64(mn)) > 1<<53 || math.Abs(float64(mx)) > 1<<53 {
			return nil, nil, nil, false
		}
		return float64(mn), float64(mx), litNum, true
	}
	return mn, mx, litNum, true
}

// numberOf converts a literal to the raw domain of column type dt: int64 (in the column's
// unit for time types) or float64.
func numberOf(sc scalar.Scalar, dt arrow.DataType) (any, bool, bool) {
	lt := sc.DataType()
	switch {
	case expr.IsFloat(lt):
		switch f := sc.(type) {
		case *scalar.Float64:
			return f.Value, true, expr.IsNumeric(dt)
		case *scalar.Float32:
			return float64(f.Value), true, expr.IsNumeric(dt)
		}
		return nil, false, false
	case expr.IsInteger(lt) && expr.IsNumeric(dt):
		c, err := sc.CastTo(arrow.PrimitiveTypes.Int64)
		if err != nil {
			return nil, false, false
		}
		v := c.(*scalar.Int64).Value
		if expr.IsFloat(dt) {
			if math.Abs(float64(v)) > 1<<53 {
				return nil, false, false
			}
			return float64(v), true, true
		}
		if !expr.IsSigned(dt) && v < 0 {
			return nil, false, false
		}
		return v, false, true
	case expr.IsTemporal(lt) && expr.IsTemporal(dt):
		if !exactInstant(sc, dt) {
			// A literal between two of the column's values (1.5 ms against a column of
			// milliseconds, noon against dates): a cast would round it, and a bound
			// rounded the wrong way prunes row groups that hold matching rows.
			return nil, false, false
		}
		c, err := sc.CastTo(dt)
		if err != nil {
			return nil, false, false
		}
		switch t := c.(type) {
		case *scalar.Timestamp:
			return int64(t.Value), false, true
		case *scalar.Date32:
			return int64(t.Value), false, true
		}
	}
	return nil, false, false
}

// exactInstant says whether temporal literal sc is one of the values of temporal type
// dt, so that converting it to dt loses nothing.
func exactInstant(sc scalar.Scalar, dt arrow.DataType) bool {
	ls, cs := tickNanos(sc.DataType()), tickNanos(dt)
	if ls == 0 || cs == 0 {
		return false
	}
	var v int64
	switch t := sc.(type) {
	case *scalar.Timestamp:
		v = int64(t.Value)
	case *scalar.Date32:
		v = int64(t.Value)
	case *scalar.Date64:
		v = int64(t.Value)
	case *scalar.Duration:
		v = int64(t.Value)
	default:
		return false
	}
	g := gcd(ls, cs)
	return v%(cs/g) == 0
}

// tickNanos is the nanoseconds one value step of temporal type t stands for (0: not
// a temporal type).
func tickNanos(t arrow.DataType) int64 {
	unit := func(u arrow.TimeUnit) int64 {
		return map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}[u]
	}
	switch x := t.(type) {
	case *arrow.TimestampType:
		return unit(x.Unit)
	case *arrow.DurationType:
		return unit(x.Unit)
	case *arrow.Date32Type:
		return 86400e9
	case *arrow.Date64Type:
		return 1e6
	}
	return 0
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func cmpAny(a, b any) int {
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		if !ok {
			return 0
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		y, ok := b.(string)
		if !ok {
			return 0
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return 0
}
