package expr

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// kernelFn evaluates a function over already-evaluated arguments (which it must not
// release) and returns a new datum.
type kernelFn func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error)

// callExpr is a function call.
type callExpr struct {
	name   string
	args   []Expr
	dt     arrow.DataType
	kernel kernelFn
	text   string // as the user wrote it, arguments included
	own    string // the function and its options, without the arguments (shareKeys)
}

// ownText is the text of call e without its arguments: its function and options.
func ownText(e *plan.Expr) string { return (&plan.Expr{Fn: e.Fn, Options: e.Options}).Describe() }

func (c *callExpr) Type() arrow.DataType { return c.dt }
func (c *callExpr) String() string       { return c.text }

func (c *callExpr) Eval(ec *EvalCtx, rec arrow.RecordBatch) (compute.Datum, error) {
	vals := make([]compute.Datum, len(c.args))
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Release()
			}
		}
	}()
	for i, a := range c.args {
		v, err := a.Eval(ec, rec)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	return c.apply(ec, vals)
}

// apply calls the kernel over the evaluated arguments, naming the call in its errors.
func (c *callExpr) apply(ec *EvalCtx, vals []compute.Datum) (compute.Datum, error) {
	out, err := c.kernel(ec, vals)
	if err != nil {
		if k := rberr.KindOf(err); k != rberr.Internal {
			if c.name == "error_if" || strings.Contains(err.Error(), c.text) { // error_if's message is the error
				return nil, err
			}
			return nil, rberr.Wrap(k, err, "evaluating %s", c.text)
		}
		return nil, rberr.Wrap(rberr.Data, err, "evaluating %s", c.text)
	}
	return out, nil
}

// computeKernel calls an arrow compute function by name.
func computeKernel(name string, opts compute.FunctionOptions) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		return compute.CallFunction(ec.Ctx, name, opts, args...)
	}
}

// chainKernels applies second to the result of first.
func chainKernels(first, second kernelFn) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		mid, err := first(ec, args)
		if err != nil {
			return nil, err
		}
		defer mid.Release()
		return second(ec, []compute.Datum{mid})
	}
}

// castArgs wraps a kernel so that its arguments are first cast to the given types.
func castArgs(types []arrow.DataType, k kernelFn) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		cast := make([]compute.Datum, len(args))
		for i, a := range args {
			c, err := castDatum(ec, a, types[i], "converting operand "+fmt.Sprint(i+1)+" to "+TypeName(types[i]))
			if err != nil {
				for _, d := range cast[:i] {
					d.Release()
				}
				return nil, err
			}
			cast[i] = c
		}
		defer func() {
			for _, d := range cast {
				d.Release()
			}
		}()
		return k(ec, cast)
	}
}

var arithmeticFns = map[string]string{"add": "add_unchecked", "sub": "subtract_unchecked", "mul": "multiply_unchecked"}
var comparisonFns = map[string]string{"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal"}

// Functions lists every function name the plan format accepts, for error messages.
var Functions = []string{
	"add", "sub", "mul", "div", "floordiv", "mod", "neg", "eq", "ne", "lt", "le", "gt", "ge",
	"and", "or", "not", "is_null", "is_not_null", "fill_null",
	"str_contains", "str_starts_with", "str_ends_with", "str_lower", "str_upper", "str_len_chars",
	"dt_truncate", "dt_year", "dt_month", "dt_day", "dt_hour", "dt_minute", "dt_second",
}

// testFunctions are functions only the test build has (see testhooks.go).
var testFunctions = map[string]kernelFn{}

