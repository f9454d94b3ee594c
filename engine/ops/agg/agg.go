package agg

import (
	"cmp"
	"context"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/vec"
)

// Aggregations lists the aggregation names the plan format accepts.
var Aggregations = []string{"count", "sum", "min", "max", "mean", "first", "last", "n_unique",
	"std", "var", "median", "quantile", "approx_n_unique", "any", "all", "arg_max", "arg_min",
	"max_by", "min_by"}

// Spec is a compiled aggregation: fn over arg (nil for count()), with its options.
type Spec struct {
	Fn      string
	Name    string
	Arg     expr.Expr
	OutType arrow.DataType
	// By is the ordering column of max_by / min_by.
	By expr.Expr
	// Ddof is std / var's delta degrees of freedom (the divisor is n - ddof).
	Ddof int64
	// Quantile and Interp are quantile's (median: 0.5, "linear").
	Quantile float64
	Interp   string
	// IgnoreNulls is any / all's: with false, nulls make the result null where a true
	// (any) or false (all) does not decide it (Kleene logic).
	IgnoreNulls bool
}

// compileAgg compiles `<expr>.<agg>()` optionally wrapped in alias.
func Compile(s *expr.CompileScope, e *plan.Expr) (Spec, error) {
	name := expr.OutputName(e)
	inner := e
	for inner != nil && inner.Alias != nil && len(inner.Args) == 1 {
		inner = inner.Args[0]
	}
	if inner == nil || inner.Agg == "" {
		return Spec{}, s.Errorf(rberr.Plan, "agg(...) takes aggregations such as col(\"x\").sum() or count(), got %s", e.Describe())
	}
	spec := Spec{Fn: inner.Agg, Name: name}
	known := false
	for _, a := range Aggregations {
		known = known || a == inner.Agg
	}
	if !known {
		msg := fmt.Sprintf("unknown aggregation %q", inner.Agg)
		if sug := plan.Suggest(inner.Agg, Aggregations); sug != "" {
			msg += fmt.Sprintf("; did you mean %q?", sug)
		}
		return Spec{}, s.Errorf(rberr.Plan, "%s", msg)
	}
	if err := compileOptions(s, inner, &spec); err != nil {
		return Spec{}, err
	}
	if inner.Agg == "count" && len(inner.Args) == 0 {
		spec.OutType = arrow.PrimitiveTypes.Int64
		if name == "literal" {
			spec.Name = "count"
		}
		return spec, nil
	}
	if inner.Agg == "max_by" || inner.Agg == "min_by" {
		if len(inner.Args) != 2 {
			return Spec{}, s.Errorf(rberr.Plan, "%s takes the value and the expression to order by, as col(\"x\").%s(col(\"y\"))", inner.Agg, inner.Agg)
		}
		by, err := s.Compile(inner.Args[1])
		if err != nil {
			return Spec{}, err
		}
		spec.By = expr.DecodeDictionary(by)
		if storageOf(spec.By.Type()) == storNone {
			return Spec{}, s.Errorf(rberr.Type, "%s cannot order by %s of type %s", inner.Agg, spec.By, expr.TypeName(spec.By.Type()))
		}
	} else if len(inner.Args) != 1 {
		return Spec{}, s.Errorf(rberr.Plan, "%s takes exactly one expression", inner.Agg)
	}
	arg, err := s.Compile(inner.Args[0])
	if err != nil {
		return Spec{}, err
	}
	arg = expr.DecodeDictionary(arg)
	spec.Arg = arg
	t := arg.Type()
	bad := func(what string) error {
		if t.ID() == arrow.DECIMAL256 {
			return s.Errorf(rberr.Type, "cannot take the %s of %s: decimal256 columns are read but not computed on yet; cast it to rb.Decimal(38, s) or rb.Float64 first", inner.Agg, arg)
		}
		return s.Errorf(rberr.Type, "cannot take the %s of %s: it is %s, %s needs a numeric column", inner.Agg, arg, expr.TypeName(t), what)
	}
	switch inner.Agg {
	case "count", "n_unique":
		if inner.Agg == "n_unique" && !expr.HashableType(t) {
			return Spec{}, s.Errorf(rberr.Type, "cannot count distinct values of %s of type %s", arg, expr.TypeName(t))
		}
		spec.OutType = arrow.PrimitiveTypes.Int64
	case "sum":
		switch {
		case t.ID() == arrow.NULL:
			spec.OutType = arrow.PrimitiveTypes.Int64
		case t.ID() == arrow.DECIMAL128:
			spec.OutType = expr.DecType(expr.MaxDecPrecision, t.(*arrow.Decimal128Type).Scale)
		case expr.IsFloat(t):
			spec.OutType = arrow.PrimitiveTypes.Float64
		case expr.IsInteger(t) && !expr.IsSigned(t):
			spec.OutType = arrow.PrimitiveTypes.Uint64
		case expr.IsInteger(t) || t.ID() == arrow.BOOL:
			spec.OutType = arrow.PrimitiveTypes.Int64
		default:
			return Spec{}, bad("sum")
		}
	case "mean":
		if !expr.IsNumeric(t) && t.ID() != arrow.BOOL && t.ID() != arrow.NULL && t.ID() != arrow.DECIMAL128 {
			return Spec{}, bad("mean")
		}
		spec.OutType = arrow.PrimitiveTypes.Float64
	case "std", "var", "median", "quantile":
		if !expr.IsNumeric(t) && t.ID() != arrow.BOOL && t.ID() != arrow.NULL && t.ID() != arrow.DECIMAL128 {
			return Spec{}, bad(inner.Agg)
		}
		spec.OutType = arrow.PrimitiveTypes.Float64
	case "approx_n_unique":
		if !expr.HashableType(t) {
			return Spec{}, s.Errorf(rberr.Type, "cannot count distinct values of %s of type %s", arg, expr.TypeName(t))
		}
		spec.OutType = arrow.PrimitiveTypes.Int64
	case "any", "all":
		if t.ID() != arrow.BOOL && t.ID() != arrow.NULL {
			return Spec{}, s.Errorf(rberr.Type, "%s of %s needs a boolean column, got %s", inner.Agg, arg, expr.TypeName(t))
		}
		spec.OutType = arrow.FixedWidthTypes.Boolean
	case "arg_max", "arg_min":
		if storageOf(t) == storNone {
			return Spec{}, s.Errorf(rberr.Type, "%s of %s is not supported for type %s", inner.Agg, arg, expr.TypeName(t))
		}
		spec.OutType = arrow.PrimitiveTypes.Int64
	case "min", "max", "first", "last", "max_by", "min_by":
		if storageOf(t) == storNone {
			return Spec{}, s.Errorf(rberr.Type, "%s of %s is not supported for type %s", inner.Agg, arg, expr.TypeName(t))
		}
		spec.OutType = t
	}
	return spec, nil
}

