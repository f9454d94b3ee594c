package runtime

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/state"
)

// orderOp records what reaches it: batches (their first value) and barriers.
type orderOp struct {
	BaseOp
	events []string
	tc     *TaskCtx
	// bytes queued in the job's budget when the barrier passed
	usedAtBarrier int64
}

func (o *orderOp) Open(tc *TaskCtx) error { o.tc = tc; return nil }

func (o *orderOp) ProcessBatch(m Message, _ Emitter) error {
	defer m.Rec.Release()
	o.events = append(o.events, fmt.Sprintf("%d", m.Rec.Column(0).(*array.Int64).Value(0)))
	return nil
}

func (o *orderOp) ProcessControl(m Message, out Emitter) error {
	if b, ok := m.Ctl.(Barrier); ok {
		o.events = append(o.events, fmt.Sprintf("barrier %d", b.ID))
	}
	return out.Emit(m)
}

// waitBarrier polls for the barrier a source subtask is to inject.
func waitBarrier(tc *TaskCtx) (Barrier, error) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if b, ok := tc.PollBarrier(); ok {
			return b, nil
		}
		if time.Now().After(deadline) {
			return Barrier{}, fmt.Errorf("no barrier came")
		}
	}
}

// A task with two inputs aligns a barrier: input A, whose barrier came first, is not read
// until B's barrier has come (B's rows flow meanwhile), A's sender is held back by the
// budget (a blocked input does not grow memory), and the barrier passes the operator
// after every row sent before it on either input and before any row sent after it.
func TestBarrierAlignmentWithTwoInputs(t *testing.T) {
	const rows, nAfter = 1000, 40
	one := filled(0, rows)
	limit := 3 * batchBytes(one)
	one.Release()
	var sentAfterA atomic.Int64
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: rows}
	g.NodeID = "a"
	srcA := g.NewStage("a", 1)
	srcA.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			for i := 0; i < 2; i++ {
				if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(100+int64(i), rows), Seq: MakeSeq(0, int64(i), 0)}); err != nil {
					return err
				}
			}
			b, err := waitBarrier(tc)
			if err != nil {
				return err
			}
			if err := tc.InjectBarrier(b); err != nil {
				return err
			}
			for i := 0; i < nAfter; i++ {
				if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(1000+int64(i), rows), Seq: MakeSeq(0, int64(2+i), 0)}); err != nil {
					return err
				}
				sentAfterA.Add(1)
			}
			return nil
		}
	}
	g.NodeID = "b"
	srcB := g.NewStage("b", 1)
	srcB.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			b, err := waitBarrier(tc)
			if err != nil {
				return err
			}
			// Wait until A's sender is held back: A's input is blocked.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
				tc.Job.Budget.Mu.Lock()
				w := tc.Job.Budget.waiting
				tc.Job.Budget.Mu.Unlock()
				if w > 0 {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("A's sender was never held back")
				}
			}
			for i := 0; i < 3; i++ {
				if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(200+int64(i), rows), Seq: MakeSeq(1, int64(i), 0)}); err != nil {
					return err
				}
			}
			if sentAfterA.Load() >= nAfter {
				return fmt.Errorf("A sent all its rows while its input was blocked")
			}
			if err := tc.InjectBarrier(b); err != nil {
				return err
			}
			return out.Emit(Message{Kind: MsgBatch, Rec: filled(300, rows), Seq: MakeSeq(1, 3, 0)})
		}
	}
	g.NodeID = "join"
	st := g.NewStage("join", 1, Edge{From: srcA, Part: partForward}, Edge{From: srcB, Part: partForward})
	op := &orderOp{}
	st.Chain("order", func(int) Operator { return op })

	dir := t.TempDir()
	storage, err := state.NewStorage(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	j := NewJob(context.Background(), nil, memory.DefaultAllocator, limit)
	j.SetCheckpointing(CheckpointConfig{Storage: storage, MaxParallelism: 128, FirstID: 7})
	j.Launch(g, func() {}, nil)
	id, err := j.TriggerCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if id != 7 {
		t.Fatalf("first checkpoint id %d, want 7", id)
	}
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
	if err := j.AwaitCheckpoint(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	at := -1
	for i, e := range op.events {
		if e == "barrier 7" {
			at = i
		}
	}
	if at < 0 {
		t.Fatalf("the barrier never passed: %v", op.events)
	}
	before := map[string]bool{}
	for _, e := range op.events[:at] {
		before[e] = true
	}
	for _, want := range []string{"100", "101", "200", "201", "202"} {
		if !before[want] {
			t.Fatalf("batch %s, sent before the barrier, came after it: %v", want, op.events)
		}
	}
	for _, e := range op.events[:at] {
		if e == "300" || (len(e) == 4 && e[0] == '1') {
			t.Fatalf("batch %s, sent after the barrier, came before it: %v", e, op.events)
		}
	}
	if len(op.events) != 2+nAfter+4+1 {
		t.Fatalf("%d events, want %d", len(op.events), 2+nAfter+4+1)
	}
	if c := j.CheckpointCounters(); !c.Enabled || c.Completed < 1 || c.Failed != 0 || c.LastID < 7 {
		t.Fatalf("counters %+v", c)
	}
	ids, _ := storage.Completed()
	if len(ids) == 0 || ids[0] != 7 {
		t.Fatalf("completed checkpoints %v, want 7 first", ids)
	}
}

// A checkpoint taken while no source runs any more is refused, and a job whose sources
// have all ended takes a final checkpoint, which a restore reads nothing from.
func TestNoCheckpointAfterSourcesEnded(t *testing.T) {
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 10}
	g.NodeID = "a"
	src := g.NewStage("a", 1)
	release := make(chan struct{})
	src.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error { return out.Emit(Message{Kind: MsgBatch, Rec: filled(1, 10)}) }
	}
	g.NodeID = "sink"
	st := g.NewStage("sink", 1, Edge{From: src, Part: partForward})
	st.Chain("wait", func(int) Operator { return &waitOp{release: release} })
	storage, _ := state.NewStorage(t.TempDir(), 3)
	j := NewJob(context.Background(), nil, memory.DefaultAllocator, 0)
	j.SetCheckpointing(CheckpointConfig{Storage: storage, MaxParallelism: 128})
	j.Launch(g, func() {}, nil)
	// The source ends at once; the sink waits until released.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		j.ckpt.mu.Lock()
		n := len(j.ckpt.finished)
		j.ckpt.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the source did not end")
		}
	}
	if _, err := j.TriggerCheckpoint(); err == nil {
		t.Fatal("a checkpoint was triggered with every source ended")
	}
	close(release)
	if err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	cs := j.Checkpoints()
	if len(cs) != 1 {
		t.Fatalf("%d checkpoints, want the final one", len(cs))
	}
}