func (s *CompileScope) compileCall(e *plan.Expr) (Expr, error) {
	args := make([]Expr, len(e.Args))
	for i, a := range e.Args {
		c, err := s.Compile(a)
		if err != nil {
			return nil, err
		}
		// Functions work on the values of a dictionary-encoded column.
		args[i] = DecodeDictionary(c)
	}
	text := s.describe(e)
	want := func(n int) error {
		if len(args) != n {
			return s.Errorf(rberr.Plan, "%s takes %d argument(s), got %d", e.Fn, n, len(args))
		}
		return nil
	}
	mk := func(dt arrow.DataType, k kernelFn) (Expr, error) {
		return &callExpr{name: e.Fn, args: args, dt: dt, kernel: k, text: text, own: ownText(e)}, nil
	}
	typeErr := func(format string, a ...any) error {
		return s.Errorf(rberr.Type, "%s: %s", text, fmt.Sprintf(format, a...))
	}
	describeArg := func(i int) string { return fmt.Sprintf("%s (%s)", args[i], TypeName(args[i].Type())) }

	switch e.Fn {
	case "min_horizontal", "max_horizontal":
		return s.compileHorizontal(e.Fn, args, text)
	case "add", "sub", "mul", "div", "floordiv", "mod":
		if err := want(2); err != nil {
			return nil, err
		}
		a, b := args[0].Type(), args[1].Type()
		if out, k, ok, err := temporalArith(e.Fn, a, b, text); ok {
			if err != nil {
				return nil, typeErr("%v", err)
			}
			return mk(out, k)
		}
		operand := func(t arrow.DataType) bool {
			return IsNumeric(t) || t.ID() == arrow.NULL || t.ID() == arrow.DECIMAL128
		}
		if !operand(a) || !operand(b) {
			return nil, typeErr("arithmetic needs numeric operands, got %s and %s", describeArg(0), describeArg(1))
		}
		f64 := arrow.PrimitiveTypes.Float64
		if a.ID() == arrow.DECIMAL128 || b.ID() == arrow.DECIMAL128 {
			switch {
			case e.Fn == "div" || IsFloat(a) || IsFloat(b):
				// As DuckDB: decimal division, and decimals with floats, are float64.
				k := computeKernel("divide_unchecked", nil)
				switch e.Fn {
				case "add":
					k = computeKernel("add_unchecked", nil)
				case "sub":
					k = computeKernel("subtract_unchecked", nil)
				case "mul":
					k = computeKernel("multiply_unchecked", nil)
				case "floordiv", "mod":
					k = floorDivModKernel(e.Fn == "mod", text)
				}
				return mk(f64, castArgs([]arrow.DataType{f64, f64}, k))
			}
			da, _ := asDecimalType(a)
			db, _ := asDecimalType(b)
			out := decResultType(e.Fn, da, db)
			if e.Fn == "floordiv" || e.Fn == "mod" {
				out = DecType(MaxDecPrecision, max(da.Scale, db.Scale)) // as Polars
			}
			if out.Scale > MaxDecPrecision {
				return nil, typeErr("the product of %s and %s has %d decimal places, more than decimal128's %d; cast an operand to a smaller scale, or to float64", TypeName(a), TypeName(b), out.Scale, MaxDecPrecision)
			}
			return mk(out, decArithKernel(e.Fn, text, out))
		}
		st := arithSupertype(args[0], args[1])
		if st.ID() == arrow.NULL {
			st = arrow.PrimitiveTypes.Int64
		}
		switch e.Fn {
		case "div":
			f := f64
			if st.ID() == arrow.FLOAT32 {
				f = arrow.PrimitiveTypes.Float32
			}
			return mk(f, castArgs([]arrow.DataType{f, f}, computeKernel("divide_unchecked", nil)))
		case "floordiv", "mod":
			return mk(st, castArgs([]arrow.DataType{st, st}, floorDivModKernel(e.Fn == "mod", text)))
		}
		if IsInteger(st) {
			checked := map[string]string{"add": "add", "sub": "subtract", "mul": "multiply"}[e.Fn]
			return mk(st, castArgs([]arrow.DataType{st, st}, checkedArith(checked, text, st)))
		}
		return mk(st, castArgs([]arrow.DataType{st, st}, computeKernel(arithmeticFns[e.Fn], nil)))
	case "neg":
		if err := want(1); err != nil {
			return nil, err
		}
		t := args[0].Type()
		switch {
		case t.ID() == arrow.DECIMAL128:
			return mk(t, decNegKernel)
		case IsFloat(t):
			return mk(t, computeKernel("negate_unchecked", nil))
		case IsInteger(t) && !IsSigned(t):
			i64 := arrow.PrimitiveTypes.Int64
			return mk(i64, castArgs([]arrow.DataType{i64}, checkedArith("negate", text, i64)))
		case IsInteger(t):
			return mk(t, checkedArith("negate", text, t))
		case t.ID() == arrow.NULL:
			return mk(arrow.PrimitiveTypes.Int64, castArgs([]arrow.DataType{arrow.PrimitiveTypes.Int64}, computeKernel("negate_unchecked", nil)))
		}
		return nil, typeErr("negation needs a numeric operand, got %s", describeArg(0))
	case "eq", "ne", "lt", "le", "gt", "ge":
		if err := want(2); err != nil {
			return nil, err
		}
		ta, tb := args[0].Type(), args[1].Type()
		if ta.ID() == arrow.BOOL && (tb.ID() == arrow.BOOL || tb.ID() == arrow.NULL) || tb.ID() == arrow.BOOL && ta.ID() == arrow.NULL {
			// false < true, as DuckDB and Polars (arrow-go has no ordering kernel for bool)
			u8 := arrow.PrimitiveTypes.Uint8
			return mk(arrow.FixedWidthTypes.Boolean, castArgs([]arrow.DataType{u8, u8}, numericCompareKernel(e.Fn, cmpUnsigned)))
		}
		if kind, ok := numericCompareKind(ta, tb); ok && !(ta.ID() == arrow.NULL && tb.ID() == arrow.NULL) {
			return mk(arrow.FixedWidthTypes.Boolean, numericCompareKernel(e.Fn, kind))
		}
		if isInstant(ta) && isInstant(tb) && !arrow.TypeEqual(ta, tb) {
			// Exact across units (a cast to the finer unit could overflow).
			return mk(arrow.FixedWidthTypes.Boolean, instantCompareKernel(e.Fn))
		}
		ct, ok := ComparableType(ta, tb)
		if !ok || !orderable(ct) {
			return nil, typeErr("cannot compare %s with %s", describeArg(0), describeArg(1))
		}
		if ct.ID() == arrow.NULL {
			return mk(arrow.FixedWidthTypes.Boolean, allNullKernel(arrow.FixedWidthTypes.Boolean))
		}
		k := castArgs([]arrow.DataType{ct, ct}, computeKernel(comparisonFns[e.Fn], nil))
		if (e.Fn == "eq" || e.Fn == "ne") && ct.ID() == arrow.STRING && ta.ID() == arrow.STRING && tb.ID() == arrow.STRING {
			k = stringEqualKernel(e.Fn, k)
		}
		return mk(arrow.FixedWidthTypes.Boolean, k)
	case "and", "or":
		if err := want(2); err != nil {
			return nil, err
		}
		for i := range args {
			if t := args[i].Type().ID(); t != arrow.BOOL && t != arrow.NULL {
				return nil, typeErr("%s needs boolean operands, got %s", map[string]string{"and": "&", "or": "|"}[e.Fn], describeArg(i))
			}
		}
		b := arrow.FixedWidthTypes.Boolean
		return mk(b, castArgs([]arrow.DataType{b, b}, computeKernel(e.Fn+"_kleene", nil)))
	case "not":
		if err := want(1); err != nil {
			return nil, err
		}
		switch args[0].Type().ID() {
		case arrow.BOOL:
			return mk(arrow.FixedWidthTypes.Boolean, notKernel)
		case arrow.NULL: // unknown: NOT NULL is NULL, as & and | take it
			b := arrow.FixedWidthTypes.Boolean
			return mk(b, castArgs([]arrow.DataType{b}, notKernel))
		}
		return nil, typeErr("~ needs a boolean operand, got %s", describeArg(0))
	case "is_null", "is_not_null":
		if err := want(1); err != nil {
			return nil, err
		}
		// Our own kernel, read from the validity bitmap: arrow-go's is_null has no kernel for
		// some types (decimals) and treats null-typed columns as valid.
		return mk(arrow.FixedWidthTypes.Boolean, nullMaskKernel(e.Fn == "is_not_null"))
	case "fill_null":
		if err := want(2); err != nil {
			return nil, err
		}
		// The result is of the type both operands fit, as when/then and Polars: a fill
		// column or literal of a wider type (decimal(7, 3) into decimal(10, 2), int64 into
		// int8) widens it rather than being rounded or failing at run time. A literal that
		// the column's type holds exactly (0 into int8 or decimal(10, 2)) keeps that type.
		t := args[0].Type()
		if t.ID() == arrow.NULL {
			t = args[1].Type()
		}
		if ft := args[1].Type(); !arrow.TypeEqual(t, ft) && ft.ID() != arrow.NULL && !literalHolds(args[1], t) {
			number := func(t arrow.DataType) bool { return IsNumeric(t) || t.ID() == arrow.DECIMAL128 }
			if ct, ok := CommonType(t, ft); ok && number(t) && number(ft) {
				t = ct // a decimal and a float: float64, as Polars and DuckDB
			} else if !canCast(ft, t) {
				return nil, typeErr("fill value %s does not fit column type %s", describeArg(1), TypeName(t))
			}
		}
		return mk(t, castArgs([]arrow.DataType{t, t}, fillNullKernel))
	case "str_contains", "str_starts_with", "str_ends_with":
		if err := want(1); err != nil {
			return nil, err
		}
		if !IsString(args[0].Type()) {
			return nil, typeErr("%s needs a string column, got %s", strings.Replace(e.Fn, "_", ".", 1), describeArg(0))
		}
		pat, ok := e.Options["pattern"].(string)
		if !ok {
			return nil, typeErr("missing string option 'pattern'")
		}
		literal, _ := e.Options["literal"].(bool)
		var match func(string) bool
		switch {
		case e.Fn == "str_starts_with":
			match = func(v string) bool { return strings.HasPrefix(v, pat) }
		case e.Fn == "str_ends_with":
			match = func(v string) bool { return strings.HasSuffix(v, pat) }
		case literal:
			match = func(v string) bool { return strings.Contains(v, pat) }
		default:
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, typeErr("invalid regular expression %q: %v (pass literal=True to match it as plain text)", pat, err)
			}
			match = newSearch(re).match
		}
		return mk(arrow.FixedWidthTypes.Boolean, stringPredicateKernel(match))
	case "str_lower", "str_upper":
		if err := want(1); err != nil {
			return nil, err
		}
		if !IsString(args[0].Type()) {
			return nil, typeErr("%s needs a string column, got %s", strings.Replace(e.Fn, "_", ".", 1), describeArg(0))
		}
		f := strings.ToLower
		if e.Fn == "str_upper" {
			f = strings.ToUpper
		}
		return mk(arrow.BinaryTypes.String, castArgs([]arrow.DataType{arrow.BinaryTypes.String}, stringMapKernel(f)))
	case "str_len_chars":
		if err := want(1); err != nil {
			return nil, err
		}
		if !IsString(args[0].Type()) {
			return nil, typeErr("str.len_chars needs a string column, got %s", describeArg(0))
		}
		return mk(arrow.PrimitiveTypes.Int32, castArgs([]arrow.DataType{arrow.BinaryTypes.String}, lenCharsKernel))
	case "dt_year", "dt_month", "dt_day", "dt_hour", "dt_minute", "dt_second":
		if err := want(1); err != nil {
			return nil, err
		}
		t := args[0].Type().ID()
		if t != arrow.TIMESTAMP && t != arrow.DATE32 {
			return nil, typeErr("%s needs a timestamp or date column, got %s", strings.Replace(e.Fn, "_", ".", 1), describeArg(0))
		}
		if t == arrow.DATE32 && (e.Fn == "dt_hour" || e.Fn == "dt_minute" || e.Fn == "dt_second") {
			return nil, typeErr("%s needs a timestamp column, got %s", strings.Replace(e.Fn, "_", ".", 1), describeArg(0))
		}
		k, err := temporalFieldKernel(e.Fn[3:], args[0].Type())
		if err != nil {
			return nil, typeErr("%v", err)
		}
		return mk(arrow.PrimitiveTypes.Int32, k)
	case "dt_truncate":
		if err := want(1); err != nil {
			return nil, err
		}
		t := args[0].Type().ID()
		if t != arrow.TIMESTAMP && t != arrow.DATE32 {
			return nil, typeErr("dt.truncate needs a timestamp or date column, got %s", describeArg(0))
		}
		every, _ := e.Options["every"].(string)
		opts, err := parseTruncate(every)
		if err != nil {
			return nil, typeErr("%v", err)
		}
		k, err := truncateKernel(args[0].Type(), opts, text)
		if err != nil {
			return nil, typeErr("%v", err)
		}
		return mk(args[0].Type(), k)
	}
	if x, ok, err := s.compileExtra(e, args, text); ok {
		return x, err
	}
	if x, ok, err := s.compileNested(e, args, text); ok {
		return x, err
	}
	if k, ok := testFunctions[e.Fn]; ok {
		return mk(arrow.FixedWidthTypes.Boolean, k)
	}
	msg := fmt.Sprintf("unknown function %q", e.Fn)
	if sug := plan.Suggest(e.Fn, Functions); sug != "" {
		msg += fmt.Sprintf("; did you mean %q?", sug)
	}
	return nil, s.Errorf(rberr.Plan, "%s", msg)
}

