package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// makeInput builds a table of (user_id int64, amount float64 with nulls, name utf8) split
// into several batches, and returns it together with plain Go copies of the values.
func makeInput(mem memory.Allocator, rows, batches int, seed int64) (arrow.Table, []int64, []*float64) {
	rng := rand.New(rand.NewSource(seed))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String},
	}, nil)
	var recs []arrow.RecordBatch
	var ids []int64
	var amounts []*float64
	per := rows / batches
	for b := 0; b < batches; b++ {
		bld := array.NewRecordBuilder(mem, schema)
		for i := 0; i < per; i++ {
			id := rng.Int63n(50)
			bld.Field(0).(*array.Int64Builder).Append(id)
			ids = append(ids, id)
			if rng.Intn(10) == 0 {
				bld.Field(1).(*array.Float64Builder).AppendNull()
				amounts = append(amounts, nil)
			} else {
				v := float64(rng.Intn(2000)-500) / 10
				bld.Field(1).(*array.Float64Builder).Append(v)
				amounts = append(amounts, &v)
			}
			bld.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("u%d", id))
		}
		recs = append(recs, bld.NewRecordBatch())
		bld.Release()
	}
	tbl := array.NewTableFromRecords(schema, recs)
	for _, r := range recs {
		r.Release()
	}
	return tbl, ids, amounts
}

func runPlan(t *testing.T, mem memory.Allocator, plan string, inputs ...arrow.Table) []arrow.RecordBatch {
	t.Helper()
	readers := make([]array.RecordReader, len(inputs))
	for i, tbl := range inputs {
		readers[i] = array.NewTableReader(tbl, 1000)
	}
	job, err := Start(context.Background(), []byte(plan), readers, mem)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	var out []arrow.RecordBatch
	for {
		rec, err := job.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		out = append(out, rec)
	}
	return out
}

func TestFilterGroupBy(t *testing.T) {
	for _, par := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("p", par), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			tbl, ids, amounts := makeInput(mem, 20000, 7, 1)
			defer tbl.Release()
			plan := fmt.Sprintf(`{"version":1,"options":{"parallelism":%d,"batch_size":700},"root":
			{"op":"aggregate","keys":[{"col":"user_id"}],
			 "aggs":[{"alias":"n","args":[{"agg":"count"}]},{"alias":"total","args":[{"agg":"sum","args":[{"col":"amount"}]}]},
			         {"alias":"first","args":[{"agg":"first","args":[{"col":"amount"}]}]}],
			 "input":{"op":"filter","predicate":{"fn":"gt","args":[{"col":"amount"},{"lit":0,"type":"int64"}]},
			   "input":{"op":"scan_arrow","source":0}}}}`, par)
			out := runPlan(t, mem, plan, tbl)
			got := map[int64][3]float64{}
			for _, rec := range out {
				k := rec.Column(0).(*array.Int64)
				n := rec.Column(1).(*array.Int64)
				s := rec.Column(2).(*array.Float64)
				f := rec.Column(3).(*array.Float64)
				for i := 0; i < int(rec.NumRows()); i++ {
					if _, dup := got[k.Value(i)]; dup {
						t.Fatalf("key %d twice", k.Value(i))
					}
					got[k.Value(i)] = [3]float64{float64(n.Value(i)), s.Value(i), f.Value(i)}
				}
				rec.Release()
			}
			want := map[int64][3]float64{}
			for i, id := range ids {
				if amounts[i] == nil || *amounts[i] <= 0 {
					continue
				}
				w, ok := want[id]
				if !ok {
					w[2] = *amounts[i]
				}
				w[0]++
				w[1] += *amounts[i]
				want[id] = w
			}
			if len(got) != len(want) {
				t.Fatalf("got %d groups, want %d", len(got), len(want))
			}
			for k, w := range want {
				g := got[k]
				if g[0] != w[0] || g[2] != w[2] || (g[1]-w[1]) > 1e-6 || (w[1]-g[1]) > 1e-6 {
					t.Fatalf("key %d: got %v want %v", k, g, w)
				}
			}
		})
	}
}

func TestOrderPreservedAndLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tbl, ids, _ := makeInput(mem, 10000, 5, 2)
	defer tbl.Release()
	plan := `{"version":1,"options":{"parallelism":4,"batch_size":300},"root":
		{"op":"limit","n":7777,"input":{"op":"with_columns","exprs":[{"alias":"x","args":[{"fn":"mul","args":[{"col":"user_id"},{"lit":2,"type":"int64"}]}]}],
		 "input":{"op":"scan_arrow","source":0}}}}`
	out := runPlan(t, mem, plan, tbl)
	var got []int64
	for _, rec := range out {
		k := rec.Column(0).(*array.Int64)
		x := rec.Column(3).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			if x.Value(i) != 2*k.Value(i) {
				t.Fatalf("x != 2*user_id at row %d", len(got))
			}
			got = append(got, k.Value(i))
		}
		rec.Release()
	}
	if len(got) != 7777 {
		t.Fatalf("got %d rows, want 7777", len(got))
	}
	for i := range got {
		if got[i] != ids[i] {
			t.Fatalf("row %d: got %d want %d (order lost)", i, got[i], ids[i])
		}
	}
}

func TestBindErrors(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "amount", Type: arrow.PrimitiveTypes.Float64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	cases := map[string]string{
		`{"op":"filter","predicate":{"fn":"gt","args":[{"col":"amout"},{"lit":0,"type":"int64"}]},"input":{"op":"scan_arrow","source":0}}`:   `filter: no column "amout"; did you mean "amount"?`,
		`{"op":"filter","predicate":{"fn":"gt","args":[{"col":"name"},{"lit":0,"type":"int64"}]},"input":{"op":"scan_arrow","source":0}}`:    `filter: (col("name") > lit(0)): cannot compare col("name") (utf8) with lit(0) (int64)`,
		`{"op":"aggregate","keys":[{"col":"amount"}],"aggs":[{"agg":"sum","args":[{"col":"name"}]}],"input":{"op":"scan_arrow","source":0}}`: `aggregate: cannot take the sum of col("name"): it is utf8, sum needs a numeric column`,
	}
	for root, want := range cases {
		p, err := plan.ParsePlan([]byte(`{"version":1,"root":` + root + `}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Bind(p, []*arrow.Schema{schema})
		if err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}

func TestStringKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tbl, ids, _ := makeInput(mem, 5000, 3, 3)
	defer tbl.Release()
	plan := `{"version":1,"options":{"parallelism":2,"batch_size":333},"root":
		{"op":"aggregate","keys":[{"col":"name"}],"aggs":[{"alias":"n","args":[{"agg":"count"}]}],"input":{"op":"scan_arrow","source":0}}}`
	want := map[string]int64{}
	for _, id := range ids {
		want[fmt.Sprintf("u%d", id)]++
	}
	got := map[string]int64{}
	for _, rec := range runPlan(t, mem, plan, tbl) {
		k := rec.Column(0).(*array.String)
		n := rec.Column(1).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			got[k.Value(i)] += n.Value(i)
		}
		rec.Release()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
