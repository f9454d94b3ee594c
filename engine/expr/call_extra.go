package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The everyday functions beyond comparison and arithmetic: conditionals, membership,
// maths, strings and calendar fields. Semantics follow Polars where Polars defines the
// name (the Python API's names are Polars'), DuckDB elsewhere; docs/expressions.md lists
// every function with its rules.

func init() {
	Functions = append(Functions,
		"case_when", "error_if", "is_in", "is_nan", "abs", "sign", "sqrt", "exp", "log", "log10", "pow",
		"cbrt", "log1p", "sin", "cos", "tan", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
		"arcsinh", "arccosh", "arctanh", "degrees", "radians",
		"floor", "ceil", "round",
		"str_slice", "str_replace", "str_strip_chars", "str_strip_chars_start", "str_strip_chars_end",
		"str_pad_start", "str_pad_end", "str_split", "str_split_index", "str_extract", "str_to_date", "str_to_datetime", "concat_str",
		"str_len_bytes", "str_zfill", "str_count_matches", "str_find",
		"dt_date", "dt_weekday", "dt_quarter", "dt_ordinal_day", "dt_epoch", "dt_strftime",
		"dt_month_start", "dt_month_end", "dt_days_in_month",
		"dt_total_days", "dt_total_seconds", "dt_total_milliseconds", "dt_total_microseconds")
}

// floatFuncs are the functions of one float (NaN outside their domain, as Polars: Rust's
// and Go's math agree there) beyond sqrt, exp and the logarithms.
var floatFuncs = map[string]func(float64) float64{
	"cbrt": math.Cbrt, "log1p": math.Log1p,
	"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "cot": func(x float64) float64 { return 1 / math.Tan(x) },
	"arcsin": math.Asin, "arccos": math.Acos, "arctan": math.Atan,
	"sinh": math.Sinh, "cosh": math.Cosh, "tanh": math.Tanh,
	"arcsinh": math.Asinh, "arccosh": math.Acosh, "arctanh": math.Atanh,
	"degrees": func(x float64) float64 { return x * (180 / math.Pi) },
	"radians": func(x float64) float64 { return x * (math.Pi / 180) },
}

// optInt reads an integer option (plan options are decoded with UseNumber).
func optInt(o map[string]any, name string) (int64, bool, error) {
	v, ok := o[name]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, false, fmt.Errorf("option %q must be an integer, got %s", name, n)
		}
		return i, true, nil
	case float64:
		if n != math.Trunc(n) {
			return 0, false, fmt.Errorf("option %q must be an integer, got %v", name, n)
		}
		return int64(n), true, nil
	case int:
		return int64(n), true, nil
	case int64:
		return n, true, nil
	}
	return 0, false, fmt.Errorf("option %q must be an integer, got %v", name, v)
}

func optString(o map[string]any, name string) (string, bool, error) {
	v, ok := o[name]
	if !ok || v == nil {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, fmt.Errorf("option %q must be a string, got %v", name, v)
	}
	return s, true, nil
}

