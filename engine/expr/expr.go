package expr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// EvalCtx carries what expression evaluation needs: a context that holds the allocator
// for compute kernels, and the allocator itself for our own kernels.
type EvalCtx struct {
	Ctx context.Context
	Mem memory.Allocator
	// the values of shared subexpressions over a batch, while sharing (Share)
	sharing bool
	memo    map[*sharedExpr]memoEntry
}

func NewEvalCtx(ctx context.Context, mem memory.Allocator) *EvalCtx {
	return &EvalCtx{Ctx: compute.WithAllocator(ctx, mem), Mem: mem}
}

// cexpr is a compiled, type-checked expression bound to an input schema. Eval returns a
// datum (array or scalar) the caller must Release.
type Expr interface {
	Type() arrow.DataType
	Eval(ec *EvalCtx, rec arrow.RecordBatch) (compute.Datum, error)
	String() string
}

// Bound is a compiled expression together with its output name.
type Bound struct {
	Expr
	Name string
}

// CompileScope binds expressions against one schema; op names the operator for errors.
type CompileScope struct {
	Schema *arrow.Schema
	Op     string
	names  *plan.Describer // the texts of the calls compiled (callExpr.text), each rendered once
}

// describe is e's text, rendered once per node however deep the tree.
func (s *CompileScope) describe(e *plan.Expr) string {
	if s.names == nil {
		s.names = &plan.Describer{}
	}
	return s.names.Describe(e)
}

func (s *CompileScope) Errorf(kind rberr.Kind, format string, args ...any) error {
	return rberr.New(kind, "%s: %s", s.Op, fmt.Sprintf(format, args...))
}

// CompileNamed compiles a top-level expression and derives its output name: the alias,
// else the name of its leftmost column, else "literal" (as Polars does).
func (s *CompileScope) CompileNamed(e *plan.Expr) (Bound, error) {
	c, err := s.Compile(e)
	if err != nil {
		return Bound{}, err
	}
	return Bound{Expr: c, Name: OutputName(e)}, nil
}

func OutputName(e *plan.Expr) string {
	if e == nil {
		return "literal"
	}
	switch {
	case e.Alias != nil:
		return *e.Alias
	case e.Col != nil:
		return *e.Col
	case e.Lit != nil:
		return "literal"
	case e.Agg == "count" && len(e.Args) == 0:
		return "count"
	case e.Fn == "over" && len(e.Args) > 0:
		return OutputName(e.Args[0]) // not its partition_by / order_by columns
	}
	for _, a := range e.Args {
		if n := OutputName(a); n != "literal" {
			return n
		}
	}
	return "literal"
}

// WindowFunctions are the functions that exist only inside over(...) (engine/ops/over).
var WindowFunctions = []string{"rank", "row_number", "cum_count", "shift", "cum_sum", "cum_min", "cum_max",
	"rolling_sum", "rolling_mean", "rolling_min", "rolling_max", "forward_fill", "backward_fill"}

func (s *CompileScope) Compile(e *plan.Expr) (Expr, error) {
	if e == nil {
		return nil, s.Errorf(rberr.Plan, "missing expression")
	}
	switch {
	case e.Col != nil:
		return s.compileCol(*e.Col)
	case e.Lit != nil:
		return compileLit(e, s)
	case e.Alias != nil:
		if len(e.Args) != 1 {
			return nil, s.Errorf(rberr.Plan, "alias(%q) needs exactly one argument", *e.Alias)
		}
		if *e.Alias == "" {
			return nil, s.Errorf(rberr.Plan, "alias name of %s must not be empty", e.Args[0].Describe())
		}
		return s.Compile(e.Args[0])
	case e.Cast != "":
		if len(e.Args) != 1 {
			return nil, s.Errorf(rberr.Plan, "cast needs exactly one argument")
		}
		to, err := ParseType(e.Cast)
		if err != nil {
			return nil, s.Errorf(rberr.Plan, "%v", err)
		}
		arg, err := s.Compile(e.Args[0])
		if err != nil {
			return nil, err
		}
		if !canCast(arg.Type(), to) {
			return nil, s.Errorf(rberr.Type, "cannot cast %s (%s) to %s", arg, TypeName(arg.Type()), TypeName(to))
		}
		return &CastExpr{Arg: arg, To: to}, nil
	case e.Agg != "":
		return nil, s.Errorf(rberr.Plan, "aggregation %s is only allowed inside group_by(...).agg(...), and not inside another aggregation", e.Describe())
	case e.Fn == "over":
		return nil, s.Errorf(rberr.Plan, "%s: window functions over(...) are only allowed in select(...) and with_columns(...)", e.Describe())
	case slices.Contains(WindowFunctions, e.Fn):
		return nil, s.Errorf(rberr.Plan, "%s is a window function: use it with .over(...), e.g. col(\"x\").cum_sum().over(\"key\", order_by=\"time\")", e.Fn)
	case e.Fn != "":
		c, err := s.compileCall(e)
		if err != nil {
			return nil, err
		}
		return withLazyOperands(c), nil
	}
	return nil, s.Errorf(rberr.Plan, "empty expression")
}

