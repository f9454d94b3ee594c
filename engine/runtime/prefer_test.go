package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// preferringOp prefers input 1 (holding the other back or not) and records the input of
// every batch and every end of input, in order.
type preferringOp struct {
	BaseOp
	hold   bool
	events []int // the side of each batch; -1-side for the end of side
}

func (o *preferringOp) PreferredInput() (int, bool) { return 1, o.hold }

func (o *preferringOp) EndInput(side int, _ Emitter) error {
	o.events = append(o.events, -1-side)
	return nil
}

func (o *preferringOp) ProcessBatch(m Message, _ Emitter) error {
	m.Rec.Release()
	o.events = append(o.events, m.Side)
	return nil
}

func emitN(n int, base int64) func(int) SourceFn {
	return func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			for i := 0; i < n; i++ {
				if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(base+int64(i), 100), Seq: MakeSeq(0, int64(i), 0)}); err != nil {
					return err
				}
			}
			return nil
		}
	}
}

// runJob runs the graph with a byte budget of limit and fails t if it fails or does not
// end within a minute (a stall).
func runJob(t *testing.T, g *Graph, limit int64) {
	t.Helper()
	j := NewJob(context.Background(), nil, memory.DefaultAllocator, limit)
	j.Launch(g, func() {}, nil)
	done := make(chan error, 1)
	go func() { done <- j.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		j.Cancel()
		t.Fatal("the job did not end")
	}
}

// A stage whose operator prefers an input and holds the others back reads every batch of
// that input before any of the others (whose senders wait, within the byte budget), is
// told when it has ended (once, after its last batch), and then reads the rest.
func TestPreferredInputIsReadWholeFirst(t *testing.T) {
	const n = 50
	one := filled(0, 100)
	limit := 3 * batchBytes(one)
	one.Release()
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 100}
	a := g.NewStage("a", 1)
	a.Source = emitN(n, 0)
	b := g.NewStage("b", 2) // two channels of the preferred input
	b.Source = emitN(n, 1000)
	op := &preferringOp{hold: true}
	st := g.NewStage("join", 1, Edge{From: a, Part: PartGather}, Edge{From: b, Part: PartGather})
	st.Chain("prefer", func(int) Operator { return op })
	runJob(t, g, limit)
	var want []int
	for i := 0; i < 2*n; i++ {
		want = append(want, 1)
	}
	want = append(want, -2)
	for i := 0; i < n; i++ {
		want = append(want, 0)
	}
	want = append(want, -1)
	if len(op.events) != len(want) {
		t.Fatalf("%d events, want %d: %v", len(op.events), len(want), op.events)
	}
	for i := range want {
		if op.events[i] != want[i] {
			t.Fatalf("event %d is %d, want %d: %v", i, op.events[i], want[i], op.events)
		}
	}
}

// Inputs that share an upstream are only preferred, not held back: the upstream feeds
// both, and a held input would stall it. The job ends, every batch read.
func TestPreferredInputOfSharedUpstreamDoesNotStall(t *testing.T) {
	const n = 200
	one := filled(0, 100)
	limit := 3 * batchBytes(one)
	one.Release()
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 100}
	src := g.NewStage("src", 1)
	src.Source = emitN(n, 0)
	op := &preferringOp{}
	st := g.NewStage("join", 1, Edge{From: src, Part: PartGather}, Edge{From: src, Part: PartGather})
	st.Chain("prefer", func(int) Operator { return op })
	runJob(t, g, limit)
	count := [2]int{}
	for _, e := range op.events {
		if e >= 0 {
			count[e]++
		}
	}
	if count != [2]int{n, n} {
		t.Fatalf("read %v batches, want %d of each", count, n)
	}
}