// compileExtra compiles the functions of this file; ok is false for any other name.
func (s *CompileScope) compileExtra(e *plan.Expr, args []Expr, text string) (out Expr, ok bool, err error) {
	mk := func(dt arrow.DataType, k kernelFn) (Expr, bool, error) {
		return &callExpr{name: e.Fn, args: args, dt: dt, kernel: k, text: text, own: ownText(e)}, true, nil
	}
	fail := func(kind rberr.Kind, format string, a ...any) (Expr, bool, error) {
		return nil, true, s.Errorf(kind, "%s: %s", text, fmt.Sprintf(format, a...))
	}
	want := func(n int) error {
		if len(args) != n {
			return s.Errorf(rberr.Plan, "%s takes %d argument(s), got %d", e.Fn, n, len(args))
		}
		return nil
	}
	describeArg := func(i int) string { return fmt.Sprintf("%s (%s)", args[i], TypeName(args[i].Type())) }
	pretty := strings.Replace(e.Fn, "_", ".", 1)
	f64 := arrow.PrimitiveTypes.Float64

	switch e.Fn {
	case "case_when":
		// args: cond1, value1, ..., condN, valueN [, otherwise]
		if len(args) < 2 {
			return fail(rberr.Plan, "when/then needs at least one condition and one value")
		}
		var values []Expr
		for i := 0; i+1 < len(args); i += 2 {
			if t := args[i].Type().ID(); t != arrow.BOOL && t != arrow.NULL {
				return fail(rberr.Type, "when() needs a boolean condition, got %s", describeArg(i))
			}
			values = append(values, args[i+1])
		}
		if len(args)%2 == 1 {
			values = append(values, args[len(args)-1])
		}
		out := values[0].Type()
		for _, v := range values[1:] {
			ct, ok := CommonType(out, v.Type())
			if !ok {
				return fail(rberr.Type, "then()/otherwise() values must share a type, got %s and %s (cast one of them)", TypeName(out), TypeName(v.Type()))
			}
			out = ct
		}
		if out.ID() == arrow.NULL {
			out = arrow.Null
		}
		return mk(out, caseWhenKernel(out, len(args)%2 == 1))
	case "is_in":
		if len(args) < 1 {
			return fail(rberr.Plan, "is_in needs a column")
		}
		ct := args[0].Type()
		for i := 1; i < len(args); i++ {
			if _, lit := args[i].(*litExpr); !lit {
				return fail(rberr.Plan, "is_in takes a list of values, got the expression %s", args[i])
			}
			c, ok := CommonType(ct, args[i].Type())
			if k, exact := KeyType(ct, args[i].Type()); exact && k.ID() == arrow.DECIMAL128 && IsInteger(ct) {
				c = k // uint64 with signed values: compared exactly
			}
			if lt := args[i].Type(); !ok && (IsFloat(ct) && lt.ID() == arrow.DECIMAL128 || ct.ID() == arrow.DECIMAL128 && IsFloat(lt)) {
				c, ok = arrow.PrimitiveTypes.Float64, true // a float with a decimal: as float64, as comparisons do
			}
			if !ok {
				return fail(rberr.Type, "is_in value %s cannot be compared with %s", describeArg(i), describeArg(0))
			}
			ct = c
		}
		if !orderable(ct) && ct.ID() != arrow.DECIMAL128 {
			return fail(rberr.Type, "is_in is not defined for %s", describeArg(0))
		}
		return mk(arrow.FixedWidthTypes.Boolean, isInKernel(ct))
	case "error_if":
		// error_if(cond, value, message=...): value, unless cond is true on a row, which
		// fails the job with a DataError carrying the message (SQL's run-time checks, such
		// as a scalar subquery that gives more than one row)
		if err := want(2); err != nil {
			return nil, true, err
		}
		if t := args[0].Type().ID(); t != arrow.BOOL && t != arrow.NULL {
			return fail(rberr.Type, "error_if needs a boolean condition, got %s", describeArg(0))
		}
		msg, ok, err := optString(e.Options, "message")
		if err != nil || !ok || msg == "" {
			return fail(rberr.InvalidArgument, "error_if needs a message option (a string)")
		}
		return mk(args[1].Type(), errorIfKernel(msg))
	case "is_nan":
		if err := want(1); err != nil {
			return nil, true, err
		}
		if !IsNumeric(args[0].Type()) {
			return fail(rberr.Type, "is_nan needs a numeric column, got %s", describeArg(0))
		}
		return mk(arrow.FixedWidthTypes.Boolean, isNaNKernel)
	case "abs", "sign":
		if err := want(1); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		switch {
		case IsFloat(t) || IsInteger(t) || t.ID() == arrow.DECIMAL128:
		case t.ID() == arrow.DURATION && e.Fn == "abs":
		default:
			return fail(rberr.Type, "%s needs a numeric column, got %s", e.Fn, describeArg(0))
		}
		if e.Fn == "sign" {
			if IsFloat(t) {
				return mk(t, floatUnary(t, func(x float64) float64 {
					switch {
					case x > 0:
						return 1
					case x < 0:
						return -1
					}
					return x // 0, -0 and NaN as they are, as Polars
				}))
			}
			return mk(arrow.PrimitiveTypes.Int64, signKernel)
		}
		return mk(t, absKernel(text))
	case "sqrt", "exp", "log", "log10", "cbrt", "log1p", "sin", "cos", "tan", "cot", "arcsin", "arccos", "arctan",
		"sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "degrees", "radians":
		if err := want(1); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		if !IsNumeric(t) && t.ID() != arrow.DECIMAL128 {
			return fail(rberr.Type, "%s needs a numeric column, got %s", e.Fn, describeArg(0))
		}
		f := floatFuncs[e.Fn]
		switch e.Fn {
		case "sqrt":
			f = math.Sqrt
		case "exp":
			f = math.Exp
		case "log10":
			f = func(x float64) float64 {
				if x > 0 && x < 0x1p-1022 { // as logNormal
					return math.Log10(x*0x1p54) - 54*math.Log10(2)
				}
				return math.Log10(x)
			}
		case "log":
			base := math.E
			if v, ok := e.Options["base"]; ok && v != nil {
				n, isNum := v.(json.Number)
				b, err := n.Float64()
				if !isNum || err != nil || b <= 0 || b == 1 {
					return fail(rberr.InvalidArgument, "log base must be a positive number other than 1, got %v", v)
				}
				base = b
			}
			if base == math.E {
				f = logNormal
			} else {
				lb := math.Log(base)
				f = func(x float64) float64 { return logNormal(x) / lb }
			}
		}
		out := f64
		if t.ID() == arrow.FLOAT32 {
			out = arrow.PrimitiveTypes.Float32
		}
		return mk(out, castArgs([]arrow.DataType{out}, floatUnary(out, f)))
	case "pow":
		if err := want(2); err != nil {
			return nil, true, err
		}
		for i := range args {
			if t := args[i].Type(); !IsNumeric(t) && t.ID() != arrow.DECIMAL128 && t.ID() != arrow.NULL {
				return fail(rberr.Type, "** needs numeric operands, got %s", describeArg(i))
			}
		}
		return mk(f64, castArgs([]arrow.DataType{f64, f64}, powKernel))
	case "floor", "ceil", "round":
		if err := want(1); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		decimals := int64(0)
		if e.Fn == "round" {
			d, _, err := optInt(e.Options, "decimals")
			if err != nil || d < 0 || d > 18 {
				return fail(rberr.InvalidArgument, "round(decimals=) must be an integer from 0 to 18, got %v", e.Options["decimals"])
			}
			decimals = d
		}
		halfEven := true
		if m, _, err := optString(e.Options, "mode"); err != nil || (m != "" && m != "half_to_even" && m != "half_away_from_zero") {
			return fail(rberr.InvalidArgument, "round mode must be \"half_to_even\" or \"half_away_from_zero\", got %v", e.Options["mode"])
		} else if m == "half_away_from_zero" {
			halfEven = false
		}
		switch {
		case IsInteger(t):
			return mk(t, identityKernel) // already whole
		case IsFloat(t):
			var f func(float64) float64
			switch e.Fn {
			case "floor":
				f = math.Floor
			case "ceil":
				f = math.Ceil
			default:
				f = roundTo(int(decimals), halfEven)
			}
			return mk(t, floatUnary(t, f))
		case t.ID() == arrow.DECIMAL128:
			// One more digit before the point when digits are dropped (9.99 rounds to
			// 10.00), as Polars widens decimal(3, 2) to decimal(4, 2).
			out := t.(*arrow.Decimal128Type)
			if int32(decimals) < out.Scale && out.Precision < MaxDecPrecision {
				out = DecType(out.Precision+1, out.Scale)
			}
			return mk(out, decRoundKernel(e.Fn, int32(decimals), halfEven, out))
		}
		return fail(rberr.Type, "%s needs a numeric column, got %s", e.Fn, describeArg(0))
	case "str_slice", "str_replace", "str_strip_chars", "str_strip_chars_start", "str_strip_chars_end",
		"str_pad_start", "str_pad_end", "str_split", "str_split_index", "str_extract", "str_to_date", "str_to_datetime",
		"str_len_bytes", "str_zfill", "str_count_matches", "str_find":
		if err := want(1); err != nil {
			return nil, true, err
		}
		if !IsString(args[0].Type()) {
			return fail(rberr.Type, "%s needs a string column, got %s", pretty, describeArg(0))
		}
		str := []arrow.DataType{arrow.BinaryTypes.String}
		k, out, err := stringFunction(e.Fn, e.Options)
		if err != nil {
			return fail(rberr.InvalidArgument, "%v", err)
		}
		return mk(out, castArgs(str, k))
	case "concat_str":
		if len(args) == 0 {
			return fail(rberr.Plan, "concat_str needs at least one expression")
		}
		sep, _, err := optString(e.Options, "separator")
		if err != nil {
			return fail(rberr.InvalidArgument, "%v", err)
		}
		types := make([]arrow.DataType, len(args))
		for i := range args {
			if t := args[i].Type(); !canCast(t, arrow.BinaryTypes.String) && t.ID() != arrow.NULL {
				return fail(rberr.Type, "concat_str cannot turn %s into a string", describeArg(i))
			}
			types[i] = arrow.BinaryTypes.String
		}
		ignoreNulls, _ := e.Options["ignore_nulls"].(bool)
		return mk(arrow.BinaryTypes.String, castArgs(types, concatKernel(sep, ignoreNulls)))
	case "dt_strftime":
		if err := want(1); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		if t.ID() != arrow.TIMESTAMP && t.ID() != arrow.DATE32 {
			return fail(rberr.Type, "%s needs a timestamp or date column, got %s", pretty, describeArg(0))
		}
		format, has, err := optString(e.Options, "format")
		if err != nil {
			return fail(rberr.InvalidArgument, "%v", err)
		}
		if !has {
			return fail(rberr.InvalidArgument, "%s needs a format, e.g. \"%%Y-%%m-%%d %%H:%%M:%%S\"", pretty)
		}
		pieces, err := compileStrftime(format)
		if err != nil {
			return fail(rberr.InvalidArgument, "%s: %v", pretty, err)
		}
		k, err := strftimeKernel(t, pieces)
		if err != nil {
			return fail(rberr.InvalidArgument, "%v", err)
		}
		return mk(arrow.BinaryTypes.String, k)
	case "dt_month_start", "dt_month_end", "dt_days_in_month":
		if err := want(1); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		if t.ID() != arrow.TIMESTAMP && t.ID() != arrow.DATE32 {
			return fail(rberr.Type, "%s needs a timestamp or date column, got %s", pretty, describeArg(0))
		}
		k, out, err := monthKernel(e.Fn[3:], t, text)
		if err != nil {
			return fail(rberr.Type, "%v", err)
		}
		return mk(out, k)
	case "dt_date", "dt_weekday", "dt_quarter", "dt_ordinal_day", "dt_epoch":
		if err := want(1); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		if t.ID() != arrow.TIMESTAMP && t.ID() != arrow.DATE32 {
			return fail(rberr.Type, "%s needs a timestamp or date column, got %s", pretty, describeArg(0))
		}
		if e.Fn == "dt_epoch" {
			unit, _, err := optString(e.Options, "unit")
			if err != nil {
				return fail(rberr.InvalidArgument, "%v", err)
			}
			if unit == "" {
				unit = "us"
			}
			k, err := epochKernel(t, unit)
			if err != nil {
				return fail(rberr.InvalidArgument, "%v", err)
			}
			return mk(arrow.PrimitiveTypes.Int64, k)
		}
		k, err := calendarKernel(e.Fn[3:], t)
		if err != nil {
			return fail(rberr.Type, "%v", err)
		}
		if e.Fn == "dt_date" {
			return mk(arrow.FixedWidthTypes.Date32, k)
		}
		return mk(arrow.PrimitiveTypes.Int32, k)
	case "dt_total_days", "dt_total_seconds", "dt_total_milliseconds", "dt_total_microseconds":
		if err := want(1); err != nil {
			return nil, true, err
		}
		d, isDur := args[0].Type().(*arrow.DurationType)
		if !isDur {
			return fail(rberr.Type, "%s needs a duration column, got %s", pretty, describeArg(0))
		}
		per := map[string]int64{"dt_total_days": 86400e9, "dt_total_seconds": 1e9, "dt_total_milliseconds": 1e6, "dt_total_microseconds": 1e3}[e.Fn]
		return mk(arrow.PrimitiveTypes.Int64, durationTotalKernel(int64(d.Unit.Multiplier()), per))
	}
	return nil, false, nil
}

