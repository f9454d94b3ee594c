package expr

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
)

// Conditional evaluation. when/then/otherwise, & and | evaluate an operand that costs
// much (a regular expression, a string function) only on the rows whose result depends on
// it: a then() value on the rows its condition picks, the right side of | on the rows
// where the left is not true, of & where it is not false. Those rows are taken into a
// smaller batch (of the columns the operand reads), the operand runs on it, and its values
// go back to their rows (null elsewhere, where the kernel does not look). & and | first
// evaluate the cheaper side. A value is then computed only where SQL's CASE would use it,
// so an operand that fails on rows it does not decide (a cast, error_if) no longer fails.
//
// Operands that cost less than gathering their rows (gatherCost: a take of each column
// they read and one to put their values back) and operands needed on most rows are
// evaluated whole: gathering rows costs more than they save. A chain of comparisons over
// two or three columns (a date range and a discount range, as TPC-H's filters) is cheaper
// whole than gathered. But an operand that can fail (a cast, error_if, parsing a date) is
// always evaluated on its rows only, so that whether it fails does not depend on how many
// rows a batch has for it.

// gatherCost is the cost, in costOf's units, of evaluating an operand that reads the given
// number of columns on some rows only: a take per column (about three comparisons' time
// a row) and one to put its values back.
func gatherCost(columns int) int { return 3*columns + 3 }

// lazyShare: an operand needed on more than this share of the rows is evaluated whole.
const lazyShare = 0.8

// costOf is a rough per-row cost of evaluating e: 0 for columns and literals, 1 for
// arithmetic, comparisons and logic, 5 for other string functions, 20 for regular
// expressions, parsing and formatting, plus its operands'.
func costOf(e Expr) int {
	switch x := e.(type) {
	case *ColExpr, *litExpr:
		return 0
	case *CastExpr:
		c := 1
		if IsString(x.Arg.Type()) || IsString(x.To) { // parsing or formatting text
			c = 5
		}
		return c + costOf(x.Arg)
	case *lazyCall:
		return costOf(x.callExpr)
	case *sharedExpr:
		return costOf(x.Expr)
	case *callExpr:
		c := 2
		switch x.name {
		case "add", "sub", "mul", "div", "floordiv", "mod", "neg", "eq", "ne", "lt", "le", "gt", "ge",
			"and", "or", "not", "is_null", "is_not_null", "fill_null", "abs", "sign", "is_nan", "case_when":
			c = 1
		case "str_extract", "str_replace", "str_contains", "str_split", "str_split_index", "str_to_date",
			"str_to_datetime", "dt_strftime", "concat_str":
			c = 20
		default:
			if len(x.name) > 4 && x.name[:4] == "str_" {
				c = 5
			}
			if _, test := testFunctions[x.name]; test {
				c = 20
			}
		}
		for _, a := range x.args {
			c += costOf(a)
		}
		return c
	}
	return 20 // an expression this file does not know: assume it costs
}

// canFail says whether evaluating e can fail on some values: a cast (a string that does
// not parse, a number out of range), error_if, parsing a date or a time.
func canFail(e Expr) bool {
	switch x := e.(type) {
	case *CastExpr:
		return !arrow.TypeEqual(x.Arg.Type(), x.To) || canFail(x.Arg)
	case *lazyCall:
		return canFail(x.callExpr)
	case *sharedExpr:
		return canFail(x.Expr)
	case *callExpr:
		switch x.name {
		case "error_if", "str_to_date", "str_to_datetime":
			return true
		}
		for _, a := range x.args {
			if canFail(a) {
				return true
			}
		}
	}
	return false
}

// Reads lists the input columns (indexes) e reads; ok is false when it cannot tell.
func Reads(e Expr) (cols map[int]bool, ok bool) {
	cols = map[int]bool{}
	return cols, readsOf(e, cols)
}

// readsOf lists the input columns e reads; ok is false when it cannot tell.
func readsOf(e Expr, into map[int]bool) (ok bool) {
	switch x := e.(type) {
	case *ColExpr:
		into[x.Idx] = true
		return true
	case *litExpr:
		return true
	case *CastExpr:
		return readsOf(x.Arg, into)
	case *lazyCall:
		return readsOf(x.callExpr, into)
	case *sharedExpr:
		return readsOf(x.Expr, into)
	case *callExpr:
		for _, a := range x.args {
			if !readsOf(a, into) {
				return false
			}
		}
		return true
	}
	return false
}

