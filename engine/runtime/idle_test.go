package runtime

import (
	"sync"
	"testing"
	"time"
)

// wmOp records the watermarks it is given before its inputs end.
type wmOp struct {
	BaseOp
	tc     *TaskCtx
	mu     sync.Mutex
	seen   []int64
	any    chan struct{}
	once   sync.Once
	opened chan struct{}
}

func (o *wmOp) Open(tc *TaskCtx) error { o.tc = tc; close(o.opened); return nil }

func (o *wmOp) ProcessBatch(m Message, _ Emitter) error { m.Rec.Release(); return nil }

func (o *wmOp) ProcessWatermark(wm int64, _ Emitter) error {
	if wm != WatermarkMax {
		o.mu.Lock()
		o.seen = append(o.seen, wm)
		o.mu.Unlock()
		o.once.Do(func() { close(o.any) })
	}
	return nil
}

// idleRun runs two sources into one task: a sends a watermark of 100 and goes idle; b,
// once the task has read all of a's messages, sends what bMsgs gives. Both then wait for
// the task's first watermark (or 2 s) and end. It returns the watermarks the operator was
// given before the sources ended.
func idleRun(t *testing.T, bMsgs []Message) []int64 {
	t.Helper()
	op := &wmOp{any: make(chan struct{}), opened: make(chan struct{})}
	aSent := make(chan struct{})
	wait := func() {
		select {
		case <-op.any:
			time.Sleep(100 * time.Millisecond) // a later, wrong watermark would come now
		case <-time.After(2 * time.Second):
		}
	}
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 10}
	a := g.NewStage("a", 1)
	a.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			for _, m := range []Message{{Kind: MsgWatermark, N: 100}, {Kind: MsgIdle}} {
				if err := out.Emit(m); err != nil {
					return err
				}
			}
			close(aSent)
			wait()
			return nil
		}
	}
	b := g.NewStage("b", 1)
	b.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			<-aSent
			<-op.opened
			// The task has taken a's messages (and handled them: it takes the next
			// message only after).
			for op.tc.InputQueued(0) > 0 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(10 * time.Millisecond)
			for _, m := range bMsgs {
				if err := out.Emit(m); err != nil {
					return err
				}
			}
			wait()
			return nil
		}
	}
	st := g.NewStage("op", 1, Edge{From: a, Part: partForward}, Edge{From: b, Part: partForward})
	st.Chain("wm", func(int) Operator { return op })
	runJob(t, g, 1<<30)
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.seen
}

// When every input of a task is idle, the watermark goes to the highest an idle input
// sent (as Flink's StatusWatermarkValve): a's watermark, sent while b still held it back,
// is not lost when b goes idle after a.
func TestAllInputsIdleFlushTheHighestWatermark(t *testing.T) {
	if got := idleRun(t, []Message{{Kind: MsgIdle}}); len(got) != 1 || got[0] != 100 {
		t.Fatalf("watermarks while the job ran: %v, want [100]", got)
	}
}

// While an input is active, an idle input's higher watermark is not taken: the active
// one's holds.
func TestIdleInputDoesNotPassAnActiveOne(t *testing.T) {
	if got := idleRun(t, []Message{{Kind: MsgWatermark, N: 50}}); len(got) != 1 || got[0] != 50 {
		t.Fatalf("watermarks while the job ran: %v, want [50]", got)
	}
}