// storage is how an accumulator keeps values of a column type.
type storage uint8

const (
	storNone  storage = iota
	storInt           // signed ints, bool, dates, timestamps, durations: int64
	storUint          // unsigned ints: uint64
	storFloat         // float32/64: float64
	storStr           // strings and binary: string
	storDec           // decimal128: 16 bytes in an order-preserving encoding, as a string
	storNull          // the null type: nothing to keep
)

func storageOf(t arrow.DataType) storage {
	switch {
	case t.ID() == arrow.NULL:
		return storNull
	case t.ID() == arrow.DECIMAL128:
		return storDec
	case expr.IsFloat(t):
		return storFloat
	case expr.IsInteger(t) && !expr.IsSigned(t):
		return storUint
	case expr.IsString(t) || t.ID() == arrow.BINARY:
		return storStr
	case expr.IsInteger(t) || t.ID() == arrow.BOOL || expr.IsTemporal(t):
		return storInt
	}
	return storNone
}

// accumulator keeps one aggregation's per-group state in slices indexed by group id.
type accumulator interface {
	// update folds the rows of col (nil for count()) into groups ids; seq orders batches
	// for first/last.
	update(ec *expr.EvalCtx, ids []uint32, ngroups int, col arrow.Array, seq runtime.Seq) error
	// result builds the output column for the given groups, in that order.
	result(mem memory.Allocator, gids []uint32) (arrow.Array, error)
	// Merge folds group src into group dst (merging session windows).
	Merge(dst, src uint32)
	// Reset clears a group so that its id can be reused.
	Reset(g uint32)
	// save appends the state of group g to dst (layout: state.go); load sets group g from
	// it, growing the state to ng groups.
	save(dst []byte, g uint32) ([]byte, error)
	load(src []byte, g uint32, ng int) error
}

