package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/state"
)

// loopSource emits one-row batches until the job stops it, injecting barriers between
// them (stopping after a Final barrier whose checkpoint completed).
func loopSource(tc *TaskCtx, out Emitter) error {
	for i := int64(0); !tc.Job.StopSources.Load(); i++ {
		if b, ok := tc.PollBarrier(); ok {
			if err := tc.InjectBarrier(b); err != nil {
				return err
			}
			if b.Final && tc.AwaitCheckpoint(b.ID) == nil {
				return nil
			}
		}
		if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(i, 1)}); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// stopSink records what a sink sees: rows, its checkpoint hook's calls, Finish and the
// job's end (Commit or Abort).
type stopSink struct {
	BaseOp
	failFinal bool // PrepareCheckpoint fails for a Final barrier

	mu        sync.Mutex
	rows      int
	events    []string
	completed []uint64
}

func (o *stopSink) log(e string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, e)
}

func (o *stopSink) Open(tc *TaskCtx) error { tc.Job.AddCommitter(o); return nil }
func (o *stopSink) ProcessBatch(m Message, _ Emitter) error {
	m.Rec.Release()
	o.mu.Lock()
	o.rows++
	o.mu.Unlock()
	return nil
}
func (o *stopSink) Finish(Emitter) error { o.log("finish"); return nil }
func (o *stopSink) PrepareCheckpoint(b Barrier) ([]byte, error) {
	if b.Final && o.failFinal {
		return nil, errors.New("no")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("prepare final=%v after %d rows", b.Final, o.rows))
	return nil, nil
}
func (o *stopSink) CheckpointComplete(id uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.completed = append(o.completed, id)
	return nil
}
func (o *stopSink) RestoreCheckpoint([][]byte) error { return nil }
func (o *stopSink) Commit() error                    { o.log("commit"); return nil }
func (o *stopSink) Abort()                           { o.log("abort") }

func runStopped(t *testing.T, sink *stopSink, drain bool) *Job {
	t.Helper()
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 10}
	g.NodeID = "src"
	src := g.NewStage("src", 1)
	src.Source = func(int) SourceFn { return loopSource }
	g.NodeID = "sink"
	st := g.NewStage("sink", 1, Edge{From: src, Part: partForward})
	st.Chain("sink", func(int) Operator { return sink })
	storage, _ := state.NewStorage(t.TempDir(), 5)
	j := NewJob(context.Background(), nil, memory.DefaultAllocator, 0)
	j.SetCheckpointing(CheckpointConfig{Storage: storage, MaxParallelism: 128})
	j.Launch(g, func() {}, nil)
	if _, err := j.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // rows after the checkpoint
	j.Stop(drain)
	done := make(chan error, 1)
	go func() { done <- j.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		j.Cancel()
		t.Fatal("the job did not stop")
	}
	return j
}

// Stopped without drain, a checkpointed job ends at a checkpoint: the sources stop right
// after its barrier (no row reaches the sink after it), the sink does not finish (pending
// windows stay in the state), the checkpoint completes and the job commits its sinks.
func TestStopWithoutDrainEndsAtACheckpoint(t *testing.T) {
	sink := &stopSink{}
	j := runStopped(t, sink, false)
	cs := j.Checkpoints()
	if len(cs) != 2 {
		t.Fatalf("checkpoints %+v, want the one taken and the stop's", cs)
	}
	last := cs[1].ID
	want := []string{"prepare final=false", "prepare final=true", "commit"}
	if got := eventsWithoutRows(sink.events); !slices.Equal(got, want) {
		t.Fatalf("sink events %v, want %v", sink.events, want)
	}
	if ev := sink.events[1]; ev != fmt.Sprintf("prepare final=true after %d rows", sink.rows) {
		t.Fatalf("%d rows in all, but the stop's barrier came at %q: rows came after it", sink.rows, ev)
	}
	if !slices.Contains(sink.completed, last) {
		t.Fatalf("the sink was told of checkpoints %v, not of the stop's %d", sink.completed, last)
	}
}