type waitOp struct {
	BaseOp
	release chan struct{}
}

func (o *waitOp) ProcessBatch(m Message, _ Emitter) error {
	m.Rec.Release()
	<-o.release
	return nil
}

// partHook is a checkpoint hook whose part says when it was prepared.
type partHook struct {
	BaseOp
}

func (o *partHook) ProcessBatch(m Message, _ Emitter) error { m.Rec.Release(); return nil }
func (o *partHook) PrepareCheckpoint(b Barrier) ([]byte, error) {
	if b.Final {
		return []byte("finished"), nil
	}
	return []byte(fmt.Sprintf("barrier %d", b.ID)), nil
}
func (o *partHook) CheckpointComplete(uint64) error  { return nil }
func (o *partHook) RestoreCheckpoint([][]byte) error { return nil }

// A task that snapshots checkpoint n at its barrier and then finishes while n is still in
// flight (another source holds its barrier back) keeps its barrier part in n: the part it
// prepares on finishing (rows after the barrier) belongs to the checkpoints after n.
func TestFinishedTaskPartBelongsToLaterCheckpoints(t *testing.T) {
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 10}
	hold := make(chan struct{})
	g.NodeID = "a"
	srcA := g.NewStage("a", 1)
	srcA.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			b, err := waitBarrier(tc)
			if err != nil {
				return err
			}
			if err := tc.InjectBarrier(b); err != nil {
				return err
			}
			return out.Emit(Message{Kind: MsgBatch, Rec: filled(1, 10)})
		}
	}
	g.NodeID = "b"
	srcB := g.NewStage("b", 1)
	srcB.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			b, err := waitBarrier(tc)
			if err != nil {
				return err
			}
			<-hold
			return tc.InjectBarrier(b)
		}
	}
	g.NodeID = "sink"
	st := g.NewStage("sink", 1, Edge{From: srcA, Part: partForward})
	st.Chain("hook", func(int) Operator { return &partHook{} })
	storage, _ := state.NewStorage(t.TempDir(), 5)
	j := NewJob(context.Background(), nil, memory.DefaultAllocator, 0)
	j.SetCheckpointing(CheckpointConfig{Storage: storage, MaxParallelism: 128})
	j.Launch(g, func() {}, nil)
	id, err := j.TriggerCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	// Source a and the sink end; b holds checkpoint id's barrier until then.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		j.ckpt.mu.Lock()
		n := len(j.ckpt.finished)
		j.ckpt.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("source a and the sink did not end")
		}
	}
	close(hold)
	if err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	cs := j.Checkpoints()
	if len(cs) != 2 || cs[0].ID != id {
		t.Fatalf("checkpoints %+v, want %d and the final one", cs, id)
	}
	for i, want := range []string{fmt.Sprintf("barrier %d", id), "finished"} {
		cp, err := state.OpenCheckpoint(cs[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(cp.Path(hookFile("sink", 0)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("checkpoint %d holds the sink's part %q, want %q", cs[i].ID, got, want)
		}
	}
}