// pairAccumulator is an accumulator over two columns (max_by, min_by: the value and the
// ordering column by).
type pairAccumulator interface {
	updatePair(ec *expr.EvalCtx, ids []uint32, ngroups int, col, by arrow.Array, seq runtime.Seq) error
}

var errNeedsBy = rberr.New(rberr.Internal, "an aggregation over two columns was given one")

// allGroups returns 0, 1, ..., n-1.
func allGroups(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// maxGid is one more than the largest group id of gids (0 for none).
func maxGid(gids []uint32) int {
	if len(gids) == 0 {
		return 0
	}
	return int(vec.MaxUint32(gids)) + 1
}

func newAccumulator(spec Spec) accumulator {
	if spec.Arg == nil {
		return &countAcc{star: true}
	}
	in := spec.Arg.Type()
	switch spec.Fn {
	case "count":
		return &countAcc{}
	case "n_unique":
		return newDistinctAcc(in)
	case "std", "var":
		return &varAcc{std: spec.Fn == "std", ddof: spec.Ddof}
	case "median", "quantile":
		return &quantAcc{q: spec.Quantile, interp: spec.Interp}
	case "approx_n_unique":
		return &hllAcc{}
	case "any", "all":
		return &boolAcc{all: spec.Fn == "all", ignoreNulls: spec.IgnoreNulls}
	case "max_by", "min_by":
		return &byAcc{max: spec.Fn == "max_by", out: spec.OutType,
			key: valStore{stor: storageOf(spec.By.Type())}, val: valStore{stor: storageOf(in)}}
	case "arg_max", "arg_min":
		return &argAcc{max: spec.Fn == "arg_max", key: valStore{stor: storageOf(in)}}
	case "sum", "mean":
		acc := &sumAcc{mean: spec.Fn == "mean", stor: storageOf(in), out: spec.OutType, what: fmt.Sprintf("%s of %s", spec.Fn, spec.Arg)}
		if d, ok := in.(*arrow.Decimal128Type); ok {
			acc.scale = d.Scale
		}
		return acc
	default:
		return &pickAcc{fn: spec.Fn, stor: storageOf(in), out: spec.OutType}
	}
}

// countAcc counts rows (count()) or non-null values (count(col)).
type countAcc struct {
	star bool
	n    []int64
}

func (a *countAcc) update(_ *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	a.n = expr.Grow(a.n, ng)
	if !a.star && col.DataType().ID() == arrow.NULL {
		return nil // every value of a null-typed column is null
	}
	if a.star || col.NullN() == 0 {
		for _, g := range ids {
			a.n[g]++
		}
		return nil
	}
	for i, g := range ids {
		if col.IsValid(i) {
			a.n[g]++
		}
	}
	return nil
}

func (a *countAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	a.n = expr.Grow(a.n, maxGid(gids))
	return expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, pick(a.n, gids), nil), nil
}

func (a *countAcc) Merge(dst, src uint32) {
	a.n = expr.Grow(a.n, int(max(dst, src))+1)
	a.n[dst] += a.n[src]
}
func (a *countAcc) Reset(g uint32) {
	if int(g) < len(a.n) {
		a.n[g] = 0
	}
}

// pick gathers s[g] for each g of gids. For every group in order (a table's whole
// result) it is s itself, not a copy: callers only read it.
func pick[T any](s []T, gids []uint32) []T {
	if len(gids) <= len(s) && inOrder(gids) {
		return s[:len(gids):len(gids)]
	}
	out := make([]T, len(gids))
	for i, g := range gids {
		out[i] = s[g]
	}
	return out
}

