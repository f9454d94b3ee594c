package expr

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// when/then/otherwise, & and | with operands evaluated on the rows they decide only
// (lazy.go), against a row-by-row reference written with Go's regexp and strings and
// Kleene logic: random strings and numbers with nulls, conditions true on few rows, on
// most rows, on none and on all.
func TestConditionalsEvaluatedOnTheirRowsMatchRowByRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "pad", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rng := rand.New(rand.NewSource(7))
	const n = 600
	ss, xs := make([]*string, n), make([]*int64, n)
	b := array.NewRecordBuilder(mem, schema)
	for i := 0; i < n; i++ {
		if i%13 == 0 {
			b.Field(0).AppendNull()
		} else {
			var sb strings.Builder
			for k := rng.Intn(4); k >= 0; k-- {
				fmt.Fprintf(&sb, "&%c%c=%d", 'a'+rng.Intn(3), 'k'+rng.Intn(2), rng.Intn(30))
			}
			v := sb.String()
			ss[i] = &v
			b.Field(0).(*array.StringBuilder).Append(v)
		}
		if i%11 == 0 {
			b.Field(1).AppendNull()
		} else {
			v := int64(rng.Intn(21) - 10)
			xs[i] = &v
			b.Field(1).(*array.Int64Builder).Append(v)
		}
		b.Field(2).(*array.StringBuilder).Append("unread")
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	col := func(name string) *plan.Expr { return &plan.Expr{Col: &name} }
	lit := func(v int64) *plan.Expr { raw, _ := json.Marshal(v); return &plan.Expr{Lit: raw, Type: "int64"} }
	call := func(fn string, args ...*plan.Expr) *plan.Expr { return &plan.Expr{Fn: fn, Args: args} }
	extract := &plan.Expr{Fn: "str_extract", Args: []*plan.Expr{col("s")},
		Options: map[string]any{"pattern": `(&|^)ak=([0-9]*)`, "group_index": json.Number("2")}}
	contains := &plan.Expr{Fn: "str_contains", Args: []*plan.Expr{col("s")}, Options: map[string]any{"pattern": `b[kl]=1`}}
	reExtract, reContains := regexp.MustCompile(`(&|^)ak=([0-9]*)`), regexp.MustCompile(`b[kl]=1`)

	type want func(i int) (v any) // nil: null
	refExtract := func(i int) any {
		if ss[i] == nil {
			return nil
		}
		if m := reExtract.FindStringSubmatch(*ss[i]); m != nil {
			return m[2]
		}
		return nil
	}
	refContains := func(i int) any {
		if ss[i] == nil {
			return nil
		}
		return reContains.MatchString(*ss[i])
	}
	cmp := func(op string, c int64) func(i int) any {
		return func(i int) any {
			if xs[i] == nil {
				return nil
			}
			switch op {
			case "gt":
				return *xs[i] > c
			case "lt":
				return *xs[i] < c
			}
			return *xs[i] == c
		}
	}
	str := func(f func(string) string) func(i int) any {
		return func(i int) any {
			if ss[i] == nil {
				return nil
			}
			return f(*ss[i])
		}
	}
	kleene := func(or bool, a, c func(int) any) want {
		return func(i int) any {
			x, y := a(i), c(i)
			if or {
				if x == true || y == true {
					return true
				}
				if x == nil || y == nil {
					return nil
				}
				return false
			}
			if x == false || y == false {
				return false
			}
			if x == nil || y == nil {
				return nil
			}
			return true
		}
	}
	caseWhen := func(conds []func(int) any, values []func(int) any) want {
		return func(i int) any {
			for k, c := range conds {
				if c(i) == true {
					return values[k](i)
				}
			}
			if len(values) > len(conds) {
				return values[len(conds)](i)
			}
			return nil
		}
	}
	upper, lower := str(strings.ToUpper), str(strings.ToLower)
	cases := []struct {
		e    *plan.Expr
		want want
	}{
		{call("case_when", call("gt", col("x"), lit(3)), extract, call("lt", col("x"), lit(0)),
			call("str_upper", col("s")), call("str_lower", col("s"))),
			caseWhen([]func(int) any{cmp("gt", 3), cmp("lt", 0)}, []func(int) any{refExtract, upper, lower})},
		{call("case_when", call("gt", col("x"), lit(8)), extract), // few rows
			caseWhen([]func(int) any{cmp("gt", 8)}, []func(int) any{refExtract})},
		{call("case_when", call("gt", col("x"), lit(-10)), extract, extract), // most rows: evaluated whole
			caseWhen([]func(int) any{cmp("gt", -10)}, []func(int) any{refExtract, refExtract})},
		{call("case_when", call("gt", col("x"), lit(100)), extract, call("str_upper", col("s"))), // none, then all
			caseWhen([]func(int) any{cmp("gt", 100)}, []func(int) any{refExtract, upper})},
		{call("or", contains, call("gt", col("x"), lit(5))), kleene(true, refContains, cmp("gt", 5))},
		{call("or", call("lt", col("x"), lit(-20)), contains), kleene(true, cmp("lt", -20), refContains)},
		{call("and", call("lt", col("x"), lit(-2)), contains), kleene(false, cmp("lt", -2), refContains)},
		{call("and", contains, call("eq", col("x"), lit(1))), kleene(false, refContains, cmp("eq", 1))},
	}
	sc := &CompileScope{Schema: schema, Op: "select"}
	for k, c := range cases {
		e, err := sc.Compile(c.e)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.(*lazyCall); !ok {
			t.Fatalf("case %d: %s compiled to %T, want its costly operands evaluated on their rows", k, e, e)
		}
		d, err := e.Eval(ec, rec)
		if err != nil {
			t.Fatalf("case %d: %v", k, err)
		}
		got, err := DatumToArray(ec, d, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			w := c.want(i)
			var g any
			if got.IsValid(i) {
				switch a := got.(type) {
				case *array.String:
					g = a.Value(i)
				case *array.Boolean:
					g = a.Value(i)
				}
			}
			if g != w {
				t.Fatalf("case %d (%s), row %d (s=%v x=%v): got %v, want %v", k, e, i, deref(ss[i]), deref(xs[i]), g, w)
			}
		}
		got.Release()
	}
}

