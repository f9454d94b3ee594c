package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
)

// BenchmarkParquetGroupBy runs bench/parquet_bench.py's query over its files (the
// directory in RIVERBED_BENCH_PARQUET; skipped without it), for CPU profiles of the
// whole query:
//
//	RIVERBED_BENCH_PARQUET=$PWD/bench/data/orders go test ./engine -run x -bench ParquetGroupBy -cpuprofile cpu.out
//
// RIVERBED_BENCH_PREAGG chooses the pre-aggregation: "auto" (the default), "on" (never
// passing rows through), "pass" (passing rows through after the sample) or "off" (none).
// Besides wall time it reports the CPU time of the process per query (cpu-s/op), which
// other work on a shared machine disturbs less.
func BenchmarkParquetGroupBy(b *testing.B) {
	dir := os.Getenv("RIVERBED_BENCH_PARQUET")
	if dir == "" {
		b.Skip("RIVERBED_BENCH_PARQUET is not set")
	}
	defer func(min float64) { agg.PreAggMinReduction, preAggregate = min, true }(agg.PreAggMinReduction)
	switch os.Getenv("RIVERBED_BENCH_PREAGG") {
	case "on":
		agg.PreAggMinReduction = math.SmallestNonzeroFloat64
	case "pass":
		agg.PreAggMinReduction = math.MaxFloat64
	case "off":
		preAggregate = false
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
	cpu := func() float64 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	start := cpu()
	b.ResetTimer()
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
	b.ReportMetric((cpu()-start)/float64(b.N), "cpu-s/op")
}
