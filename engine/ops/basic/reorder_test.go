package basic_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

var xSchema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

func xBatch(mem memory.Allocator, vals ...int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(xSchema, []arrow.Array{a}, int64(len(vals)))
}

// xs gathers the x values of the batches emitted, and the barriers.
type xs struct {
	vals     []int64
	barriers int
	wms      []int64 // split watermarks of the batches, in order (-1: none)
}

func (c *xs) Emit(m runtime.Message) error {
	switch m.Kind {
	case runtime.MsgBatch:
		for _, v := range m.Rec.Column(0).(*array.Int64).Int64Values() {
			c.vals = append(c.vals, v)
			wm := int64(-1)
			if m.HasWM {
				wm = m.WM
			}
			c.wms = append(c.wms, wm)
		}
		m.Rec.Release()
	case runtime.MsgControl:
		if _, ok := m.Ctl.(runtime.Barrier); ok {
			c.barriers++
		}
	}
	return nil
}

func feed(t *testing.T, op *basic.ReorderOp, m runtime.Message, out runtime.Emitter) {
	t.Helper()
	var err error
	switch m.Kind {
	case runtime.MsgBatch:
		err = op.ProcessBatch(m, out)
	case runtime.MsgControl:
		err = op.ProcessControl(m, out)
	default:
		err = op.ProcessMarker(m, out)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// The reorder restores split order for chunks numbered past 2^20: split 1 arrives first
// and is held until split 0 (whose chunks go past 2^20) is done.
func TestReorderChunksPast2To20(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	big := int64(1)<<20 + 7
	op := basic.NewReorderOp([]int{0}, map[int]int{0: 2}, xSchema)
	if err := op.Open(runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	out := &xs{}
	for _, m := range []runtime.Message{
		{Kind: runtime.MsgBatch, Rec: xBatch(mem, 4), Seq: runtime.MakeSeq(0, 1, 0)},
		{Kind: runtime.MsgBatch, Rec: xBatch(mem, 1), Seq: runtime.MakeSeq(0, 0, 0)},
		{Kind: runtime.MsgBatch, Rec: xBatch(mem, 2), Seq: runtime.MakeSeq(0, 0, 1<<20)},
		{Kind: runtime.MsgBatch, Rec: xBatch(mem, 3), Seq: runtime.MakeSeq(0, 0, big)},
		{Kind: runtime.MsgSplitDone, Seq: runtime.MakeSeq(0, 1, 0)},
		{Kind: runtime.MsgSplitDone, Seq: runtime.MakeSeq(0, 0, 0)},
	} {
		feed(t, op, m, out)
	}
	if err := op.Finish(out); err != nil {
		t.Fatal(err)
	}
	op.Close()
	if fmt.Sprint(out.vals) != "[1 2 3 4]" {
		t.Fatalf("got %v, want [1 2 3 4]", out.vals)
	}
}

// chunk is one batch of the simulated input: split s (of source ord), rows from row.
type chunk struct {
	ord, split, row int64
	vals            []int64
}

// arrival simulates p parallel readers of two sources, the first with 7 splits and the
// second with 3 (announced by a MsgSourceDone), each split 3 batches of 2 rows: reader r
// reads splits r, r+p, ..., and the readers interleave one batch at a time. It returns
// the chunks in arrival order, with a nil-vals chunk for each split marker.
func arrival(p int) []chunk {
	counts := []int64{7, 3}
	var per [][]chunk
	for r := range p {
		var mine []chunk
		for ord := range int64(2) {
			for s := int64(r); s < counts[ord]; s += int64(p) {
				for c := range int64(3) {
					base := ord*1000 + s*10 + c*2
					mine = append(mine, chunk{ord, s, c * 2, []int64{base, base + 1}})
				}
				mine = append(mine, chunk{ord, s, 0, nil})
			}
		}
		per = append(per, mine)
	}
	var out []chunk
	for i := 0; ; i++ {
		more := false
		for _, mine := range per {
			if i < len(mine) {
				out = append(out, mine[i])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

func (c chunk) msg(mem memory.Allocator) runtime.Message {
	if c.vals == nil {
		return runtime.Message{Kind: runtime.MsgSplitDone, Seq: runtime.MakeSeq(int(c.ord), c.split, 0)}
	}
	// The split watermark travels with the batch (and through a checkpoint).
	return runtime.Message{Kind: runtime.MsgBatch, Rec: xBatch(mem, c.vals...), Seq: runtime.MakeSeq(int(c.ord), c.split, c.row),
		WM: c.vals[0] * 3, HasWM: c.split%2 == 0}
}

// A reorder keeps source order across a checkpoint and its restore, wherever the barrier
// falls: the barrier passes without releasing what is held back for order; the held
// batches are its checkpointed state; the restored operator is told which splits the
// restored sources skip (those done before the barrier) and gets the rest of the input
// as restored sources read it (partly read splits from where they were). The rows before
// the barrier and those after the restore, together, are every row once, in input order
// (the oracle: the values sorted, as they are numbered in source, split and chunk order).
func TestReorderKeepsOrderAcrossRestore(t *testing.T) {
	for _, p := range []int{1, 2, 3} {
		in := arrival(p)
		var want []int64
		for _, c := range in {
			want = append(want, c.vals...)
		}
		slices.Sort(want)
		for at := 0; at <= len(in); at++ {
			t.Run(fmt.Sprintf("p=%d/barrier after %d", p, at), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				ctx := context.Background()
				open := func() *basic.ReorderOp {
					op := basic.NewReorderOp([]int{0, 1}, map[int]int{0: 7}, xSchema)
					if err := op.Open(runtime.NewStandaloneTaskCtx(ctx, mem, 0, 1, 0)); err != nil {
						t.Fatal(err)
					}
					return op
				}
				out := &xs{}
				a := open()
				done := map[[2]int64]bool{}
				for _, c := range in[:at] {
					feed(t, a, c.msg(mem), out)
					if c.vals == nil {
						done[[2]int64{c.ord, c.split}] = true
					}
				}
				before := len(out.vals)
				feed(t, a, runtime.Message{Kind: runtime.MsgControl, Ctl: runtime.Barrier{ID: 1}}, out)
				if len(out.vals) != before || out.barriers != 1 {
					t.Fatalf("the barrier released %d rows (or was not passed on)", len(out.vals)-before)
				}
				if !slices.Equal(out.vals, want[:len(out.vals)]) {
					t.Fatalf("rows before the barrier are not a prefix of the input order: %v", out.vals)
				}
				cp := saveReorder(t, a)
				a.Close()

				b := open()
				loadReorder(t, b, cp)
				// Restored sources skip the splits done before the barrier and send the
				// rest: what came after it (the remaining chunks of partly read splits,
				// unread splits, their markers).
				for ord := range int64(2) {
					var spans [][2]int64
					for s := range int64(7) {
						if done[[2]int64{ord, s}] {
							spans = append(spans, [2]int64{s, s + 1})
						}
					}
					feed(t, b, runtime.Message{Kind: runtime.MsgControl, Ctl: runtime.SkippedSplits{Source: uint64(ord), Spans: spans}}, out)
				}
				for _, c := range in[at:] {
					feed(t, b, c.msg(mem), out)
				}
				feed(t, b, runtime.Message{Kind: runtime.MsgSourceDone, Seq: runtime.MakeSeq(1, 0, 0), N: 3}, out)
				if len(out.vals) != len(want) {
					// Everything is done: nothing may wait for Finish.
					t.Fatalf("%d rows out before the end, want all %d", len(out.vals), len(want))
				}
				if err := b.Finish(out); err != nil {
					t.Fatal(err)
				}
				b.Close()
				if !slices.Equal(out.vals, want) {
					t.Fatalf("got %v\nwant %v", out.vals, want)
				}
				for i, v := range out.vals {
					split := (v % 1000) / 10
					chunkFirst := v - v%2
					wm := int64(-1)
					if split%2 == 0 {
						wm = chunkFirst * 3
					}
					if out.wms[i] != wm {
						t.Fatalf("row %d: split watermark %d, want %d", v, out.wms[i], wm)
					}
				}
			})
		}
	}
}

// saveReorder writes op's state into a checkpoint and returns it as read back.
func saveReorder(t *testing.T, op *basic.ReorderOp) *state.Checkpoint {
	t.Helper()
	storage, err := state.NewStorage(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	w, err := storage.Begin(1)
	if err != nil {
		t.Fatal(err)
	}
	be, err := state.NewBackend(state.Options{Tables: op.StateTables(), MaxParallelism: 128, KeyGroupStart: 0, KeyGroupEnd: 128})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.SaveState(be); err != nil {
		t.Fatal(err)
	}
	if err := be.Snapshot(w, "reorder"); err != nil {
		t.Fatal(err)
	}
	if err := be.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(state.JobOptions{MaxParallelism: 128}); err != nil {
		t.Fatal(err)
	}
	cp, err := state.OpenCheckpoint(storage.CheckpointDir(1))
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func loadReorder(t *testing.T, op *basic.ReorderOp, cp *state.Checkpoint) {
	t.Helper()
	be, err := state.NewBackend(state.Options{Tables: op.StateTables(), MaxParallelism: 128, KeyGroupStart: 0, KeyGroupEnd: 128})
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Restore([]*state.Checkpoint{cp}, "reorder"); err != nil {
		t.Fatal(err)
	}
	if err := op.LoadState(be); err != nil {
		t.Fatal(err)
	}
	if err := be.Close(); err != nil {
		t.Fatal(err)
	}
}
