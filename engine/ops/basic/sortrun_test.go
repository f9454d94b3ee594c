package basic

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// mergeRow is a row of a merge test's runs: its key (nil: null) and where it is.
type mergeRow struct {
	key      *int64
	run, idx int
}

// The merge of many sorted runs that alternate every few rows (a key with few distinct
// values and nulls, so ties everywhere) — batches of random sizes, empty ones, slices of
// larger batches, runs that pause (no batch yet) — equals a plain stable sort of the
// runs' rows in run order, column for column: ints, floats, booleans, strings and
// binaries with nulls (gathered by reference), a large string and a list (concatenated
// slices), for output batches of a few rows up to larger than the runs' batches.
func TestMergerEqualsStableSort(t *testing.T) {
	fields := []arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	}
	schema := arrow.NewSchema(fields, nil)
	for _, c := range []struct {
		runs, size      int
		desc, nullsLast bool
		maxBytes        int64
	}{
		{2, 7, false, false, maxGatherBytes},
		{2, 100, false, true, maxGatherBytes},
		{5, 64, true, false, maxGatherBytes},
		{3, 1000, true, true, maxGatherBytes},
		{1, 50, false, false, maxGatherBytes},
		{3, 100, false, false, 50},
	} {
		t.Run(fmt.Sprintf("runs=%d/size=%d/desc=%v/nullsLast=%v/maxBytes=%d", c.runs, c.size, c.desc, c.nullsLast, c.maxBytes), func(t *testing.T) {
			defer func(v int64) { maxGatherBytes = v }(maxGatherBytes)
			maxGatherBytes = c.maxBytes
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rng := rand.New(rand.NewPCG(uint64(c.runs), uint64(c.size)))
			keyCmp := func(a, b mergeRow) int {
				switch {
				case a.key == nil && b.key == nil:
					return 0
				case a.key == nil, b.key == nil:
					r := 1
					if a.key == nil {
						r = -1
					}
					if c.nullsLast {
						r = -r
					}
					return r
				}
				r := cmp.Compare(*a.key, *b.key)
				if c.desc {
					r = -r
				}
				return r
			}
			// Each run: sorted rows, cut into batches; a batch's columns are built with
			// padding rows around it and sliced, or not.
			var all []mergeRow
			runs := make([][]arrow.RecordBatch, c.runs)
			vals := make([][]string, c.runs) // each run's rows, column by column, as text
			for r := range runs {
				rows := make([]mergeRow, rng.IntN(400)+200)
				for i := range rows {
					rows[i].run = r
					if rng.IntN(8) != 0 {
						k := int64(rng.IntN(30))
						rows[i].key = &k
					}
				}
				slices.SortStableFunc(rows, keyCmp)
				for i := range rows {
					rows[i].idx = i
				}
				all = append(all, rows...)
				for at := 0; at < len(rows); {
					n := rng.IntN(40)
					n = min(n, len(rows)-at)
					pad := 0
					if rng.IntN(2) == 0 {
						pad = rng.IntN(5) + 1
					}
					rec := mergeTestBatch(mem, schema, rows[at:at+n], pad, rng)
					vals[r] = append(vals[r], rowTexts(rec)...)
					runs[r] = append(runs[r], rec)
					at += n
				}
			}
			ref := slices.Clone(all)
			slices.SortStableFunc(ref, keyCmp)
			var want []string
			for _, row := range ref {
				want = append(want, vals[row.run][row.idx])
			}

			var got []string
			m := &merger{ec: runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 0).Eval,
				desc: []bool{c.desc}, nullsLast: []bool{c.nullsLast}, out: schema, size: c.size,
				keysOf: func(rec arrow.RecordBatch) ([]arrow.Array, error) {
					rec.Column(0).Retain()
					return []arrow.Array{rec.Column(0)}, nil
				},
				emit: func(rec arrow.RecordBatch) error {
					defer rec.Release()
					if rec.NumRows() > int64(c.size) {
						return fmt.Errorf("a batch of %d rows, more than %d", rec.NumRows(), c.size)
					}
					got = append(got, rowTexts(rec)...)
					return nil
				}}
			ended := make([]bool, c.runs)
			for r := range runs {
				m.add(func() (arrow.RecordBatch, srcState, error) {
					switch {
					case len(runs[r]) == 0:
						ended[r] = true
						return nil, srcEnd, nil
					case rng.IntN(4) == 0:
						return nil, srcWait, nil
					}
					rec := runs[r][0]
					runs[r] = runs[r][1:]
					return rec, srcGot, nil
				})
			}
			for !slices.Equal(ended, slices.Repeat([]bool{true}, c.runs)) || m.h.Len() > 0 {
				if err := m.run(); err != nil {
					t.Fatal(err)
				}
			}
			m.release()
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d of %d: got %s, want %s", i, len(want), got[i], want[i])
				}
			}
		})
	}
}

// mergeTestBatch is a batch of rows of schema (key, then values made up from the row's
// place), built with pad made-up rows before and after them and sliced to them if pad > 0.
func mergeTestBatch(mem memory.Allocator, schema *arrow.Schema, rows []mergeRow, pad int, rng *rand.Rand) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	appendRow := func(key *int64, id int, null bool) {
		if key == nil {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(*key)
		}
		for f := 1; f < schema.NumFields(); f++ {
			if null && f%2 == 1 || rng.IntN(6) == 0 {
				b.Field(f).AppendNull()
				continue
			}
			switch fb := b.Field(f).(type) {
			case *array.StringBuilder:
				fb.Append(strings.Repeat("x", (id%5+5)%5) + fmt.Sprint(id))
			case *array.Float64Builder:
				fb.Append(float64(id) / 4)
			case *array.BooleanBuilder:
				fb.Append(id%3 == 0)
			case *array.BinaryBuilder:
				fb.Append([]byte{byte(id), byte(id >> 8)})
			case *array.Int32Builder:
				fb.Append(int32(id))
			case *array.LargeStringBuilder:
				fb.Append("large" + fmt.Sprint(id))
			case *array.ListBuilder:
				fb.Append(true)
				for j := range (id%3 + 3) % 3 {
					fb.ValueBuilder().(*array.Int64Builder).Append(int64(id + j))
				}
			}
		}
	}
	for i := range pad {
		appendRow(nil, -i-1, i%2 == 0)
	}
	for _, r := range rows {
		appendRow(r.key, r.run*10000+r.idx, r.idx%7 == 0)
	}
	for i := range pad {
		appendRow(nil, -i-100, false)
	}
	rec := b.NewRecordBatch()
	if pad == 0 {
		return rec
	}
	defer rec.Release()
	return rec.NewSlice(int64(pad), int64(pad+len(rows)))
}

// rowTexts is each row of rec, its columns' values as text.
func rowTexts(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	for i := range out {
		var sb strings.Builder
		for _, col := range rec.Columns() {
			sb.WriteString(col.ValueStr(i))
			sb.WriteByte('|')
		}
		out[i] = sb.String()
	}
	return out
}
