package basic_test

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

type count struct{ rows int64 }

func (c *count) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		c.rows += m.Rec.NumRows()
		m.Rec.Release()
	}
	return nil
}

// A limit restored from a checkpoint counts the rows it passed before it: over the run
// and its restore it passes exactly n rows, wherever the checkpoint falls.
func TestLimitCheckpoint(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var batches []arrow.RecordBatch
	for b := 0; b < 6; b++ {
		rows := make([][]any, 4)
		for i := range rows {
			rows[i] = []any{int64(b*4 + i)}
		}
		batches = append(batches, opstest.Batch(schema, rows))
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for _, n := range []int64{0, 3, 4, 10, 24, 30} {
		for at := 0; at <= len(batches); at++ {
			out := &count{}
			run := func(op *basic.LimitOp, from, to int) {
				for _, b := range batches[from:to] {
					b.Retain()
					if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: b}, out); err != nil {
						t.Fatal(err)
					}
				}
			}
			tc := runtime.NewStandaloneTaskCtx(context.Background(), memory.DefaultAllocator, 0, 1, 0)
			a := &basic.LimitOp{N: n}
			if err := a.Open(tc); err != nil {
				t.Fatal(err)
			}
			run(a, 0, at)
			saved, err := a.PrepareCheckpoint(runtime.Barrier{ID: 1})
			if err != nil {
				t.Fatal(err)
			}
			b := &basic.LimitOp{N: n}
			if err := b.Open(tc); err != nil {
				t.Fatal(err)
			}
			if err := b.RestoreCheckpoint([][]byte{saved, nil}); err != nil {
				t.Fatal(err)
			}
			run(b, at, len(batches))
			if want := min(n, 24); out.rows != want {
				t.Fatalf("limit %d, checkpoint after batch %d: %d rows, want %d", n, at, out.rows, want)
			}
		}
	}
	if err := (&basic.LimitOp{N: 3}).RestoreCheckpoint([][]byte{{1, 2}}); err == nil {
		t.Fatal("a malformed checkpoint of a limit was accepted")
	}
}