// orderable reports whether arrow-go's comparison kernels take values of type t.
func orderable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.NULL, arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME32, arrow.TIME64:
		return true
	}
	return IsNumeric(t)
}

// allNullKernel returns an all-null result of type t, as long as its first argument.
func allNullKernel(t arrow.DataType) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		for _, a := range args {
			if ad, ok := a.(*compute.ArrayDatum); ok {
				out := array.MakeArrayOfNull(ec.Mem, t, int(ad.Len()))
				return wrapResult(out, false)
			}
		}
		return compute.NewDatum(scalar.MakeNullScalar(t)), nil
	}
}

// ComparableType is the type both sides of a comparison are cast to.
// literalHolds says whether e is a literal that type t holds exactly (a cast to t and back
// gives it again).
func literalHolds(e Expr, t arrow.DataType) bool {
	l, ok := e.(*litExpr)
	if !ok || !l.val.IsValid() {
		return false
	}
	if neg, mag, isInt := intLiteral(e); isInt {
		if d, ok := t.(*arrow.Decimal128Type); ok {
			digits := d.Precision - d.Scale // an integer of fewer digits fits
			return digits >= 19 || mag < uint64(math.Pow10(int(max(digits, 0))))
		}
		if IsInteger(t) {
			return literalFits(neg, mag, t)
		}
	}
	c, err := l.val.CastTo(t)
	if err != nil || !c.IsValid() {
		return false
	}
	back, err := c.CastTo(l.val.DataType())
	return err == nil && scalar.Equals(back, l.val)
}

