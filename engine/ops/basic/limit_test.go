package basic_test

import (
	"context"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// collected keeps the values of column x of the rows emitted.
type collected struct{ xs []int64 }

func (c *collected) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		c.xs = append(c.xs, m.Rec.Column(0).(*array.Int64).Int64Values()...)
		m.Rec.Release()
	}
	return nil
}

// A limit restored from a checkpoint counts the rows it passed before it: over the run
// and its restore it passes exactly the rows from offset to offset + n (a slice), wherever
// the checkpoint falls.
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
	for _, c := range [][2]int64{{0, 0}, {3, 0}, {4, 0}, {10, 0}, {24, 0}, {30, 0}, {3, 1}, {5, 3}, {10, 6}, {30, 5},
		{4, 22}, {2, 24}, {0, 7}} {
		n, offset := c[0], c[1]
		for at := 0; at <= len(batches); at++ {
			out := &collected{}
			run := func(op *basic.LimitOp, from, to int) {
				for _, b := range batches[from:to] {
					b.Retain()
					if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: b}, out); err != nil {
						t.Fatal(err)
					}
				}
			}
			tc := runtime.NewStandaloneTaskCtx(context.Background(), memory.DefaultAllocator, 0, 1, 0)
			a := &basic.LimitOp{N: n, Offset: offset}
			if err := a.Open(tc); err != nil {
				t.Fatal(err)
			}
			run(a, 0, at)
			saved, err := a.PrepareCheckpoint(runtime.Barrier{ID: 1})
			if err != nil {
				t.Fatal(err)
			}
			b := &basic.LimitOp{N: n, Offset: offset}
			if err := b.Open(tc); err != nil {
				t.Fatal(err)
			}
			if err := b.RestoreCheckpoint([][]byte{saved, nil}); err != nil {
				t.Fatal(err)
			}
			run(b, at, len(batches))
			var want []int64
			for x := offset; x < min(offset+n, 24); x++ {
				want = append(want, x)
			}
			if !slices.Equal(out.xs, want) {
				t.Fatalf("limit %d offset %d, checkpoint after batch %d: rows %v, want %v", n, offset, at, out.xs, want)
			}
		}
	}
	if err := (&basic.LimitOp{N: 3}).RestoreCheckpoint([][]byte{{1, 2}}); err == nil {
		t.Fatal("a malformed checkpoint of a limit was accepted")
	}
}