// Stopped with drain, the sink finishes, prepares its last part and a final checkpoint
// (after the one taken) commits it; then the job commits its sinks.
func TestStopWithDrainEndsWithAFinalCheckpoint(t *testing.T) {
	sink := &stopSink{}
	j := runStopped(t, sink, true)
	cs := j.Checkpoints()
	if len(cs) != 2 {
		t.Fatalf("checkpoints %+v, want the one taken and the final one", cs)
	}
	want := []string{"prepare final=false", "finish", "prepare final=true", "commit"}
	if got := eventsWithoutRows(sink.events); !slices.Equal(got, want) {
		t.Fatalf("sink events %v, want %v", sink.events, want)
	}
	if !slices.Contains(sink.completed, cs[1].ID) {
		t.Fatalf("the sink was told of checkpoints %v, not of the final %d", sink.completed, cs[1].ID)
	}
}

// If the stop's checkpoint fails, the job stops at once, and its sinks commit nothing
// after its last checkpoint (a restore from it reads those rows again): they are aborted.
func TestStopWhoseCheckpointFailsCommitsNothingMore(t *testing.T) {
	sink := &stopSink{failFinal: true}
	j := runStopped(t, sink, false)
	if cs := j.Checkpoints(); len(cs) != 1 {
		t.Fatalf("checkpoints %+v, want only the one taken", cs)
	}
	want := []string{"prepare final=false", "abort"}
	if got := eventsWithoutRows(sink.events); !slices.Equal(got, want) {
		t.Fatalf("sink events %v, want %v", sink.events, want)
	}
	if c := j.CheckpointCounters(); c.Failed != 1 {
		t.Fatalf("counters %+v: the stop's checkpoint should have failed", c)
	}
}

func eventsWithoutRows(evs []string) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		var final bool
		var n int
		if _, err := fmt.Sscanf(e, "prepare final=%t after %d rows", &final, &n); err == nil {
			e = fmt.Sprintf("prepare final=%v", final)
		}
		out[i] = e
	}
	return out
}

// tickOp passes batches on and emits a row of its own on every tick (as state expiry
// or a processing-time timer emits).
type tickOp struct{ BaseOp }

func (tickOp) ProcessBatch(m Message, out Emitter) error { return out.Emit(m) }
func (tickOp) TickInterval() time.Duration               { return time.Millisecond }
func (tickOp) OnTick(out Emitter) error {
	return out.Emit(Message{Kind: MsgBatch, Rec: filled(-1, 1)})
}

// Stopped without drain, a task does no processing-time work after the stop's barrier:
// what it would emit is in no checkpoint, yet the sinks commit what they got when the
// job ends at its savepoint (a restored job then emitted it again, or took back rows
// the result no longer held). An operator that emits on every tick, chained before the
// sink, emits nothing after the barrier, while it had emitted before it.
func TestStopWithoutDrainEndsProcessingTimeWorkAtItsBarrier(t *testing.T) {
	sink := &stopSink{}
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 10}
	g.NodeID = "src"
	src := g.NewStage("src", 1)
	src.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			for !tc.Job.StopSources.Load() {
				if b, ok := tc.PollBarrier(); ok {
					if err := tc.InjectBarrier(b); err != nil {
						return err
					}
					if b.Final && tc.AwaitCheckpoint(b.ID) == nil {
						time.Sleep(20 * time.Millisecond) // ticks would come meanwhile
						return nil
					}
				}
				time.Sleep(time.Millisecond)
			}
			return nil
		}
	}
	g.NodeID = "sink"
	st := g.NewStage("sink", 1, Edge{From: src, Part: partForward})
	st.Chain("tick", func(int) Operator { return tickOp{} })
	st.Chain("sink", func(int) Operator { return sink })
	storage, _ := state.NewStorage(t.TempDir(), 5)
	j := NewJob(context.Background(), nil, memory.DefaultAllocator, 0)
	j.SetCheckpointing(CheckpointConfig{Storage: storage, MaxParallelism: 128})
	j.Launch(g, func() {}, nil)
	time.Sleep(20 * time.Millisecond)
	j.Stop(false)
	if err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var at int
	for _, ev := range sink.events {
		if _, err := fmt.Sscanf(ev, "prepare final=true after %d rows", &at); err == nil {
			break
		}
	}
	if at == 0 || sink.rows != at {
		t.Fatalf("%d rows reached the sink, %d of them before the stop's barrier (events %v): ticks went on after it", sink.rows, at, sink.events)
	}
}