func ComparableType(a, b arrow.DataType) (arrow.DataType, bool) {
	switch {
	case arrow.TypeEqual(a, b):
		return a, true
	case a.ID() == arrow.NULL:
		return b, true
	case b.ID() == arrow.NULL:
		return a, true
	case IsNumeric(a) && IsNumeric(b):
		return numericSupertype(a, b), true
	case a.ID() == arrow.DECIMAL128 && (b.ID() == arrow.DECIMAL128 || IsInteger(b)),
		b.ID() == arrow.DECIMAL128 && IsInteger(a):
		da, _ := asDecimalType(a)
		db, _ := asDecimalType(b)
		return decCommonType(da, db), true
	case IsString(a) && IsString(b):
		return arrow.BinaryTypes.LargeString, true
	case a.ID() == arrow.TIMESTAMP && b.ID() == arrow.TIMESTAMP:
		ta, tb := a.(*arrow.TimestampType), b.(*arrow.TimestampType)
		if tb.Unit > ta.Unit {
			return &arrow.TimestampType{Unit: tb.Unit, TimeZone: ta.TimeZone}, true
		}
		return a, true
	case a.ID() == arrow.DURATION && b.ID() == arrow.DURATION:
		if b.(*arrow.DurationType).Unit > a.(*arrow.DurationType).Unit {
			return b, true // the finer unit, as timestamps
		}
		return a, true
	case a.ID() == arrow.TIMESTAMP && b.ID() == arrow.DATE32:
		return a, true
	case b.ID() == arrow.TIMESTAMP && a.ID() == arrow.DATE32:
		return b, true
	}
	return nil, false
}