// inOrder reports whether gids is 0, 1, ..., len(gids)-1.
func inOrder(gids []uint32) bool {
	for i, g := range gids {
		if g != uint32(i) {
			return false
		}
	}
	return true
}

// sumAcc computes sum or mean. A group with no non-null value gets null (as SQL and
// pyarrow do).
//
// Integer and decimal sums are checked: a sum that leaves its type (int64, uint64,
// decimal128(38, s)) is a DataError, never a wrapped value. An integer sum is checked
// once, at its result: while rows are folded in, the part of a running total that leaves
// int64 (uint64) is spilled into d, so that whether a job fails does not depend on the
// order of its rows or how they split over subtasks ([max, 1, -5] sums to max-4, as in
// DuckDB, which sums in 128 bits).
type sumAcc struct {
	mean  bool
	stor  storage
	out   arrow.DataType
	what  string // "sum of col(...)", for errors
	scale int32  // of a decimal input
	i     []int64
	u     []uint64
	f     []float64
	d     []decimal128.Num
	cnt   []int64
	err   error          // an overflow found while merging groups
	rf    *retractFloats // a float sum or mean of an updating input (retractfloat.go), or nil
}

// exact reports whether the accumulator sums in decimal128 (decimal input).
func (a *sumAcc) exact() bool { return a.stor == storDec }

// wide reports whether this is a sum or mean of integers: summed exactly in int64
// (uint64) with the part that overflows them spilled into d. A mean of integers is so
// summed as DuckDB's avg (not in float64, which loses low digits).
func (a *sumAcc) wide() bool { return a.stor == storInt || a.stor == storUint }

// intMean reports whether this is the mean of integers.
func (a *sumAcc) intMean() bool { return a.mean && a.wide() }

// spilled reports whether some group's sum has a part in d (a sum of integers whose
// running total left int64 or uint64 at some point).
func (a *sumAcc) spilled() bool { return a.wide() && a.d != nil }

// spill adds n to the spilled part of group g's sum.
func (a *sumAcc) spill(g uint32, n decimal128.Num) {
	a.d = expr.Grow(a.d, max(len(a.cnt), int(g)+1))
	a.d[g], _ = expr.DecAdd(a.d[g], n)
}

// exactSum is the whole sum of group g of an integer mean.
func (a *sumAcc) exactSum(g uint32) decimal128.Num {
	var t decimal128.Num
	if int(g) < len(a.d) {
		t = a.d[g]
	}
	if a.stor == storUint && int(g) < len(a.u) {
		t, _ = expr.DecAdd(t, decimal128.FromU64(a.u[g]))
	} else if int(g) < len(a.i) {
		t, _ = expr.DecAdd(t, decimal128.FromI64(a.i[g]))
	}
	return t
}

func (a *sumAcc) overflow() error {
	if a.mean {
		// The mean itself fits; the exact sum it is computed from does not.
		return rberr.New(rberr.Data, "%s: the exact sum of its values does not fit in 38 decimal digits (means of integers and decimals are summed exactly; cast the column to float64 first to average approximately)", a.what)
	}
	return rberr.New(rberr.Data, "%s overflows %s (integer and decimal sums are checked; cast the column to float64 first to sum approximately)", a.what, expr.TypeName(a.out))
}

