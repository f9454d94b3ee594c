package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkParquetGroupBy runs bench/parquet_bench.py's query over its files (the
// directory in RIVERBED_BENCH_PARQUET; skipped without it), for CPU profiles of the
// whole query:
//
//	RIVERBED_BENCH_PARQUET=bench/data/orders go test ./engine -run x -bench ParquetGroupBy -cpuprofile cpu.out
func BenchmarkParquetGroupBy(b *testing.B) {
	dir := os.Getenv("RIVERBED_BENCH_PARQUET")
	if dir == "" {
		b.Skip("RIVERBED_BENCH_PARQUET is not set")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		b.Fatal(err)
	}
	plan := []byte(fmt.Sprintf(`{"version":1,"root":{"op":"aggregate","keys":[{"col":"user_id"}],
		"aggs":[{"alias":"n","args":[{"agg":"count"}]},{"alias":"total","args":[{"agg":"sum","args":[{"col":"amount"}]}]},
		        {"alias":"max_price","args":[{"agg":"max","args":[{"col":"price"}]}]},
		        {"alias":"last_ts","args":[{"agg":"max","args":[{"col":"ts"}]}]}],
		"input":{"op":"filter","predicate":{"fn":"gt","args":[{"col":"amount"},{"lit":0,"type":"int64"}]},
		"input":{"op":"scan_parquet","paths":[%q]}}}}`, abs))
	mem := memory.NewGoAllocator()
	for i := 0; i < b.N; i++ {
		job, err := Start(context.Background(), plan, []array.RecordReader{}, mem)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			r, err := job.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows += int(r.NumRows())
			r.Release()
		}
		b.ReportMetric(float64(rows), "groups")
	}
}
