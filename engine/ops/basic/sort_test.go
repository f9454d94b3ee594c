package basic_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

type rowsOut struct{ rows []string }

func (c *rowsOut) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		c.rows = append(c.rows, opstest.Rows(m.Rec)...)
		m.Rec.Release()
	}
	return nil
}

// A sort gives back every byte it allocated: arrow-go's sort kernel does not free its
// scratch buffers (a multi-key sort, a key with nulls, several chunks), which the sort
// frees itself. Every case is checked against a plain-Go stable sort of the same rows.
func TestSortFreesWhatItAllocates(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	type row struct {
		k   any
		f   float64
		id  int64
		has bool // f not null
	}
	var all []row
	for i := range int64(300) {
		r := row{k: (i * 7) % 5, f: float64((i * 13) % 11), id: i, has: i%17 != 0}
		if i%9 == 0 {
			r.k = nil
		}
		if i%23 == 0 {
			r.f = math.NaN()
		}
		all = append(all, r)
	}
	batches := func(size int) []arrow.RecordBatch {
		var out []arrow.RecordBatch
		for at := 0; at < len(all); at += size {
			var rows [][]any
			for _, r := range all[at:min(at+size, len(all))] {
				var f any
				if r.has {
					f = r.f
				}
				rows = append(rows, []any{r.k, f, r.id})
			}
			out = append(out, opstest.Batch(schema, rows))
		}
		return out
	}
	cases := []struct {
		name string
		keys []string
		size int
	}{
		{"one key, one batch, no nulls", []string{"id"}, 300},
		{"one key with nulls", []string{"k"}, 300},
		{"one key, several batches", []string{"id"}, 64},
		{"two keys", []string{"k", "id"}, 300},
		{"float key with NaN and nulls", []string{"f"}, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			keys := make([]expr.Expr, len(c.keys))
			for i, k := range c.keys {
				keys[i] = opstest.Col(schema, k)
			}
			op := &basic.SortOp{Keys: keys, Descending: make([]bool, len(keys)), NullsLast: make([]bool, len(keys)), Schema: schema, EmitSz: 100}
			tc := runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 0)
			if err := op.Open(tc); err != nil {
				t.Fatal(err)
			}
			out := &rowsOut{}
			for _, b := range batches(c.size) {
				// The batches move into the checked allocator's accounting: the op owns a copy.
				cp := copyBatch(t, mem, b)
				b.Release()
				if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: cp}, out); err != nil {
					t.Fatal(err)
				}
			}
			if err := op.Finish(out); err != nil {
				t.Fatal(err)
			}
			op.Close()
			// The reference: a stable sort in plain Go (nulls first, NaN above numbers).
			ref := slices.Clone(all)
			slices.SortStableFunc(ref, func(a, b row) int {
				for _, k := range c.keys {
					if d := cmpKey(k, a, b); d != 0 {
						return d
					}
				}
				return 0
			})
			var want []string
			for _, r := range ref {
				var f any
				if r.has {
					f = r.f
				}
				want = append(want, opstest.Row(r.k, f, r.id))
			}
			if fmt.Sprint(out.rows) != fmt.Sprint(want) {
				t.Fatalf("sorted rows differ:\n got %v\nwant %v", out.rows[:10], want[:10])
			}
		})
	}
}

func cmpKey(k string, a, b struct {
	k   any
	f   float64
	id  int64
	has bool
}) int {
	switch k {
	case "id":
		return int(a.id - b.id)
	case "k":
		switch {
		case a.k == nil && b.k == nil:
			return 0
		case a.k == nil:
			return -1
		case b.k == nil:
			return 1
		}
		return int(a.k.(int64) - b.k.(int64))
	}
	rank := func(has bool, f float64) (int, float64) {
		switch {
		case !has:
			return 0, 0
		case math.IsNaN(f):
			return 2, 0
		}
		return 1, f
	}
	ra, fa := rank(a.has, a.f)
	rb, fb := rank(b.has, b.f)
	if ra != rb {
		return ra - rb
	}
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}

// copyBatch copies b into memory of mem.
func copyBatch(t *testing.T, mem memory.Allocator, b arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, b.NumCols())
	for i, c := range b.Columns() {
		var err error
		if cols[i], err = array.Concatenate([]arrow.Array{c}, mem); err != nil {
			t.Fatal(err)
		}
	}
	defer runtime.ReleaseAll(cols)
	return array.NewRecordBatch(b.Schema(), cols, b.NumRows())
}
