package basic_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// peakAllocator is a checked allocator that remembers the most it had outstanding.
type peakAllocator struct {
	*memory.CheckedAllocator
	mu   sync.Mutex
	peak int
}

func (a *peakAllocator) note() {
	a.mu.Lock()
	a.peak = max(a.peak, a.CurrentAlloc())
	a.mu.Unlock()
}

func (a *peakAllocator) Allocate(n int) []byte {
	b := a.CheckedAllocator.Allocate(n)
	a.note()
	return b
}

func (a *peakAllocator) Reallocate(n int, b []byte) []byte {
	b = a.CheckedAllocator.Reallocate(n, b)
	a.note()
	return b
}

type sortRow struct {
	k    any // int64 or nil
	s    any // string or nil
	f    any // float64 (maybe NaN) or nil
	id   int64
	text string
}

var sortSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "text", Type: arrow.BinaryTypes.String},
}, nil)

func (r sortRow) key(name string) any {
	switch name {
	case "k":
		return r.k
	case "s":
		return r.s
	}
	return r.f
}

// cmpSortKey orders two values of a key as the sort does: nulls first (last with
// nullsLast), NaN above every number, desc reversing all but the nulls' place.
func cmpSortKey(a, b any, desc, nullsLast bool) int {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0
		case (a == nil) != nullsLast:
			return -1
		}
		return 1
	}
	var r int
	switch x := a.(type) {
	case int64:
		r = int(min(max(x-b.(int64), -1), 1))
	case string:
		r = strings.Compare(x, b.(string))
	case float64:
		y := b.(float64)
		xn, yn := math.IsNaN(x), math.IsNaN(y)
		switch {
		case xn && yn:
		case xn:
			r = 1
		case yn:
			r = -1
		case x < y:
			r = -1
		case x > y:
			r = 1
		}
	}
	if desc {
		r = -r
	}
	return r
}

func randomSortRows(n int, rng *rand.Rand) []sortRow {
	rows := make([]sortRow, n)
	for i := range rows {
		r := sortRow{id: int64(i), text: strings.Repeat("x", rng.IntN(20))}
		if rng.IntN(8) > 0 {
			r.k = int64(rng.IntN(7)) - 3
		}
		if rng.IntN(6) > 0 {
			r.s = fmt.Sprintf("s%d", rng.IntN(5))
		}
		switch rng.IntN(10) {
		case 0:
		case 1:
			r.f = math.NaN()
		default:
			r.f = float64(rng.IntN(9)) / 2
		}
		rows[i] = r
	}
	return rows
}

type sortKeySpec struct {
	col             string
	desc, nullsLast bool
}