// KeyType is the type two values are matched as when they are hashed (join keys, is_in
// lists): ComparableType's, except that uint64 with a signed integer is decimal128(20, 0),
// which holds both exactly (int64 fails on values from 2^63, uint64 on negative ones), and
// a decimal with a float is float64 (as their comparison and DuckDB's join).
func KeyType(a, b arrow.DataType) (arrow.DataType, bool) {
	if IsInteger(a) && IsInteger(b) && (a.ID() == arrow.UINT64 && IsSigned(b) || b.ID() == arrow.UINT64 && IsSigned(a)) {
		return &arrow.Decimal128Type{Precision: 20, Scale: 0}, true
	}
	if a.ID() == arrow.DECIMAL128 && IsFloat(b) || IsFloat(a) && b.ID() == arrow.DECIMAL128 {
		return arrow.PrimitiveTypes.Float64, true // as the comparison =, and DuckDB's join
	}
	return ComparableType(a, b)
}

// CommonType is the type values of types a and b are both cast to when one result holds
// either (when/then branches, is_in lists): equal types, null with anything, numbers to
// their supertype, strings to utf8, timestamps and durations to the finer unit.
func CommonType(a, b arrow.DataType) (arrow.DataType, bool) {
	if IsString(a) && IsString(b) && !arrow.TypeEqual(a, b) {
		return arrow.BinaryTypes.LargeString, true
	}
	if a.ID() == arrow.DATE32 && b.ID() == arrow.TIMESTAMP || a.ID() == arrow.TIMESTAMP && b.ID() == arrow.DATE32 {
		return nil, false
	}
	if a.ID() == arrow.DECIMAL128 && IsFloat(b) || IsFloat(a) && b.ID() == arrow.DECIMAL128 {
		return arrow.PrimitiveTypes.Float64, true // as decimal arithmetic with a float, Polars and DuckDB
	}
	return ComparableType(a, b)
}

// regexpOrLiteral compiles pattern as a regular expression, or quoted when literal.
func regexpOrLiteral(pattern string, literal bool) (*regexp.Regexp, error) {
	if literal {
		pattern = regexp.QuoteMeta(pattern)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v (pass literal=True to match it as plain text)", pattern, err)
	}
	return re, nil
}

// logNormal is math.Log, right for subnormal numbers too: Go's assembly Log on amd64
// gives about ln(2^-1022) for every x below 2^-1022 (ln(5e-324) = -709.09 instead of
// -744.44), so such x is scaled up by 2^54 first.
func logNormal(x float64) float64 {
	if x > 0 && x < 0x1p-1022 {
		return math.Log(x*0x1p54) - 54*math.Ln2
	}
	return math.Log(x)
}