// parseTruncate reads a Polars-style duration ("1h", "15m", "1d", "1w", "1mo", "1q", "1y",
// "1s", "1ms", "1us", "1ns") into floor_temporal options.
func parseTruncate(every string) (compute.RoundTemporalOptions, error) {
	opts := compute.DefaultRoundTemporalOptions
	i := 0
	for i < len(every) && every[i] >= '0' && every[i] <= '9' {
		i++
	}
	if i == 0 || i == len(every) {
		return opts, fmt.Errorf("invalid duration %q for dt.truncate (expected e.g. \"1h\", \"15m\", \"1d\", \"1mo\")", every)
	}
	var n int64
	fmt.Sscan(every[:i], &n)
	if n <= 0 {
		return opts, fmt.Errorf("dt.truncate duration must be positive, got %q", every)
	}
	units := map[string]compute.RoundTemporalUnit{
		"y": compute.RoundTemporalYear, "q": compute.RoundTemporalQuarter, "mo": compute.RoundTemporalMonth,
		"w": compute.RoundTemporalWeek, "d": compute.RoundTemporalDay, "h": compute.RoundTemporalHour,
		"m": compute.RoundTemporalMinute, "s": compute.RoundTemporalSecond, "ms": compute.RoundTemporalMillisecond,
		"us": compute.RoundTemporalMicrosecond, "ns": compute.RoundTemporalNanosecond,
	}
	u, ok := units[every[i:]]
	if !ok {
		return opts, fmt.Errorf("unknown unit %q in dt.truncate duration %q (expected ns, us, ms, s, m, h, d, w, mo, q or y)", every[i:], every)
	}
	opts.Multiple = n
	opts.Unit = u
	return opts, nil
}