func (s *CompileScope) compileCol(name string) (Expr, error) {
	idx := s.Schema.FieldIndices(name)
	if len(idx) == 0 {
		return nil, s.ColumnNotFound(name)
	}
	if len(idx) > 1 {
		return nil, s.Errorf(rberr.Schema, "column %q is ambiguous: the input has %d columns of that name", name, len(idx))
	}
	return &ColExpr{Idx: idx[0], Name: name, Dt: s.Schema.Field(idx[0]).Type}, nil
}

func (s *CompileScope) ColumnNotFound(name string) error {
	names := make([]string, s.Schema.NumFields())
	for i, f := range s.Schema.Fields() {
		names[i] = f.Name
	}
	msg := fmt.Sprintf("no column %q", name)
	if sug := plan.Suggest(name, names); sug != "" {
		msg += fmt.Sprintf("; did you mean %q?", sug)
	} else {
		msg += fmt.Sprintf("; the input has %s", plan.QuoteList(names, 12))
	}
	return s.Errorf(rberr.ColumnNotFound, "%s", msg)
}

// ColExpr reads one input column.
type ColExpr struct {
	Idx  int
	Name string
	Dt   arrow.DataType
}

func (c *ColExpr) Type() arrow.DataType { return c.Dt }
func (c *ColExpr) String() string       { return fmt.Sprintf("col(%q)", c.Name) }
func (c *ColExpr) Eval(_ *EvalCtx, rec arrow.RecordBatch) (compute.Datum, error) {
	return compute.NewDatum(rec.Column(c.Idx)), nil
}

// litExpr is a constant.
type litExpr struct {
	val scalar.Scalar
}

func (l *litExpr) Type() arrow.DataType { return l.val.DataType() }
func (l *litExpr) String() string       { return fmt.Sprintf("lit(%s)", l.val) }
func (l *litExpr) Eval(*EvalCtx, arrow.RecordBatch) (compute.Datum, error) {
	return compute.NewDatum(l.val), nil
}

func compileLit(e *plan.Expr, s *CompileScope) (Expr, error) {
	typ := e.Type
	if typ == "" {
		return nil, s.Errorf(rberr.Plan, "literal %s has no type", string(e.Lit))
	}
	dt, err := ParseType(typ)
	if err != nil {
		return nil, s.Errorf(rberr.Plan, "%v", err)
	}
	sc, err := MakeScalar(e.Lit, dt)
	if err != nil {
		return nil, s.Errorf(rberr.Plan, "bad literal %s of type %s: %v", string(e.Lit), typ, err)
	}
	return &litExpr{val: sc}, nil
}

