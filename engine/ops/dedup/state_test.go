package dedup_test

import (
	"fmt"
	"math"
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
	"github.com/riverbed-engine/riverbed/state"
)

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

var inSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: tsType},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
}, nil)

type event struct {
	k            any
	ts, v, id    int64
	batch, index int
}

func (e event) row() []any { return []any{e.k, e.ts, e.v, e.id} }

// stream is batches of rows with disordered event times, stamped with the current
// watermark, and a watermark every other batch.
func stream(seed int64, batches int) ([]opstest.Step, [][]event, []int64) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var evs [][]event
	var stamps []int64
	wm := int64(math.MinInt64)
	id := int64(0)
	keys := []string{"a", "b", "c", "d", "e"}
	for b := 0; b < batches; b++ {
		n := 1 + rng.Intn(12)
		var rows [][]any
		var es []event
		for i := 0; i < n; i++ {
			var k any = keys[rng.Intn(len(keys))]
			if rng.Intn(10) == 0 {
				k = nil
			}
			e := event{k: k, ts: int64(b*4 + rng.Intn(20) - 10), v: int64(rng.Intn(20)), id: id, batch: b, index: i}
			id++
			rows = append(rows, e.row())
			es = append(es, e)
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0), WM: wm, HasWM: true})
		evs = append(evs, es)
		stamps = append(stamps, wm)
		if b%2 == 1 {
			wm = int64(b*4 - 5)
			steps = append(steps, opstest.Step{WM: wm})
			evs = append(evs, nil)
			stamps = append(stamps, wm)
		}
	}
	return steps, evs, stamps
}

func keyExprs() []expr.Expr { return []expr.Expr{opstest.Col(inSchema, "k")} }

// refDedup: rows not behind their batch's watermark wait for the watermark; then, in
// (event time, input order), a row is kept if its key has kept none or its time is at
// least within after the kept one.
func refDedup(evs [][]event, stamps []int64, within int64) []string {
	var pending []event
	kept := map[string]int64{}
	var out []string
	release := func(wm int64) {
		sort.SliceStable(pending, func(a, b int) bool {
			x, y := pending[a], pending[b]
			if x.ts != y.ts {
				return x.ts < y.ts
			}
			if x.batch != y.batch {
				return x.batch < y.batch
			}
			return x.index < y.index
		})
		var rest []event
		for _, e := range pending {
			if e.ts > wm {
				rest = append(rest, e)
				continue
			}
			k := opstest.Row(e.k)
			if t, ok := kept[k]; !ok || e.ts-t >= within {
				kept[k] = e.ts
				out = append(out, opstest.Row(e.row()...))
			}
		}
		pending = rest
	}
	for i, es := range evs {
		if es == nil {
			release(stamps[i])
			continue
		}
		for _, e := range es {
			if e.ts > stamps[i] {
				pending = append(pending, e)
			}
		}
	}
	release(math.MaxInt64)
	sort.Strings(out)
	return out
}

func dedupOp(within int64) opstest.Op {
	keys := keyExprs()
	return opstest.Op{
		New: func() runtime.Operator {
			return &dedup.DedupOp{Name: "dedup", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String}, Within: within,
				TimeIdx: 1, InSchema: inSchema, Batch: 6}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 16,
	}
}

// Dedup gives the reference's rows straight, checkpointed (kept keys and rows pending the
// watermark) and restored at other parallelisms, on both backends.
func TestDedupStateThreeWays(t *testing.T) {
	steps, evs, stamps := stream(5, 40)
	defer opstest.Release(steps)
	for _, within := range []int64{1, 7, 1 << 40} {
		want := refDedup(evs, stamps, within)
		if len(want) < 6 {
			t.Fatalf("only %d rows", len(want))
		}
		t.Run(fmt.Sprintf("within %d/", within), func(t *testing.T) { opstest.RunAll(t, dedupOp(within), steps, 7, want) })
	}
}

const topN = 2

// refTopN: per tumbling window of size and key, the topN rows by v descending, ties by
// the row's columns ascending (k, ts, v, id); rows whose window's end-1 is at or below
// their batch's watermark are late. Output rows: the row, window_start, window_end, rank.
// With ties, rows whose v equals the topN-th row's are kept too, and tied rows share the
// rank of the first of them (SQL's RANK()).
func refTopN(evs [][]event, stamps []int64, size int64, ties bool) []string {
	type part struct {
		start int64
		k     string
	}
	parts := map[part][]event{}
	for i, es := range evs {
		for _, e := range es {
			start := int64(math.Floor(float64(e.ts)/float64(size))) * size
			if start+size-1 <= stamps[i] {
				continue
			}
			p := part{start, opstest.Row(e.k)}
			parts[p] = append(parts[p], e)
		}
	}
	var out []string
	for p, es := range parts {
		sort.Slice(es, func(a, b int) bool {
			x, y := es[a], es[b]
			if x.v != y.v {
				return x.v > y.v
			}
			if x.ts != y.ts {
				return x.ts < y.ts
			}
			return x.id < y.id
		})
		keep := min(topN, len(es))
		for ties && keep < len(es) && es[keep].v == es[topN-1].v {
			keep++
		}
		rank := int64(0)
		for r, e := range es[:keep] {
			if !ties || r == 0 || e.v != es[r-1].v {
				rank = int64(r + 1)
			}
			out = append(out, opstest.Row(append(e.row(), p.start, p.start+size, rank)...))
		}
	}
	sort.Strings(out)
	return out
}