// A value that fails on some rows (a cast of text that is not a number) fails only where
// its condition picks it, as SQL's CASE: however few or many rows a batch has for it.
func TestConditionalValueFailsOnlyWhereItIsPicked(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	s := "s"
	isNum := &plan.Expr{Fn: "str_contains", Args: []*plan.Expr{{Col: &s}}, Options: map[string]any{"pattern": `^[0-9]+$`}}
	e := &plan.Expr{Fn: "case_when", Args: []*plan.Expr{isNum, {Cast: "int64", Args: []*plan.Expr{{Col: &s}}}}}
	c, err := (&CompileScope{Schema: schema, Op: "select"}).Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, numbers := range []int{1, 50, 99, 100} { // of 100 rows
		b := array.NewStringBuilder(mem)
		var want []any
		for i := 0; i < 100; i++ {
			if i < numbers {
				b.Append(strconv.Itoa(i))
				want = append(want, int64(i))
			} else {
				b.Append("not a number")
				want = append(want, nil)
			}
		}
		arr := b.NewArray()
		b.Release()
		rec := array.NewRecordBatch(schema, []arrow.Array{arr}, 100)
		arr.Release()
		d, err := c.Eval(ec, rec)
		if err != nil {
			t.Fatalf("%d numbers of 100: %v", numbers, err)
		}
		got, _ := DatumToArray(ec, d, 100)
		for i, w := range want {
			var g any
			if got.IsValid(i) {
				g = got.(*array.Int64).Value(i)
			}
			if g != w {
				t.Fatalf("%d numbers, row %d: got %v, want %v", numbers, i, g, w)
			}
		}
		got.Release()
		rec.Release()
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