// lazyCall is a case_when, and or or call whose costly operands are evaluated on the
// rows that need them only.
type lazyCall struct {
	*callExpr
	lazy  []bool         // per operand
	fails []bool         // per lazy operand: whether it can fail (always on its rows only)
	reads []map[int]bool // per lazy operand: the columns it reads
}

// withLazyOperands returns c as a lazyCall when it is a conditional with an operand
// worth evaluating on fewer rows, else c.
func withLazyOperands(c Expr) Expr {
	call, ok := c.(*callExpr)
	if !ok {
		return c
	}
	switch call.name {
	case "and", "or":
		if len(call.args) != 2 {
			return c
		}
		// the cheaper side decides first, unless the other can fail
		if costOf(call.args[0]) > costOf(call.args[1]) && !canFail(call.args[1]) {
			swapped := *call
			swapped.args = []Expr{call.args[1], call.args[0]}
			call = &swapped
		}
	case "case_when":
	default:
		return c
	}
	k := len(call.args)
	l := &lazyCall{callExpr: call, lazy: make([]bool, k), fails: make([]bool, k), reads: make([]map[int]bool, k)}
	some := false
	for i, a := range call.args {
		fails := canFail(a)
		if !l.decided(i) {
			// a later when() condition that can fail is evaluated on the open rows (Eval)
			some = some || (call.name == "case_when" && i > 0 && fails)
			continue
		}
		reads := map[int]bool{}
		if !readsOf(a, reads) || (!fails && costOf(a) <= gatherCost(len(reads))) {
			continue
		}
		l.lazy[i], l.fails[i], l.reads[i], some = true, fails, reads, true
	}
	if !some {
		return c
	}
	return l
}

// decided says whether operand i is one whose rows the others decide: a then() or
// otherwise() value, the second operand of & and |.
func (l *lazyCall) decided(i int) bool {
	if l.name == "case_when" {
		return i%2 == 1 || i == len(l.args)-1
	}
	return i == 1
}

func (l *lazyCall) Eval(ec *EvalCtx, rec arrow.RecordBatch) (compute.Datum, error) {
	n := int(rec.NumRows())
	if n == 0 {
		return l.callExpr.Eval(ec, rec)
	}
	vals := make([]compute.Datum, len(l.args))
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Release()
			}
		}
	}()
	// the deciding operands, whole
	var conds []*array.Boolean
	for i, a := range l.args {
		if l.decided(i) {
			continue
		}
		var v compute.Datum
		var err error
		if open, ok := l.openRows(conds, a, n); ok {
			// A later when() condition that can fail (a cast of text) is evaluated on
			// the rows no earlier one took, as SQL's CASE: a row the first condition
			// took never makes the second fail.
			reads := map[int]bool{}
			readsOf(a, reads)
			v, err = evalOnRows(ec, a, rec, open, reads)
		} else {
			v, err = a.Eval(ec, rec)
		}
		if err != nil {
			return nil, err
		}
		vals[i] = v
		var arr *array.Boolean
		if datumType(v).ID() == arrow.BOOL {
			a, err := DatumToArray(ec, cloneDatum(v), n) // a constant condition holds on every row
			if err != nil {
				return nil, err
			}
			arr = a.(*array.Boolean)
		} else { // a null-typed condition is never true
			arr = array.MakeArrayOfNull(ec.Mem, arrow.FixedWidthTypes.Boolean, n).(*array.Boolean)
		}
		defer arr.Release()
		conds = append(conds, arr)
	}
	// which rows need each decided operand
	need := l.rowsNeeding(conds, n)
	for i, a := range l.args {
		if vals[i] != nil {
			continue
		}
		var v compute.Datum
		var err error
		if rows := need[i]; l.lazy[i] && (l.fails[i] || float64(len(rows)) <= lazyShare*float64(n)) {
			v, err = evalOnRows(ec, a, rec, rows, l.reads[i])
		} else {
			v, err = a.Eval(ec, rec)
		}
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	return l.apply(ec, vals)
}