func topNOp(t *testing.T, ties bool) opstest.Op {
	w, err := window.Compile(&plan.WindowDef{Kind: "tumbling", Size: "8us"}, "top_n")
	if err != nil {
		t.Fatal(err)
	}
	keys := keyExprs()
	schema := arrow.NewSchema(append(inSchema.Fields(), arrow.Field{Name: "window_start", Type: tsType},
		arrow.Field{Name: "window_end", Type: tsType}, arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int64}), nil)
	return opstest.Op{
		New: func() runtime.Operator {
			return &dedup.TopNOp{Name: "top_n", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
				OrderBy: opstest.Col(inSchema, "v"), Descending: true, WithTies: ties, N: topN, Win: &w, TimeIdx: 1, TimeType: tsType,
				Schema: schema, InSchema: inSchema, BatchSize: 5}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 16,
	}
}

// Top-N per window and key gives the reference's rows straight, checkpointed (candidate
// rows of open windows) and restored at other parallelisms, on both backends.
func TestTopNStateThreeWays(t *testing.T) {
	steps, evs, stamps := stream(6, 40)
	defer opstest.Release(steps)
	for _, ties := range []bool{false, true} {
		want := refTopN(evs, stamps, 8, ties)
		if len(want) < 20 {
			t.Fatalf("only %d rows", len(want))
		}
		t.Run(fmt.Sprintf("ties %v/", ties), func(t *testing.T) { opstest.RunAll(t, topNOp(t, ties), steps, 7, want) })
	}
}

// Top-N over a window result (windows read from window_start / window_end columns) gives
// the reference's rows three ways too.
func TestTopNOverWindowColumnsStateThreeWays(t *testing.T) {
	steps, evs, stamps := stream(10, 40)
	defer opstest.Release(steps)
	withWin := arrow.NewSchema(append(inSchema.Fields(), arrow.Field{Name: "window_start", Type: tsType},
		arrow.Field{Name: "window_end", Type: tsType}), nil)
	// The same rows with their tumbling window of 8 as columns, leaving out rows whose
	// window has closed (a window operator would not have produced them).
	var wsteps []opstest.Step
	for i, st := range steps {
		if st.Rec == nil {
			wsteps = append(wsteps, st)
			continue
		}
		var rows [][]any
		for _, e := range evs[i] {
			start := int64(math.Floor(float64(e.ts)/8)) * 8
			if start+8-1 > stamps[i] {
				rows = append(rows, append(e.row(), start, start+8))
			}
		}
		if len(rows) > 0 {
			st.Rec = opstest.Batch(withWin, rows)
			wsteps = append(wsteps, st)
		}
	}
	defer func() {
		for _, st := range wsteps {
			if st.Rec != nil {
				st.Rec.Release()
			}
		}
	}()
	keys := []expr.Expr{opstest.Col(withWin, "k")}
	schema := arrow.NewSchema(append(withWin.Fields(), arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int64}), nil)
	op := opstest.Op{
		New: func() runtime.Operator {
			return &dedup.TopNOp{Name: "top_n", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
				OrderBy: opstest.Col(withWin, "v"), Descending: true, N: topN, StartIdx: 4, EndIdx: 5,
				Schema: schema, InSchema: withWin, BatchSize: 5}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 16,
	}
	want := refTopN(evs, stamps, 8, false)
	opstest.RunAll(t, op, wsteps, 7, want)
}

// State saved by a dedup over other input columns is refused with an error naming the
// operator and the table.
func TestDedupStateOfAnotherVersion(t *testing.T) {
	steps, _, _ := stream(7, 5)
	defer opstest.Release(steps)
	a := dedupOp(3)
	other := arrow.NewSchema(append(inSchema.Fields(), arrow.Field{Name: "extra", Type: arrow.PrimitiveTypes.Int64}), nil)
	b := a
	b.New = func() runtime.Operator {
		op := a.New().(*dedup.DedupOp)
		op.InSchema = other
		return op
	}
	err := opstest.RestoreError(t, a, b, steps, state.MemoryBackend)
	if err == nil || !strings.Contains(err.Error(), "dedup") || !strings.Contains(err.Error(), dedup.PendingTable) {
		t.Fatalf("restoring another version's state: %v", err)
	}
}