func (a *sumAcc) update(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	a.cnt = expr.Grow(a.cnt, ng)
	if a.stor == storNull {
		return nil
	}
	nulls := col.NullN() > 0
	if a.exact() {
		vals, _, err := expr.DecimalsOf(ec, col)
		if err != nil {
			return err
		}
		a.d = expr.Grow(a.d, ng)
		for i, g := range ids {
			if !nulls || col.IsValid(i) {
				s, ok := expr.DecAdd(a.d[g], vals[i])
				if !ok {
					return a.overflow()
				}
				a.d[g] = s
				a.cnt[g]++
			}
		}
		return nil
	}
	if a.stor == storFloat {
		vals, err := expr.AsFloat64(col)
		if err != nil {
			return err
		}
		a.f = expr.Grow(a.f, ng)
		for i, g := range ids {
			if !nulls || col.IsValid(i) {
				if a.rf != nil {
					a.addFloat(g, ng, vals[i], 1)
				} else {
					a.f[g] += vals[i]
				}
				a.cnt[g]++
			}
		}
		return nil
	}
	if a.stor == storUint {
		c, err := compute.CastToType(ec.Ctx, col, arrow.PrimitiveTypes.Uint64)
		if err != nil {
			return err
		}
		defer c.Release()
		vals := c.(*array.Uint64).Uint64Values()
		a.u = expr.Grow(a.u, ng)
		for i, g := range ids {
			if !nulls || col.IsValid(i) {
				v := vals[i]
				s := a.u[g] + v
				if s < v {
					a.spill(g, decimal128.FromU64(a.u[g]))
					s = v
				}
				a.u[g] = s
				a.cnt[g]++
			}
		}
		return nil
	}
	vals, err := expr.AsInt64(col)
	if err != nil {
		return err
	}
	a.i = expr.Grow(a.i, ng)
	for i, g := range ids {
		if !nulls || col.IsValid(i) {
			v, x := vals[i], a.i[g]
			s := x + v
			if (s^x)&(s^v) < 0 { // signed overflow
				a.spill(g, decimal128.FromI64(x))
				s = v
			}
			a.i[g] = s
			a.cnt[g]++
		}
	}
	return nil
}

func (a *sumAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	if a.err != nil {
		return nil, a.err
	}
	n := maxGid(gids)
	a.cnt = expr.Grow(a.cnt, n)
	valid := make([]bool, len(gids))
	for i, g := range gids {
		valid[i] = a.cnt[g] > 0
	}
	switch {
	case a.stor == storNull:
		return array.MakeArrayOfNull(mem, a.out, len(gids)), nil
	case a.exact() && a.mean:
		a.d = expr.Grow(a.d, n)
		out := make([]float64, len(gids))
		for i, g := range gids {
			if valid[i] {
				out[i] = expr.DecMeanFloat(a.d[g], a.scale, a.cnt[g])
			}
		}
		return expr.Float64Array(mem, out, valid), nil
	case a.intMean():
		out := make([]float64, len(gids))
		for i, g := range gids {
			if valid[i] {
				out[i] = expr.DecMeanFloat(a.exactSum(g), 0, a.cnt[g])
			}
		}
		return expr.Float64Array(mem, out, valid), nil
	case a.stor == storDec:
		a.d = expr.Grow(a.d, n)
		return expr.DecimalArray(mem, a.out.(*arrow.Decimal128Type), len(gids), valid, func(i int) decimal128.Num {
			return a.d[gids[i]]
		}), nil
	case a.mean:
		a.f = expr.Grow(a.f, n)
		out := make([]float64, len(gids))
		for i, g := range gids {
			if valid[i] {
				out[i] = a.floatSum(g) / float64(a.cnt[g])
			}
		}
		return expr.Float64Array(mem, out, valid), nil
	case a.stor == storFloat && a.rf != nil:
		out := make([]float64, len(gids))
		for i, g := range gids {
			out[i] = a.floatSum(g)
		}
		return expr.Float64Array(mem, out, valid), nil
	case a.stor == storFloat:
		a.f = expr.Grow(a.f, n)
		return expr.Float64Array(mem, pick(a.f, gids), valid), nil
	case a.spilled():
		return a.wideResult(mem, gids, valid)
	case a.stor == storUint:
		a.u = expr.Grow(a.u, n)
		u := pick(a.u, gids)
		return expr.Int64Array(mem, a.out, *(*[]int64)(unsafe.Pointer(&u)), valid), nil
	}
	a.i = expr.Grow(a.i, n)
	return expr.Int64Array(mem, a.out, pick(a.i, gids), valid), nil
}