// The sort, in memory and external (a memory cap small enough for dozens of runs on
// disk), equals a stable sort of the input in input order, over keys with many ties,
// nulls and NaN, ascending and descending, nulls first and last; it frees all it
// allocated, removes its runs, and holds about the cap plus a batch per run.
func TestSortExternalEqualsStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	all := randomSortRows(12000, rng)
	keySets := [][]sortKeySpec{
		{{"k", false, false}},
		{{"k", true, true}, {"s", false, false}},
		{{"s", true, false}, {"f", false, true}},
		{{"f", true, false}, {"k", false, true}},
	}
	for _, keys := range keySets {
		for _, limit := range []int64{0, 48 << 10} {
			name := fmt.Sprintf("%v/limit=%d", keys, limit)
			t.Run(name, func(t *testing.T) {
				mem := &peakAllocator{CheckedAllocator: memory.NewCheckedAllocator(memory.NewGoAllocator())}
				defer mem.AssertSize(t, 0)
				exprs := make([]expr.Expr, len(keys))
				desc := make([]bool, len(keys))
				last := make([]bool, len(keys))
				for i, k := range keys {
					exprs[i], desc[i], last[i] = opstest.Col(sortSchema, k.col), k.desc, k.nullsLast
				}
				dir := filepath.Join(t.TempDir(), "work")
				tc := runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 0)
				if limit > 0 {
					tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: limit, Dir: dir}
				}
				op := &basic.SortOp{Keys: exprs, Descending: desc, NullsLast: last, Schema: sortSchema, EmitSz: 500}
				if err := op.Open(tc); err != nil {
					t.Fatal(err)
				}
				var inBytes, batchBytes int64
				out := &idsOut{}
				for at := 0; at < len(all); at += 300 {
					b := sortBatch(all[at:min(at+300, len(all))])
					cp := copyBatch(t, mem, b)
					b.Release()
					inBytes += keyed.RecordBytes(cp)
					batchBytes = max(batchBytes, keyed.RecordBytes(cp))
					if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: cp}, out); err != nil {
						t.Fatal(err)
					}
				}
				if err := op.Finish(out); err != nil {
					t.Fatal(err)
				}
				written := tc.Metrics.Spill.Written.Load()
				read := tc.Metrics.Spill.Read.Load()
				op.Close()

				ref := slices.Clone(all)
				slices.SortStableFunc(ref, func(a, b sortRow) int {
					for _, k := range keys {
						if d := cmpSortKey(a.key(k.col), b.key(k.col), k.desc, k.nullsLast); d != 0 {
							return d
						}
					}
					return 0
				})
				want := make([]int64, len(ref))
				for i, r := range ref {
					want[i] = r.id
				}
				if !slices.Equal(out.ids, want) {
					i := 0
					for i < min(len(out.ids), len(want)) && out.ids[i] == want[i] {
						i++
					}
					t.Fatalf("order differs from a stable sort at row %d of %d (got %d rows)", i, len(want), len(out.ids))
				}
				if out.maxRows > 500 {
					t.Errorf("a batch of %d rows, more than the batch size 500", out.maxRows)
				}
				if limit == 0 {
					if written != 0 {
						t.Errorf("wrote %d bytes without a memory cap", written)
					}
					return
				}
				if written == 0 || read != written {
					t.Errorf("spilled %d bytes and read back %d: want runs on disk, all read back", written, read)
				}
				if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
					t.Errorf("runs left behind in the working directory: %v %v", ents, err)
				}
				// Memory: the cap, and a batch per run merged (at most 16 runs at once, each
				// batch about a sixteenth of the cap), with the batch being built: about
				// twice the cap, whatever the number of runs; never the whole input.
				runs := inBytes / (limit / 2)
				bound := 2 * limit
				t.Logf("input %d bytes, cap %d, ~%d runs, peak %d, bound %d", inBytes, limit, runs, mem.peak, bound)
				if runs <= 16 {
					t.Errorf("only ~%d runs: the merge of runs in passes is not exercised", runs)
				}
				if int64(mem.peak) > bound {
					t.Errorf("peak memory %d over twice the cap %d", mem.peak, limit)
				}
			})
		}
	}
}

type idsOut struct {
	ids     []int64
	maxRows int
}

func (o *idsOut) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		col := m.Rec.Column(3)
		for i := 0; i < col.Len(); i++ {
			o.ids = append(o.ids, opstest.Value(col, i).(int64))
		}
		o.maxRows = max(o.maxRows, int(m.Rec.NumRows()))
		m.Rec.Release()
	}
	return nil
}

func sortBatch(rows []sortRow) arrow.RecordBatch {
	vals := make([][]any, len(rows))
	for i, r := range rows {
		vals[i] = []any{r.k, r.s, r.f, r.id, r.text}
	}
	return opstest.Batch(sortSchema, vals)
}

