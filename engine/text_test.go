package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func int64s(recs []arrow.RecordBatch, col string) []int64 {
	var out []int64
	for _, r := range recs {
		c := r.Column(r.Schema().FieldIndices(col)[0]).(*array.Int64)
		for i := range c.Len() {
			out = append(out, c.Value(i))
		}
	}
	return out
}

// CSV in, filter, CSV and NDJSON out, read back: every row once, in order, at
// parallelism 1 and 3; explain names the scans.
func TestTextScanAndSinkPlans(t *testing.T) {
	dir := t.TempDir()
	var want []int64
	for f := range 5 {
		var b strings.Builder
		b.WriteString("x,s\n")
		for i := range 40 {
			x := int64(f*40 + i)
			fmt.Fprintf(&b, "%d,\"s,%d\"\n", x, x)
			if x%3 == 0 {
				want = append(want, x)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, par := range []int{1, 3} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		filter := `{"op": "filter", "input": {"op": "scan_csv", "paths": [%q]}, "predicate": {"fn": "eq", "args": [{"fn": "mod", "args": [{"col": "x"}, {"lit": 3, "type": "int64"}]}, {"lit": 0, "type": "int64"}]}}`
		in := fmt.Sprintf(filter, dir)
		recs := runPlan(t, mem, fmt.Sprintf(`{"version": 1, "root": %s, "options": {"parallelism": %d, "batch_size": 7}}`, in, par))
		got := int64s(recs, "x")
		for _, r := range recs {
			r.Release()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("parallelism %d: %v, want %v", par, got, want)
		}
		for _, op := range []string{"write_csv", "write_ndjson"} {
			out := filepath.Join(t.TempDir(), op)
			recs = runPlan(t, mem, fmt.Sprintf(`{"version": 1, "root": {"op": %q, "path": %q, "input": %s}, "options": {"parallelism": %d, "batch_size": 7}}`, op, out, in, par))
			for _, r := range recs {
				r.Release()
			}
			scan := "scan_" + strings.TrimPrefix(op, "write_")
			recs = runPlan(t, mem, fmt.Sprintf(`{"version": 1, "root": {"op": %q, "paths": [%q]}, "options": {"parallelism": %d}}`, scan, out, par))
			back := int64s(recs, "x")
			for _, r := range recs {
				r.Release()
			}
			sort.Slice(back, func(a, b int) bool { return back[a] < back[b] })
			if fmt.Sprint(back) != fmt.Sprint(want) {
				t.Fatalf("%s at parallelism %d read back %v, want %v", op, par, back, want)
			}
		}
		mem.AssertSize(t, 0)
	}
}