// wideResult is the result of an integer sum some of whose groups spilled: each group's
// whole sum, or the overflow error when one leaves the output type.
func (a *sumAcc) wideResult(mem memory.Allocator, gids []uint32, valid []bool) (arrow.Array, error) {
	out := make([]int64, len(gids))
	for i, g := range gids {
		if !valid[i] {
			continue
		}
		v, ok := a.fit(a.exactSum(g))
		if !ok {
			return nil, a.overflow()
		}
		out[i] = v
	}
	return expr.Int64Array(mem, a.out, out, valid), nil
}

// fit is whole sum t as the 64 bits of the output (int64, or uint64's bits), or ok false
// when it does not fit.
func (a *sumAcc) fit(t decimal128.Num) (int64, bool) {
	lo, hi := t.LowBits(), t.HighBits()
	if a.stor == storUint {
		return int64(lo), hi == 0
	}
	return int64(lo), hi == int64(lo)>>63
}

func (a *sumAcc) Merge(dst, src uint32) {
	n := int(max(dst, src)) + 1
	a.cnt = expr.Grow(a.cnt, n)
	a.cnt[dst] += a.cnt[src]
	switch {
	case a.stor == storNull:
	case a.intMean() || a.spilled():
		a.mergeWide(dst, src, n)
	case a.exact():
		a.d = expr.Grow(a.d, n)
		s, ok := expr.DecAdd(a.d[dst], a.d[src])
		if !ok && a.err == nil {
			a.err = a.overflow()
		}
		a.d[dst] = s
	case a.mean || a.stor == storFloat:
		a.f = expr.Grow(a.f, n)
		a.f[dst] += a.f[src]
		if a.rf != nil {
			a.rf.merge(dst, src, n)
		}
	case a.stor == storUint:
		a.u = expr.Grow(a.u, n)
		if s := a.u[dst] + a.u[src]; s >= a.u[src] {
			a.u[dst] = s
			return
		}
		a.mergeWide(dst, src, n)
	default:
		a.i = expr.Grow(a.i, n)
		x, y := a.i[dst], a.i[src]
		if s := x + y; (s^x)&(s^y) >= 0 {
			a.i[dst] = s
			return
		}
		a.mergeWide(dst, src, n)
	}
}

// mergeWide merges the whole sums of groups src and dst of an integer sum or mean into
// dst, its spilled part in d.
func (a *sumAcc) mergeWide(dst, src uint32, n int) {
	total, ok := expr.DecAdd(a.exactSum(dst), a.exactSum(src))
	if !ok && a.err == nil {
		a.err = a.overflow()
	}
	a.d = expr.Grow(a.d, n)
	a.i, a.u = expr.Grow(a.i, n), expr.Grow(a.u, n)
	a.d[dst], a.i[dst], a.u[dst] = total, 0, 0
}

func (a *sumAcc) Reset(g uint32) {
	if int(g) < len(a.cnt) {
		a.cnt[g] = 0
	}
	if int(g) < len(a.f) {
		a.f[g] = 0
	}
	if int(g) < len(a.u) {
		a.u[g] = 0
	}
	if int(g) < len(a.i) {
		a.i[g] = 0
	}
	if int(g) < len(a.d) {
		a.d[g] = decimal128.Num{}
	}
	if a.rf != nil {
		a.rf.reset(g)
	}
}

// pickAcc keeps one value per group: min, max, first or last (nulls are skipped).
type pickAcc struct {
	fn   string
	stor storage
	out  arrow.DataType
	set  []bool
	seq  []runtime.Seq // first and last: batch order of the kept value
	row  []uint32      // first and last: row within that batch
	i    []int64
	u    []uint64
	f    []float64
	s    []string
}

// ordered reports whether the kept value depends on the order of rows (first, last): only
// then are positions kept (min and max keep none: 28 bytes a group less to grow and clear).
func (a *pickAcc) ordered() bool { return a.fn == "first" || a.fn == "last" }

// grow makes room for n groups.
func (a *pickAcc) grow(n int) {
	a.set = expr.Grow(a.set, n)
	if a.ordered() {
		a.seq = expr.Grow(a.seq, n)
		a.row = expr.Grow(a.row, n)
	}
}

// pos is the input position of group g's kept value (zero for min and max).
func (a *pickAcc) pos(g uint32) (runtime.Seq, uint32) {
	if int(g) < len(a.seq) {
		return a.seq[g], a.row[g]
	}
	return runtime.Seq{}, 0
}