// A checkpoint taken after runs went to disk holds every row, and a sort restored from
// it (spilling again) still gives the stable sort of the whole input: rows with equal
// keys stay in input order across the save.
func TestSortExternalCheckpointKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	all := randomSortRows(6000, rng)
	keys := []sortKeySpec{{"k", false, true}, {"s", true, false}}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := filepath.Join(t.TempDir(), "work")
	exprs := []expr.Expr{opstest.Col(sortSchema, "k"), opstest.Col(sortSchema, "s")}
	newOp := func() (*basic.SortOp, *runtime.TaskCtx) {
		tc := runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 0)
		tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: 32 << 10, Dir: dir}
		op := &basic.SortOp{Keys: exprs, Descending: []bool{false, true}, NullsLast: []bool{true, false}, Schema: sortSchema, EmitSz: 256}
		if err := op.Open(tc); err != nil {
			t.Fatal(err)
		}
		return op, tc
	}
	feed := func(op *basic.SortOp, rows []sortRow) {
		for at := 0; at < len(rows); at += 200 {
			b := sortBatch(rows[at:min(at+200, len(rows))])
			cp := copyBatch(t, mem, b)
			b.Release()
			if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: cp}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	first, tc := newOp()
	feed(first, all[:4100])
	if tc.Metrics.Spill.Written.Load() == 0 {
		t.Fatal("no run on disk before the checkpoint")
	}
	be, err := state.NewBackend(state.Options{Backend: state.MemoryBackend, Tables: first.StateTables(),
		MaxParallelism: state.DefaultMaxParallelism, KeyGroupStart: 0, KeyGroupEnd: state.DefaultMaxParallelism, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := first.SaveState(be); err != nil {
		t.Fatal(err)
	}
	first.Close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("runs left behind after close: %v", ents)
	}
	second, _ := newOp()
	if err := second.LoadState(be); err != nil {
		t.Fatal(err)
	}
	feed(second, all[4100:])
	out := &idsOut{}
	if err := second.Finish(out); err != nil {
		t.Fatal(err)
	}
	second.Close()
	ref := slices.Clone(all)
	slices.SortStableFunc(ref, func(a, b sortRow) int {
		for _, k := range keys {
			if d := cmpSortKey(a.key(k.col), b.key(k.col), k.desc, k.nullsLast); d != 0 {
				return d
			}
		}
		return 0
	})
	for i, r := range ref {
		if i >= len(out.ids) || out.ids[i] != r.id {
			t.Fatalf("order differs from a stable sort at row %d of %d (got %d rows)", i, len(ref), len(out.ids))
		}
	}
	if len(out.ids) != len(ref) {
		t.Fatalf("%d rows, want %d", len(out.ids), len(ref))
	}
}

// runOut collects a local sort's output: its batches, then its run's end.
type runOut struct {
	recs  []arrow.RecordBatch
	ended bool
}

func (o *runOut) Emit(m runtime.Message) error {
	switch {
	case m.Kind == runtime.MsgBatch && o.ended:
		return fmt.Errorf("a batch after the run's end")
	case m.Kind == runtime.MsgBatch:
		o.recs = append(o.recs, m.Rec)
	case m.Kind == runtime.MsgControl:
		if _, ok := m.Ctl.(basic.SortRunEnd); !ok || o.ended {
			return fmt.Errorf("unexpected control message %v", m.Ctl)
		}
		o.ended = true
	}
	return nil
}

// A parallel sort — each of 4 subtasks sorts the splits it read (in whatever order it
// read them), in memory or in runs on disk, and one merges their runs as they arrive,
// interleaved — equals the stable sort of the input in input order (by split, then row).
func TestParallelSortEqualsStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	const splitRows, batchRows = 700, 100
	all := randomSortRows(21*splitRows, rng) // 21 splits in input order; ids are input order
	keySets := [][]sortKeySpec{
		{{"k", false, false}},
		{{"s", true, true}, {"f", false, false}},
		{{"f", true, true}, {"k", true, false}},
	}
	for _, keys := range keySets {
		for _, limit := range []int64{0, 40 << 10} {
			t.Run(fmt.Sprintf("%v/limit=%d", keys, limit), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				exprs := make([]expr.Expr, len(keys))
				desc := make([]bool, len(keys))
				last := make([]bool, len(keys))
				for i, k := range keys {
					exprs[i], desc[i], last[i] = opstest.Col(sortSchema, k.col), k.desc, k.nullsLast
				}
				dir := filepath.Join(t.TempDir(), "work")
				const par = 4
				locals := make([]*basic.SortOp, par)
				outs := make([]*runOut, par)
				var spilled int64
				var tcs []*runtime.TaskCtx
				for s := range locals {
					tc := runtime.NewStandaloneTaskCtx(context.Background(), mem, s, par, 0)
					if limit > 0 {
						tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: limit, Dir: dir}
					}
					tcs = append(tcs, tc)
					locals[s] = &basic.SortOp{Keys: exprs, Descending: desc, NullsLast: last, Schema: sortSchema, EmitSz: 150, Local: true}
					outs[s] = &runOut{}
					if err := locals[s].Open(tc); err != nil {
						t.Fatal(err)
					}
				}
				// Splits go to subtasks at random (subtask 3 may read none); each subtask
				// reads its splits in a random order, a batch at a time, interleaved with
				// the others.
				reads := make([][]int, par)
				for split := range len(all) / splitRows {
					s := rng.IntN(par - 1)
					reads[s] = append(reads[s], split)
				}
				type batchAt struct{ split, chunk int }
				queue := make([][]batchAt, par)
				for s, splits := range reads {
					rng.Shuffle(len(splits), func(i, j int) { splits[i], splits[j] = splits[j], splits[i] })
					for _, split := range splits {
						for chunk := 0; chunk < splitRows; chunk += batchRows {
							queue[s] = append(queue[s], batchAt{split, chunk})
						}
					}
				}
				for {
					var ready []int
					for s := range queue {
						if len(queue[s]) > 0 {
							ready = append(ready, s)
						}
					}
					if len(ready) == 0 {
						break
					}
					s := ready[rng.IntN(len(ready))]
					b := queue[s][0]
					queue[s] = queue[s][1:]
					at := b.split*splitRows + b.chunk
					rec := sortBatch(all[at : at+batchRows])
					cp := copyBatch(t, mem, rec)
					rec.Release()
					m := runtime.Message{Kind: runtime.MsgBatch, Rec: cp, Seq: runtime.MakeSeq(0, int64(b.split), int64(b.chunk))}
					if err := locals[s].ProcessBatch(m, outs[s]); err != nil {
						t.Fatal(err)
					}
				}
				for s, op := range locals {
					if err := op.Finish(outs[s]); err != nil {
						t.Fatal(err)
					}
					op.Close()
					spilled += tcs[s].Metrics.Spill.Written.Load()
				}
				if (limit > 0) != (spilled > 0) {
					t.Fatalf("spilled %d bytes with a cap of %d", spilled, limit)
				}
				// The merge gets the runs interleaved at random, each run in order.
				merge := &basic.SortMergeOp{Keys: exprs, Descending: desc, NullsLast: last, Schema: sortSchema, EmitSz: 500, Inputs: par}
				out := &idsOut{}
				if err := merge.Open(runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 0)); err != nil {
					t.Fatal(err)
				}
				for {
					var ready []int
					for s := range outs {
						if outs[s] != nil { // its run has not ended at the merge
							ready = append(ready, s)
						}
					}
					if len(ready) == 0 {
						break
					}
					s := ready[rng.IntN(len(ready))]
					if len(outs[s].recs) == 0 {
						if err := merge.EndRun(s, out); err != nil {
							t.Fatal(err)
						}
						outs[s] = nil
						continue
					}
					rec := outs[s].recs[0]
					outs[s].recs = outs[s].recs[1:]
					if err := merge.AddRun(s, rec, out); err != nil {
						t.Fatal(err)
					}
				}
				if err := merge.Finish(out); err != nil {
					t.Fatal(err)
				}
				merge.Close()
				ref := slices.Clone(all)
				slices.SortStableFunc(ref, func(a, b sortRow) int {
					for _, k := range keys {
						if d := cmpSortKey(a.key(k.col), b.key(k.col), k.desc, k.nullsLast); d != 0 {
							return d
						}
					}
					return 0
				})
				for i, r := range ref {
					if i >= len(out.ids) || out.ids[i] != r.id {
						t.Fatalf("order differs from a stable sort at row %d of %d (got %d rows)", i, len(ref), len(out.ids))
					}
				}
				if len(out.ids) != len(ref) || out.maxRows > 500 {
					t.Fatalf("%d rows (want %d), batches of up to %d", len(out.ids), len(ref), out.maxRows)
				}
				if ents, err := os.ReadDir(dir); err == nil && len(ents) != 0 {
					t.Errorf("runs left behind: %v", ents)
				}
			})
		}
	}
}
