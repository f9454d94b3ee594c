package dedup_test

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Operators whose state is four times or more their memory cap (state_backend="pebble",
// state_memory_limit): after every batch, what the cap accounts for (rows in memory, the
// operator's index of its rows, the spill store's buffers) stays within the cap plus a
// slack (the two pieces used last, bookkeeping), the state spills, and the output equals
// a plain-Go reference.
const (
	capBytes = 8 << 20
	capSlack = 1 << 20
	padBytes = 2000
)

var wideSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: tsType},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	{Name: "pad", Type: arrow.BinaryTypes.String},
}, nil)

type wideRow struct {
	k      string
	ts, v  int64
	pad    string
	arrive int
}

func (r wideRow) fields() []any { return []any{r.k, r.ts, r.v, r.pad} }

// wideStream is perKey rows for each of keys keys, in a random order, in batches of 500:
// event times and ordering values distinct, within the first hour.
func wideStream(seed int64, keys, perKey int) ([]opstest.Step, []wideRow) {
	rng := rand.New(rand.NewSource(seed))
	n := keys * perKey
	ts, vs := rng.Perm(n), rng.Perm(n)
	rows := make([]wideRow, n)
	for i := range rows {
		rows[i] = wideRow{k: fmt.Sprintf("key%04d", i%keys), ts: int64(ts[i]) * 1000, v: int64(vs[i]),
			pad: fmt.Sprintf("%08d", i) + strings.Repeat("x", padBytes-8)}
	}
	rng.Shuffle(n, func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
	var steps []opstest.Step
	for from := 0; from < n; from += 500 {
		var batch [][]any
		for i := from; i < min(from+500, n); i++ {
			rows[i].arrive = i
			batch = append(batch, rows[i].fields())
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(wideSchema, batch), Seq: runtime.MakeSeq(0, int64(len(steps)), 0)})
	}
	return steps, rows
}

// spills runs op under the cap and checks what it held, that it spilled and that the
// state was several times the cap; it returns the output rows.
func spills(t *testing.T, op opstest.Op, steps []opstest.Step, state int64) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("writes tens of MB to a spill store")
	}
	if state < 4*capBytes {
		t.Fatalf("the state (%d bytes) should be four times the cap", state)
	}
	got, most := opstest.WithinCap(t, op, steps, capBytes, capSlack, dedup.SpillUse)
	t.Logf("state %d MB against a cap of %d MB: held at most %d bytes (index up to %d), spilled %d MB",
		state>>20, capBytes>>20, most.Resident, most.Index, most.Spilled>>20)
	if most.Spilled < state/2 || most.Index == 0 {
		t.Fatalf("spilled %d bytes of a state of %d, index %d", most.Spilled, state, most.Index)
	}
	return got
}

// Top-N per key in one window: every key's candidates are kept until the window closes
// (up to 4n+64 of them before they are trimmed to n, hence rows twice the cap's size:
// their index, the ordering values, is a good part of the cap).
func TestTopNSpillsWithinCap(t *testing.T) {
	const keys, perKey, n = 1000, 20, 20
	steps, rows := wideStream(1, keys, perKey)
	defer opstest.Release(steps)
	w, err := window.Compile(&plan.WindowDef{Kind: "tumbling", Size: "1h"}, "top_n")
	if err != nil {
		t.Fatal(err)
	}
	kx := []expr.Expr{opstest.Col(wideSchema, "k")}
	schema := arrow.NewSchema(append(wideSchema.Fields(), arrow.Field{Name: "window_start", Type: tsType},
		arrow.Field{Name: "window_end", Type: tsType}, arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int64}), nil)
	op := opstest.Op{New: func() runtime.Operator {
		return &dedup.TopNOp{Name: "top_n", Keys: kx, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
			OrderBy: opstest.Col(wideSchema, "v"), Descending: true, N: n, Win: &w, TimeIdx: 1, TimeType: tsType,
			Schema: schema, InSchema: wideSchema, BatchSize: 256}
	}}
	// Reference: per key, the n rows of largest v, ranked 1..n.
	by := map[string][]wideRow{}
	for _, r := range rows {
		by[r.k] = append(by[r.k], r)
	}
	var want []string
	for _, rs := range by {
		sort.Slice(rs, func(a, b int) bool { return rs[a].v > rs[b].v })
		for i, r := range rs[:n] {
			want = append(want, opstest.Row(append(r.fields(), int64(0), int64(3600e6), int64(i+1))...))
		}
	}
	sort.Strings(want)
	opstest.Equal(t, spills(t, op, steps, keys*n*padBytes), want)
}

// The streaming top-N holds each key's n best rows so far, for ever.
func TestRankSpillsWithinCap(t *testing.T) {
	const keys, perKey, n = 1000, 20, 20
	steps, rows := wideStream(2, keys, perKey)
	defer opstest.Release(steps)
	kx := []expr.Expr{opstest.Col(wideSchema, "k")}
	schema := arrow.NewSchema(append(wideSchema.Fields(), arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)
	op := opstest.Op{New: func() runtime.Operator {
		return &dedup.RankOp{Name: "rank", Keys: kx, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
			OrderBy: []expr.Expr{opstest.Col(wideSchema, "v")}, Descending: []bool{true}, N: n,
			InSchema: wideSchema, Schema: schema, BatchSize: 256}
	}}
	// Reference: in arrival order, a row better than a full partition's last (or arriving
	// in a partition of fewer than n) enters it (+I), pushing out the last (-D).
	top := map[string][]wideRow{}
	var want []string
	for _, r := range rows {
		rs := top[r.k]
		if len(rs) == n && r.v < rs[n-1].v {
			continue
		}
		if len(rs) == n {
			want = append(want, opstest.Row(append(rs[n-1].fields(), "-D")...))
			rs = rs[:n-1]
		}
		at := sort.Search(len(rs), func(i int) bool { return rs[i].v < r.v })
		rs = append(rs[:at], append([]wideRow{r}, rs[at:]...)...)
		top[r.k] = rs
		want = append(want, opstest.Row(append(r.fields(), "+I")...))
	}
	sort.Strings(want)
	opstest.Equal(t, spills(t, op, steps, keys*n*padBytes), want)
}

// Dedup keeps every row until the watermark passes it: here all of them, to the end.
func TestDedupSpillsWithinCap(t *testing.T) {
	const keys, perKey, within = 1000, 20, 600_000_000 // 10 minutes
	steps, rows := wideStream(3, keys, perKey)
	defer opstest.Release(steps)
	kx := []expr.Expr{opstest.Col(wideSchema, "k")}
	op := opstest.Op{New: func() runtime.Operator {
		return &dedup.DedupOp{Name: "dedup", Keys: kx, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String}, Within: within,
			TimeIdx: 1, InSchema: wideSchema, Batch: 256}
	}}
	// Reference: per key in event-time order, the first row, then the first at least
	// `within` after the row kept last.
	sorted := append([]wideRow{}, rows...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].ts < sorted[b].ts })
	kept := map[string]int64{}
	var want []string
	for _, r := range sorted {
		if k, ok := kept[r.k]; ok && r.ts-k < within {
			continue
		}
		kept[r.k] = r.ts
		want = append(want, opstest.Row(r.fields()...))
	}
	sort.Strings(want)
	opstest.Equal(t, spills(t, op, steps, int64(len(rows))*padBytes), want)
}