func (a *pickAcc) update(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, seq runtime.Seq) error {
	a.grow(ng)
	switch a.stor {
	case storNull:
		return nil
	case storDec:
		vals := make([]string, col.Len())
		for i, v := range col.(*array.Decimal128).Values() {
			vals[i] = expr.DecKey(v)
		}
		a.s = expr.Grow(a.s, ng)
		pickInto(a, ids, vals, col, a.s, seq, func(v string) string { return v })
	case storFloat:
		vals, err := expr.AsFloat64(col)
		if err != nil {
			return err
		}
		a.f = expr.Grow(a.f, ng)
		pickInto(a, ids, vals, col, a.f, seq, func(v float64) float64 { return v })
	case storUint:
		c, err := compute.CastToType(ec.Ctx, col, arrow.PrimitiveTypes.Uint64)
		if err != nil {
			return err
		}
		defer c.Release()
		a.u = expr.Grow(a.u, ng)
		pickInto(a, ids, c.(*array.Uint64).Uint64Values(), col, a.u, seq, func(v uint64) uint64 { return v })
	case storStr:
		value := expr.StringAt(col)
		if b, ok := col.(*array.Binary); ok {
			value = b.ValueString
		}
		vals := make([]string, col.Len())
		for i := range vals {
			vals[i] = value(i)
		}
		a.s = expr.Grow(a.s, ng)
		// Values are views into the batch: clone the ones that are kept.
		pickInto(a, ids, vals, col, a.s, seq, func(v string) string { return string([]byte(v)) })
	default:
		vals, err := expr.AsInt64(col)
		if err != nil {
			return err
		}
		a.i = expr.Grow(a.i, ng)
		pickInto(a, ids, vals, col, a.i, seq, func(v int64) int64 { return v })
	}
	return nil
}

// pickInto folds vals into the per-group store for min, max, first or last, skipping nulls.
func pickInto[T cmp.Ordered](a *pickAcc, ids []uint32, vals []T, col arrow.Array, store []T, seq runtime.Seq, keep func(T) T) {
	nulls := col.NullN() > 0
	if !a.ordered() {
		// min and max: no positions to keep.
		isMax := a.fn == "max"
		for i, g := range ids {
			if nulls && col.IsNull(i) {
				continue
			}
			if v := vals[i]; !a.set[g] || (isMax && less(store[g], v)) || (!isMax && less(v, store[g])) {
				store[g], a.set[g] = keep(v), true
			}
		}
		return
	}
	for i, g := range ids {
		if nulls && col.IsNull(i) {
			continue
		}
		if v := vals[i]; !a.set[g] || replaces(a.fn, v, store[g], seq, uint32(i), a.seq[g], a.row[g]) {
			store[g], a.set[g], a.seq[g], a.row[g] = keep(v), true, seq, uint32(i)
		}
	}
}

// replaces reports whether a candidate value (at input position seq, row) replaces the
// kept one. Floats order NaN above every number (as DuckDB and PostgreSQL do), so the
// result does not depend on the order rows arrive in; first and last compare positions.
func replaces[T cmp.Ordered](fn string, v, kept T, seq runtime.Seq, row uint32, keptSeq runtime.Seq, keptRow uint32) bool {
	earlier := seq.Less(keptSeq) || (seq == keptSeq && row < keptRow)
	switch fn {
	case "min":
		return less(v, kept)
	case "max":
		return less(kept, v)
	case "first":
		return earlier
	}
	return !earlier
}

// less is < with NaN (x != x) ordered after every other value.
func less[T cmp.Ordered](a, b T) bool {
	aNaN, bNaN := a != a, b != b
	if aNaN || bNaN {
		return !aNaN && bNaN
	}
	return a < b
}

