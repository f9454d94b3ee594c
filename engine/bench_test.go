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
)

// BenchmarkFilterGroupBy runs the Parquet benchmark's query shape over an in-memory table
// (2M rows, ~500K keys), so a CPU profile shows the engine without file decoding:
//
//	go test ./engine -run x -bench FilterGroupBy -cpuprofile cpu.out
func BenchmarkFilterGroupBy(b *testing.B) {
	mem := memory.NewGoAllocator()
	const rows = 2_000_000
	rng := rand.New(rand.NewSource(1))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "price", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	bld := array.NewRecordBuilder(mem, schema)
	for i := 0; i < rows; i++ {
		bld.Field(0).(*array.Int64Builder).Append(rng.Int63n(500_000))
		bld.Field(1).(*array.Float64Builder).Append(rng.NormFloat64()*25 + 20)
		bld.Field(2).(*array.Int64Builder).Append(rng.Int63n(100_000))
	}
	rec := bld.NewRecordBatch()
	bld.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	rec.Release()
	defer tbl.Release()
	plan := []byte(`{"version":1,"root":{"op":"aggregate","keys":[{"col":"user_id"}],
		"aggs":[{"alias":"n","args":[{"agg":"count"}]},{"alias":"total","args":[{"agg":"sum","args":[{"col":"amount"}]}]},
		        {"alias":"max_price","args":[{"agg":"max","args":[{"col":"price"}]}]}],
		"input":{"op":"filter","predicate":{"fn":"gt","args":[{"col":"amount"},{"lit":0,"type":"int64"}]},
		"input":{"op":"scan_arrow","source":0}}}}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		job, err := Start(context.Background(), plan, []array.RecordReader{array.NewTableReader(tbl, 65536)}, mem)
		if err != nil {
			b.Fatal(err)
		}
		for {
			r, err := job.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			r.Release()
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkStringKeyGroupBy is BenchmarkFilterGroupBy with a string key (and a string
// max), for allocation profiles of string keys:
//
//	go test ./engine -run x -bench StringKeyGroupBy -benchmem -memprofile mem.out
func BenchmarkStringKeyGroupBy(b *testing.B) {
	mem := memory.NewGoAllocator()
	const rows = 1_000_000
	rng := rand.New(rand.NewSource(1))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "tag", Type: arrow.BinaryTypes.String},
	}, nil)
	bld := array.NewRecordBuilder(mem, schema)
	for i := 0; i < rows; i++ {
		bld.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("user-%06d", rng.Intn(50_000)))
		bld.Field(1).(*array.Float64Builder).Append(rng.NormFloat64()*25 + 20)
		bld.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("tag-%d", rng.Intn(1000)))
	}
	rec := bld.NewRecordBatch()
	bld.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	rec.Release()
	defer tbl.Release()
	plan := []byte(`{"version":1,"options":{"parallelism":2},"root":{"op":"aggregate","keys":[{"col":"user"}],
		"aggs":[{"alias":"n","args":[{"agg":"count"}]},{"alias":"total","args":[{"agg":"sum","args":[{"col":"amount"}]}]},
		        {"alias":"top","args":[{"agg":"max","args":[{"col":"tag"}]}]}],
		"input":{"op":"scan_arrow","source":0}}}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		job, err := Start(context.Background(), plan, []array.RecordReader{array.NewTableReader(tbl, 65536)}, mem)
		if err != nil {
			b.Fatal(err)
		}
		for {
			r, err := job.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			r.Release()
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