// MakeScalar builds a scalar of type dt from a JSON value.
func MakeScalar(raw json.RawMessage, dt arrow.DataType) (scalar.Scalar, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if v == nil {
		return scalar.MakeNullScalar(dt), nil
	}
	switch dt.ID() {
	case arrow.BOOL:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("expected true or false")
		}
		return scalar.NewBooleanScalar(b), nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY:
		if m, ok := v.(map[string]any); ok && dt.ID() == arrow.BINARY { // bytes: {"base64": ...}
			text, ok := m["base64"].(string)
			if !ok || len(m) != 1 {
				return nil, fmt.Errorf(`expected {"base64": "..."} or a string`)
			}
			b, err := base64.StdEncoding.DecodeString(text)
			if err != nil {
				return nil, fmt.Errorf("bad base64: %v", err)
			}
			return scalar.NewBinaryScalar(memory.NewBufferBytes(b), dt), nil
		}
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a string")
		}
		return scalar.MakeScalarParam(str, dt)
	case arrow.DECIMAL128:
		text := string(raw)
		if str, ok := v.(string); ok {
			text = str
		}
		d := dt.(*arrow.Decimal128Type)
		n, ok := parseDecimal(text, d.Precision, d.Scale)
		if !ok {
			return nil, fmt.Errorf("expected a number that fits %s", TypeName(dt))
		}
		return scalar.NewDecimal128Scalar(n, dt), nil
	case arrow.FLOAT32, arrow.FLOAT64:
		f, err := jsonFloat(raw)
		if err != nil {
			return nil, err
		}
		if dt.ID() == arrow.FLOAT32 {
			return scalar.NewFloat32Scalar(float32(f)), nil
		}
		return scalar.NewFloat64Scalar(f), nil
	default:
		// Integers and integer-backed temporal types: parse exactly, without going through float64.
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			if u, uerr := strconv.ParseUint(string(raw), 10, 64); uerr == nil && dt.ID() == arrow.UINT64 {
				return scalar.NewUint64Scalar(u), nil
			}
			return nil, fmt.Errorf("expected an integer")
		}
		sc := scalar.NewInt64Scalar(n)
		if dt.ID() == arrow.INT64 {
			return sc, nil
		}
		if d, ok := dt.(*arrow.DurationType); ok { // arrow-go's scalar cast has no int64 → duration
			return scalar.NewDurationScalar(arrow.Duration(n), d), nil
		}
		out, err := sc.CastTo(dt)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

func jsonFloat(raw json.RawMessage) (float64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "nan", "NaN":
			return math.NaN(), nil
		case "inf", "Infinity":
			return math.Inf(1), nil
		case "-inf", "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("expected a number")
	}
	return strconv.ParseFloat(string(raw), 64)
}

// CastExpr converts its argument. Float to integer truncates toward zero (as Polars);
// overflow and unparsable strings are errors.
type CastExpr struct {
	Arg Expr
	To  arrow.DataType
}

func (c *CastExpr) Type() arrow.DataType { return c.To }
func (c *CastExpr) String() string       { return fmt.Sprintf("%s.cast(%s)", c.Arg, TypeName(c.To)) }
func (c *CastExpr) Eval(ec *EvalCtx, rec arrow.RecordBatch) (compute.Datum, error) {
	in, err := c.Arg.Eval(ec, rec)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	return castDatum(ec, in, c.To, c.String())
}

// checkFloatToInt refuses float values that an integer type cannot hold (truncation
// toward zero is allowed; NaN, infinities and overflow are not).
func checkFloatToInt(ec *EvalCtx, in compute.Datum, to arrow.DataType, what string) error {
	arr, _, err := asArray(ec, in)
	if err != nil {
		return err
	}
	defer arr.Release()
	vals, err := AsFloat64(arr)
	if err != nil {
		return err
	}
	lo, hi := intRange(to)
	for i, v := range vals {
		if arr.IsNull(i) {
			continue
		}
		if t := math.Trunc(v); math.IsNaN(v) || t < lo || t >= hi {
			return rberr.New(rberr.Data, "%s failed: the value %v does not fit in %s", what, v, TypeName(to))
		}
	}
	return nil
}

// intRange is the half-open range [lo, hi) of an integer type, as float64.
func intRange(t arrow.DataType) (float64, float64) {
	bits := float64(t.(arrow.FixedWidthDataType).BitWidth())
	if IsSigned(t) {
		return -math.Pow(2, bits-1), math.Pow(2, bits-1)
	}
	return 0, math.Pow(2, bits)
}

func datumType(d compute.Datum) arrow.DataType {
	switch v := d.(type) {
	case *compute.ArrayDatum:
		return v.Type()
	case *compute.ScalarDatum:
		return v.Type()
	}
	return arrow.Null
}

func cloneDatum(d compute.Datum) compute.Datum {
	switch v := d.(type) {
	case *compute.ArrayDatum:
		arr := v.MakeArray()
		defer arr.Release()
		return compute.NewDatum(arr)
	}
	return compute.NewDatum(d.(*compute.ScalarDatum).Value)
}

// DatumToArray turns a datum into an array of n rows (broadcasting a scalar). It
// consumes d.
func DatumToArray(ec *EvalCtx, d compute.Datum, n int) (arrow.Array, error) {
	defer d.Release()
	switch v := d.(type) {
	case *compute.ArrayDatum:
		return v.MakeArray(), nil
	case *compute.ScalarDatum:
		return scalar.MakeArrayFromScalar(v.Value, n, ec.Mem)
	}
	return nil, rberr.New(rberr.Internal, "unexpected datum kind %s", d.Kind())
}
