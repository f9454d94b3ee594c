package keyed

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The one-pass gather (gatherDirect) gives what the generic take-based one does, for
// every type it covers, with nulls in the chunks, null refs, sliced chunks, repeated and
// unordered refs, and runs of one chunk (a zero-copy slice).
func TestGatherDirectEqualsTake(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 15, Scale: 2}, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	rng := rand.New(rand.NewSource(1))
	var s RowStore
	s.Init(schema, nil)
	defer s.Release()
	for c := 0; c < 5; c++ {
		b := array.NewRecordBuilder(mem, schema)
		n := 1 + rng.Intn(40)
		for i := 0; i < n; i++ {
			null := rng.Intn(6) == 0 && c != 2 // chunk 2 has no nulls
			v := rng.Int63n(1000) - 500
			for k, f := range b.Fields() {
				if null && k%2 == i%2 {
					f.AppendNull()
					continue
				}
				switch f := f.(type) {
				case *array.Int64Builder:
					f.Append(v)
				case *array.Int32Builder:
					f.Append(int32(v))
				case *array.Uint8Builder:
					f.Append(uint8(v))
				case *array.Float64Builder:
					f.Append(float64(v) / 3)
				case *array.BooleanBuilder:
					f.Append(v%3 == 0)
				case *array.StringBuilder:
					f.Append(fmt.Sprintf("s%d", v*int64(i)))
				case *array.BinaryBuilder:
					f.Append([]byte(fmt.Sprint(v)))
				case *array.Decimal128Builder:
					f.Append(decimal128.FromI64(v * 1_000_000_007))
				case *array.TimestampBuilder:
					f.Append(arrow.Timestamp(v * 1e9))
				case *array.Date32Builder:
					f.Append(arrow.Date32(v))
				}
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		if c == 3 { // a sliced chunk: its arrays have an offset
			sl := rec.NewSlice(int64(n/3), int64(n))
			rec.Release()
			rec = sl
		}
		if _, err := s.Add(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	ctx := context.Background()
	cases := map[string][]RowRef{"empty": nil}
	var random, run []RowRef
	for i := 0; i < 300; i++ {
		c := int32(rng.Intn(6)) - 1 // -1: no row
		if c < 0 {
			random = append(random, RowRef{Chunk: -1})
			continue
		}
		random = append(random, RowRef{Chunk: c, Row: int32(rng.Intn(int(s.chunks[c].NumRows())))})
	}
	for r := int32(1); r < int32(s.chunks[3].NumRows()); r++ {
		run = append(run, RowRef{Chunk: 3, Row: r})
	}
	cases["random"], cases["run"], cases["one chunk"] = random, run, run[:1]
	cases["nulls only"] = []RowRef{{Chunk: -1}, {Chunk: -1}}
	for name, refs := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := s.gather(ctx, refs, func(c int32) (arrow.RecordBatch, error) { return s.chunks[c], nil })
			if err != nil {
				t.Fatal(err)
			}
			defer releaseAll(want)
			got, ok := s.gatherDirect(mem, refs)
			if !ok {
				t.Fatal("the types are all covered")
			}
			defer releaseAll(got)
			for k := range want {
				if !array.Equal(got[k], want[k]) {
					t.Fatalf("column %s:\n got %v\nwant %v", schema.Field(k).Name, got[k], want[k])
				}
			}
		})
	}
	// A type it does not cover sends every column the generic way.
	var fs RowStore
	fs.Init(arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil), nil)
	if _, ok := fs.gatherDirect(mem, nil); ok {
		t.Fatal("a list column is not covered")
	}
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}
