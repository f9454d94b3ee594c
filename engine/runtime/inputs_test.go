package runtime

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// blockingOp blocks the input a control message arrives on, as barrier alignment will,
// and unblocks it once it has seen `release` batches of the other edge. It records the
// first value of every batch with the edge it came through.
type blockingOp struct {
	BaseOp
	tc      *TaskCtx
	release int
	seenB   int
	blocked int // the blocked input, or -1
	got     []struct {
		side int
		v    int64
	}
	// what the operator saw when it unblocked
	queuedAtRelease int
	usedAtRelease   int64
	sentAtRelease   int64
	sentA           *atomic.Int64
	controls        int
}

func (o *blockingOp) Open(tc *TaskCtx) error { o.tc = tc; o.blocked = -1; return nil }

func (o *blockingOp) ProcessControl(m Message, _ Emitter) error {
	o.controls++
	o.blocked = m.Input()
	o.tc.BlockInput(m.Input())
	return nil
}

func (o *blockingOp) ProcessBatch(m Message, _ Emitter) error {
	defer m.Rec.Release()
	o.got = append(o.got, struct {
		side int
		v    int64
	}{m.Side, m.Rec.Column(0).(*array.Int64).Value(0)})
	if m.Side == 1 {
		o.seenB++
		if o.seenB == o.release && o.blocked >= 0 {
			o.queuedAtRelease = o.tc.InputQueued(o.blocked)
			o.tc.Job.Budget.Mu.Lock()
			o.usedAtRelease = o.tc.Job.Budget.Used
			o.tc.Job.Budget.Mu.Unlock()
			o.sentAtRelease = o.sentA.Load()
			o.tc.UnblockInput(o.blocked)
			o.blocked = -1
		}
	}
	return nil
}

// A task reads each input on a channel of its own and can stop reading one: while input
// A is blocked (after its control message), input B still flows to the end of its rows;
// A's sender is held back with at most a channel's worth of batches queued and the job's
// byte budget respected; after the unblock every batch of A arrives, in order.
func TestBlockedInputIsHeldWhileOthersFlow(t *testing.T) {
	const nA, nB, rows = 40, 30, 1000
	one := filled(0, rows)
	batchSize := batchBytes(one) // bytes of one batch
	one.Release()
	limit := 3 * batchSize
	var sentA atomic.Int64
	op := &blockingOp{release: nB, sentA: &sentA}

	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: rows}
	srcA := g.NewStage("a", 1)
	srcA.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			if err := out.Emit(Message{Kind: MsgControl, Ctl: "barrier"}); err != nil {
				return err
			}
			for i := 0; i < nA; i++ {
				if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(1000+int64(i), rows), Seq: MakeSeq(0, int64(i), 0)}); err != nil {
					return err
				}
				sentA.Add(1)
			}
			return nil
		}
	}
	srcB := g.NewStage("b", 1)
	srcB.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			// Start once A's sender is held back: its queue holds what the budget allows
			// and it waits for bytes to be given back.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
				tc.Job.Budget.Mu.Lock()
				w := tc.Job.Budget.waiting
				tc.Job.Budget.Mu.Unlock()
				if w > 0 {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("A's sender was never held back by the budget")
				}
			}
			for i := 0; i < nB; i++ {
				if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(2000+int64(i), rows), Seq: MakeSeq(1, int64(i), 0)}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	st := g.NewStage("join", 1, Edge{From: srcA, Part: partForward}, Edge{From: srcB, Part: partForward})
	st.Chain("blocking", func(int) Operator { return op })

	runJob(t, g, limit) // fails if a blocked input stalls the others

	if op.controls != 1 {
		t.Fatalf("%d control messages reached the operator, want 1", op.controls)
	}
	var a, b []int64
	releasedAt := -1
	for i, g := range op.got {
		if g.side == 0 {
			a = append(a, g.v)
			if releasedAt < 0 {
				t.Fatalf("a batch of the blocked input was read while it was blocked (at %d)", i)
			}
		} else {
			b = append(b, g.v)
			if len(b) == nB {
				releasedAt = i
			}
		}
	}
	if len(a) != nA || len(b) != nB {
		t.Fatalf("got %d batches of A and %d of B, want %d and %d", len(a), len(b), nA, nB)
	}
	for i := range a {
		if a[i] != 1000+int64(i) {
			t.Fatalf("A out of order at %d: %v", i, a)
		}
	}
	for i := range b {
		if b[i] != 2000+int64(i) {
			t.Fatalf("B out of order at %d: %v", i, b)
		}
	}
	// While blocked, A's batches waited in its channel (at most its capacity) and its
	// sender was held: no more were sent than are queued, within the byte budget.
	if op.queuedAtRelease < 1 || int64(op.queuedAtRelease)*batchSize > limit {
		t.Errorf("%d batches queued on the blocked input, want 1 to what the budget holds (%d)", op.queuedAtRelease, limit/batchSize)
	}
	if op.sentAtRelease > int64(op.queuedAtRelease) {
		t.Errorf("A's source had sent %d batches with %d queued: it was not held back", op.sentAtRelease, op.queuedAtRelease)
	}
	if op.usedAtRelease > limit {
		t.Errorf("%d bytes queued, over the budget of %d", op.usedAtRelease, limit)
	}
}

func filled(v int64, n int) arrow.RecordBatch {
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = v
	}
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(int64Schema, []arrow.Array{a}, int64(n))
}

// dropMarkers drops split markers, as stateful operators do.
type dropMarkers struct{ BaseOp }

func (dropMarkers) ProcessBatch(m Message, out Emitter) error { return out.Emit(m) }
func (dropMarkers) ProcessMarker(Message, Emitter) error      { return nil }
func (dropMarkers) ProcessWatermark(int64, Emitter) error     { return nil }

// A control message passes through an operator that does not handle control, even one
// that drops every split marker; an operator that handles control sees it instead.
func TestControlPassesThroughOperators(t *testing.T) {
	out := &collectEmitter{}
	m := newOpMetrics(0, 0, 0, "x")
	link := &chainLink{op: dropMarkers{}, next: out, m: m}
	if err := link.Emit(Message{Kind: MsgSplitDone}); err != nil {
		t.Fatal(err)
	}
	if err := link.Emit(Message{Kind: MsgControl, Ctl: 42}); err != nil {
		t.Fatal(err)
	}
	if len(out.got) != 1 || out.got[0].Kind != MsgControl || out.got[0].Ctl != 42 {
		t.Fatalf("got %+v, want the control message only", out.got)
	}
	op := &blockingOp{}
	handled := &chainLink{op: op, next: out, m: m}
	op.tc = &TaskCtx{Job: &Job{}, task: &task{ins: []*inbox{{ch: make(chan Message, 1)}}}}
	if err := handled.Emit(Message{Kind: MsgControl, Ctl: 1}); err != nil {
		t.Fatal(err)
	}
	if op.controls != 1 || len(out.got) != 1 {
		t.Fatalf("the handling operator saw %d control messages and %d passed on", op.controls, len(out.got)-1)
	}
}