func (a *pickAcc) Merge(dst, src uint32) {
	n := int(max(dst, src)) + 1
	a.grow(n)
	if !a.set[src] {
		return
	}
	take := !a.set[dst]
	sSeq, sRow := a.pos(src)
	dSeq, dRow := a.pos(dst)
	switch a.stor {
	case storFloat:
		a.f = expr.Grow(a.f, n)
		take = take || replaces(a.fn, a.f[src], a.f[dst], sSeq, sRow, dSeq, dRow)
		if take {
			a.f[dst] = a.f[src]
		}
	case storUint:
		a.u = expr.Grow(a.u, n)
		take = take || replaces(a.fn, a.u[src], a.u[dst], sSeq, sRow, dSeq, dRow)
		if take {
			a.u[dst] = a.u[src]
		}
	case storStr, storDec:
		a.s = expr.Grow(a.s, n)
		take = take || replaces(a.fn, a.s[src], a.s[dst], sSeq, sRow, dSeq, dRow)
		if take {
			a.s[dst] = a.s[src]
		}
	default:
		a.i = expr.Grow(a.i, n)
		take = take || replaces(a.fn, a.i[src], a.i[dst], sSeq, sRow, dSeq, dRow)
		if take {
			a.i[dst] = a.i[src]
		}
	}
	if take {
		a.set[dst] = true
		if a.ordered() {
			a.seq[dst], a.row[dst] = sSeq, sRow
		}
	}
}

func (a *pickAcc) Reset(g uint32) {
	if int(g) < len(a.set) {
		a.set[g] = false
	}
	if int(g) < len(a.s) {
		a.s[g] = ""
	}
}

func (a *pickAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	n := maxGid(gids)
	a.set = expr.Grow(a.set, n)
	valid := pick(a.set, gids)
	switch a.stor {
	case storNull:
		return array.MakeArrayOfNull(mem, a.out, len(gids)), nil
	case storDec:
		a.s = expr.Grow(a.s, n)
		return expr.DecimalArray(mem, a.out.(*arrow.Decimal128Type), len(gids), valid, func(i int) decimal128.Num {
			return expr.DecFromKey(a.s[gids[i]])
		}), nil
	case storFloat:
		a.f = expr.Grow(a.f, n)
		f := expr.Float64Array(mem, pick(a.f, gids), valid)
		if a.out.ID() == arrow.FLOAT64 {
			return f, nil
		}
		defer f.Release()
		return compute.CastToType(compute.WithAllocator(context.Background(), mem), f, a.out)
	case storUint:
		a.u = expr.Grow(a.u, n)
		u := pick(a.u, gids)
		return expr.Int64Array(mem, a.out, *(*[]int64)(unsafe.Pointer(&u)), valid), nil
	case storStr:
		a.s = expr.Grow(a.s, n)
		b := array.NewBuilder(mem, a.out)
		defer b.Release()
		for i, g := range gids {
			if !valid[i] {
				b.AppendNull()
				continue
			}
			switch bb := b.(type) {
			case *array.StringBuilder:
				bb.Append(a.s[g])
			case *array.LargeStringBuilder:
				bb.Append(a.s[g])
			case *array.BinaryBuilder:
				bb.AppendString(a.s[g])
			}
		}
		return b.NewArray(), nil
	}
	a.i = expr.Grow(a.i, n)
	if a.out.ID() == arrow.BOOL {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		for i, g := range gids {
			if valid[i] {
				b.Append(a.i[g] != 0)
			} else {
				b.AppendNull()
			}
		}
		return b.NewArray(), nil
	}
	return expr.Int64Array(mem, a.out, pick(a.i, gids), valid), nil
}

// ShareArgs makes the subexpressions that several aggregations' inputs have in common
// one shared subexpression (expr.Share), evaluated once per batch: sum(a * b) and
// sum(a * b * c) compute a * b once.
func ShareArgs(specs []Spec) {
	var es []expr.Expr
	for _, s := range specs {
		if s.Arg != nil {
			es = append(es, s.Arg)
		}
		if s.By != nil {
			es = append(es, s.By)
		}
	}
	es = expr.Share(es)
	for i := range specs {
		if specs[i].Arg != nil {
			specs[i].Arg, es = es[0], es[1:]
		}
		if specs[i].By != nil {
			specs[i].By, es = es[0], es[1:]
		}
	}
}