// openRows lists the rows no condition of conds (the earlier when() conditions) takes,
// when condition a is to be evaluated on those only: a case_when condition after the
// first that can fail, whose columns are known, while some row is taken already.
func (l *lazyCall) openRows(conds []*array.Boolean, a Expr, n int) ([]int32, bool) {
	if l.name != "case_when" || len(conds) == 0 || !canFail(a) || !readsOf(a, map[int]bool{}) {
		return nil, false
	}
	var open []int32
rows:
	for r := 0; r < n; r++ {
		for _, c := range conds {
			if c.IsValid(r) && c.Value(r) {
				continue rows
			}
		}
		open = append(open, int32(r))
	}
	return open, len(open) < n
}

// rowsNeeding lists, per decided operand, the rows whose result depends on it.
func (l *lazyCall) rowsNeeding(conds []*array.Boolean, n int) map[int][]int32 {
	need := map[int][]int32{}
	truthy := func(c *array.Boolean, r int) bool { return c.IsValid(r) && c.Value(r) }
	switch l.name {
	case "or", "and":
		c := conds[0]
		decides := l.name == "or" // | is decided where the left is true, & where it is false
		var rows []int32
		for r := 0; r < n; r++ {
			if !(c.IsValid(r) && c.Value(r) == decides) {
				rows = append(rows, int32(r))
			}
		}
		need[1] = rows
	default: // case_when: value b on the rows whose first true condition is b's
		last := len(l.args) - 1
	rows:
		for r := 0; r < n; r++ {
			for b, c := range conds {
				if truthy(c, r) {
					need[2*b+1] = append(need[2*b+1], int32(r))
					continue rows
				}
			}
			if len(l.args)%2 == 1 {
				need[last] = append(need[last], int32(r))
			}
		}
	}
	return need
}

// evalOnRows evaluates e on the given rows of rec only (e reads the columns reads) and
// returns its values at those rows of an n-row array, null at the others.
func evalOnRows(ec *EvalCtx, e Expr, rec arrow.RecordBatch, rows []int32, reads map[int]bool) (compute.Datum, error) {
	n := int(rec.NumRows())
	if len(rows) == 0 {
		nulls := array.MakeArrayOfNull(ec.Mem, e.Type(), n)
		defer nulls.Release()
		return compute.NewDatum(nulls), nil
	}
	ib := array.NewInt32Builder(ec.Mem)
	ib.AppendValues(rows, nil)
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	// the smaller batch: the columns e reads taken at rows, null placeholders for the rest
	m := len(rows)
	fields := make([]arrow.Field, rec.NumCols())
	cols := make([]arrow.Array, rec.NumCols())
	defer releaseAll(cols)
	for j := range cols {
		f := rec.Schema().Field(j)
		if !reads[j] {
			fields[j] = arrow.Field{Name: f.Name, Type: arrow.Null, Nullable: true}
			cols[j] = array.NewNull(m)
			continue
		}
		taken, err := compute.TakeArray(ec.Ctx, rec.Column(j), idx)
		if err != nil {
			return nil, err
		}
		fields[j], cols[j] = f, taken
	}
	sub := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(m))
	defer sub.Release()
	d, err := e.Eval(ec, sub)
	if err != nil {
		return nil, err
	}
	vals, err := DatumToArray(ec, d, m)
	if err != nil {
		return nil, err
	}
	defer vals.Release()
	// back to n rows: position k of vals goes to rows[k]
	pos := array.NewInt32Builder(ec.Mem)
	defer pos.Release()
	pos.Reserve(n)
	k := 0
	for r := 0; r < n; r++ {
		if k < m && int(rows[k]) == r {
			pos.UnsafeAppend(int32(k))
			k++
		} else {
			pos.UnsafeAppendBoolToBitmap(false)
		}
	}
	at := pos.NewArray()
	defer at.Release()
	full, err := compute.TakeArray(ec.Ctx, vals, at)
	if err != nil {
		return nil, err
	}
	defer full.Release()
	return compute.NewDatum(full), nil
}
