package agg

import (
	"context"
	"math"
	"math/big"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// A float sum and mean over an updating input are those of the rows left, not the
// remains of subtractions: NaN and infinities leave with their rows (NaN - NaN is NaN),
// and a huge value taken back leaves the small ones exact (1e20 + 1 - 1e20 is 1, 0 by
// plain subtraction). The reference sums the rows left exactly (big.Float, NaN and
// infinities by IEEE rules); the state goes through a save and load halfway.
func TestRetractedFloatSumsAreOfTheRowsLeft(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	aggs := [][2]string{{"sum", "f"}, {"mean", "f"}, {"count", "f"}}
	newTab := func() *Table {
		plain := rowTable(t, aggs)
		defer plain.Release()
		return NewRetractTable("test", plain.keys, plain.keyTypes, plain.aggs, -1)
	}
	tab := newTab()
	defer func() { tab.Release() }()
	vals := []float64{1e20, -1e20, 1, 1.5, -2.25, 3, math.NaN(), math.Inf(1), math.Inf(-1), 7e15}
	rng := rand.New(rand.NewSource(3))
	held := map[int64][]float64{}
	batch := func(k int64, v float64) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, rowSchema)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).Append(k)
		b.Field(1).AppendNull()
		b.Field(2).AppendNull()
		b.Field(3).(*array.Float64Builder).Append(v)
		b.Field(4).AppendNull()
		return b.NewRecordBatch()
	}
	ref := func(rows []float64) (sum, mean float64) {
		nan, pinf, ninf := false, false, false
		exact := new(big.Float).SetPrec(4096)
		for _, v := range rows {
			switch {
			case math.IsNaN(v):
				nan = true
			case math.IsInf(v, 1):
				pinf = true
			case math.IsInf(v, -1):
				ninf = true
			default:
				exact.Add(exact, new(big.Float).SetFloat64(v))
			}
		}
		switch {
		case nan || pinf && ninf:
			sum = math.NaN()
		case pinf:
			sum = math.Inf(1)
		case ninf:
			sum = math.Inf(-1)
		default:
			sum, _ = exact.Float64()
		}
		return sum, sum / float64(len(rows))
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for step := range 600 {
		k := int64(rng.Intn(3))
		if len(held[k]) > 0 && rng.Intn(5) < 2 {
			i := rng.Intn(len(held[k]))
			rec := batch(k, held[k][i])
			ids := make([]uint32, 1)
			tab.Lookup(rec.Columns()[:1], ids)
			if err := tab.Retract(ec, rec, ids); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			held[k] = append(held[k][:i:i], held[k][i+1:]...)
		} else {
			v := vals[rng.Intn(len(vals))]
			rec := batch(k, v)
			if _, err := tab.Consume(ec, rec, runtime.MakeSeq(0, int64(step), 0)); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			held[k] = append(held[k], v)
		}
		if step == 300 { // through a save and load
			keys, accs, err := tab.SaveGroups(mem, nil)
			if err != nil {
				t.Fatal(err)
			}
			tab.Release()
			tab = newTab()
			if _, err := tab.LoadGroups(ec.Ctx, keys, accs); err != nil {
				t.Fatal(err)
			}
			runtime.ReleaseAll(keys)
			runtime.ReleaseAll(accs)
		}
		keys, err := tab.KeyColumns(mem, nil)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := tab.AggColumns(mem, nil)
		if err != nil {
			t.Fatal(err)
		}
		for g, key := range keys[0].(*array.Int64).Int64Values() {
			rows := held[key]
			if len(rows) == 0 {
				continue
			}
			wantSum, wantMean := ref(rows)
			gotSum, gotMean := cols[0].(*array.Float64).Value(g), cols[1].(*array.Float64).Value(g)
			if !same(gotSum, wantSum) || !same(gotMean, wantMean) {
				t.Fatalf("step %d key %d rows %v: sum %v mean %v, want %v %v", step, key, rows, gotSum, gotMean, wantSum, wantMean)
			}
		}
		runtime.ReleaseAll(keys)
		runtime.ReleaseAll(cols)
	}
}
