package basic

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// A local sort's keys: an int64 key of distinct values (about n/10 of them with ties)
// and the four input-order columns.
func benchKeys(n int, ties bool) ([]arrow.Array, []compute.SortKey, *arrow.Schema) {
	mem := memory.NewGoAllocator()
	rng := rand.New(rand.NewSource(1))
	b := array.NewInt64Builder(mem)
	distinct := int64(1 << 40)
	if ties {
		distinct = int64(n / 10)
	}
	for i := 0; i < n; i++ {
		b.Append(rng.Int63n(distinct))
	}
	cols := []arrow.Array{b.NewArray()}
	fields := []arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}
	keys := []compute.SortKey{{ColumnIndex: 0}}
	for c := 0; c < 4; c++ {
		u := array.NewUint64Builder(mem)
		for i := 0; i < n; i++ {
			v := uint64(i)
			if c < 3 {
				v = uint64(i / 65536)
			}
			u.Append(v)
		}
		cols = append(cols, u.NewArray())
		fields = append(fields, arrow.Field{Name: string(rune('a' + c)), Type: arrow.PrimitiveTypes.Uint64})
		keys = append(keys, compute.SortKey{ColumnIndex: c + 1})
	}
	return cols, keys, arrow.NewSchema(fields, nil)
}

func BenchmarkSortPermutation(b *testing.B) {
	for _, ties := range []bool{false, true} {
		b.Run(fmt.Sprintf("ties=%v", ties), func(b *testing.B) {
			cols, keys, _ := benchKeys(2_000_000, ties)
			mem := memory.NewGoAllocator()
			for b.Loop() {
				idx, _ := sortPermutation(mem, cols, keys, 2_000_000)
				idx.Release()
			}
		})
	}
}

func BenchmarkSortIndicesArrow(b *testing.B) {
	cols, keys, sch := benchKeys(2_000_000, false)
	mem := memory.NewGoAllocator()
	rec := array.NewRecordBatch(sch, cols, 2_000_000)
	for b.Loop() {
		idx, _ := sortIndices(b.Context(), mem, rec, keys)
		idx.Release()
	}
}

// mergeBenchRuns are the sorted runs of a parallel sort's merge: runs runs of n rows in
// all, batches of 65536 rows, an int64 key of distinct values (ties across runs), a
// string payload and the four input-order columns of a local sort (each run one split,
// so ties go to the earlier run and the merge alternates runs every few rows).
func mergeBenchRuns(n, runs, distinct int) (*arrow.Schema, [][]arrow.RecordBatch) {
	mem := memory.NewGoAllocator()
	fields := []arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String}}
	schema := arrow.NewSchema(fields, nil)
	full := arrow.NewSchema(append(fields, seqFields...), nil)
	rng := rand.New(rand.NewSource(1))
	out := make([][]arrow.RecordBatch, runs)
	for r := range out {
		keys := make([]int64, n/runs)
		for i := range keys {
			keys[i] = rng.Int63n(int64(distinct))
		}
		slices.Sort(keys)
		for at := 0; at < len(keys); at += 65536 {
			part := keys[at:min(at+65536, len(keys))]
			kb := array.NewInt64Builder(mem)
			kb.AppendValues(part, nil)
			sb := array.NewStringBuilder(mem)
			for i := range part {
				sb.Append(fmt.Sprintf("payload-%d", at+i))
			}
			cols := []arrow.Array{kb.NewArray(), sb.NewArray()}
			for c := range 4 {
				u := array.NewUint64Builder(mem)
				for i := range part {
					v := uint64(at + i)
					if c < 3 {
						v = uint64(r) * uint64(c&1) // split = the run
					}
					u.Append(v)
				}
				cols = append(cols, u.NewArray())
			}
			out[r] = append(out[r], array.NewRecordBatch(full, cols, int64(len(part))))
		}
	}
	return schema, out
}

type dropOut struct{ rows int64 }

func (d *dropOut) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		d.rows += m.Rec.NumRows()
		m.Rec.Release()
	}
	return nil
}

// The merge of a parallel sort: 2M rows in two runs, 200K distinct keys.
func BenchmarkSortMerge(b *testing.B) {
	schema, runs := mergeBenchRuns(2_000_000, 2, 200_000)
	mem := memory.NewGoAllocator()
	for b.Loop() {
		op := &SortMergeOp{Keys: []expr.Expr{opstest.Col(schema, "k")}, Descending: []bool{false}, NullsLast: []bool{false},
			Schema: schema, EmitSz: 65536, Inputs: len(runs)}
		if err := op.Open(runtime.NewStandaloneTaskCtx(b.Context(), mem, 0, 1, 0)); err != nil {
			b.Fatal(err)
		}
		out := &dropOut{}
		for i := 0; ; i++ {
			more := false
			for r, batches := range runs {
				if i < len(batches) {
					more = true
					batches[i].Retain()
					if err := op.add(r, batches[i], out); err != nil {
						b.Fatal(err)
					}
				}
			}
			if !more {
				break
			}
		}
		if err := op.Finish(out); err != nil {
			b.Fatal(err)
		}
		op.Close()
		if out.rows != 2_000_000 {
			b.Fatalf("%d rows", out.rows)
		}
	}
}
