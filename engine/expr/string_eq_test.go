package expr

import (
	"context"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// The string == / != literal kernel and is_in over few strings read rows straight from
// the offsets: checked against a plain comparison of each row, on sliced columns (an
// offset into shared buffers), with nulls, on either side of the operator.
func TestStringEqualsLiteralAgainstRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := &EvalCtx{Ctx: compute.WithAllocator(context.Background(), mem), Mem: mem}
	r := rand.New(rand.NewSource(5))
	words := []string{"", "a", "b", "ab", "AIR", "AIR REG", "DELIVER IN PERSON", "DELIVER IN PERSOM", "né", "ne", "ün"}
	for _, n := range []int{0, 1, 9, 200} {
		b := array.NewStringBuilder(mem)
		for i := 0; i < n+5; i++ {
			if r.Intn(6) == 0 {
				b.AppendNull()
			} else {
				b.Append(words[r.Intn(len(words))])
			}
		}
		whole := b.NewStringArray()
		b.Release()
		x := array.NewSlice(whole, 3, int64(3+n)).(*array.String)
		whole.Release()
		for _, lit := range words {
			for _, fn := range []string{"eq", "ne"} {
				for _, litFirst := range []bool{false, true} {
					args := []compute.Datum{compute.NewDatum(x), compute.NewDatum(scalar.NewStringScalar(lit))}
					if litFirst {
						args[0], args[1] = args[1], args[0]
					}
					k := stringEqualKernel(fn, func(*EvalCtx, []compute.Datum) (compute.Datum, error) {
						t.Fatal("the literal case fell back")
						return nil, nil
					})
					d, err := k(ec, args)
					for _, a := range args {
						a.Release()
					}
					if err != nil {
						t.Fatal(err)
					}
					got := d.(*compute.ArrayDatum).MakeArray().(*array.Boolean)
					d.Release()
					for i := 0; i < n; i++ {
						if x.IsNull(i) != got.IsNull(i) {
							t.Fatalf("n=%d %s %q row %d: null %v, want %v", n, fn, lit, i, got.IsNull(i), x.IsNull(i))
						}
						if x.IsValid(i) && got.Value(i) != ((x.Value(i) == lit) == (fn == "eq")) {
							t.Fatalf("n=%d %q %s %q (literal first %v): got %v", n, x.Value(i), fn, lit, litFirst, got.Value(i))
						}
					}
					got.Release()
				}
			}
		}
		listed := []arrow.Array{}
		want := map[string]bool{}
		for _, w := range words[r.Intn(3) : 3+r.Intn(5)] {
			sb := array.NewStringBuilder(mem)
			sb.Append(w)
			listed = append(listed, sb.NewArray())
			sb.Release()
			want[w] = true
		}
		got := memberOfFewStrings(ec, x, listed).(*array.Boolean)
		for i := 0; i < n; i++ {
			if x.IsNull(i) != got.IsNull(i) || x.IsValid(i) && got.Value(i) != want[x.Value(i)] {
				t.Fatalf("is_in row %d (%q, null %v): got %v, null %v", i, x.Value(i), x.IsNull(i), got.Value(i), got.IsNull(i))
			}
		}
		got.Release()
		for _, a := range listed {
			a.Release()
		}
		x.Release()
	}
}
