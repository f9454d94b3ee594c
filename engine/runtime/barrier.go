package runtime

import (
	"context"
	"os"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Barrier alignment in a task (Flink's aligned checkpoints): when the barrier of
// checkpoint n arrives on an input channel, that channel is blocked (its messages wait in
// it, its sender is held back once it is full or the budget is spent) until the barrier
// has arrived on every input channel, or the channel has ended. Then the task's chained
// operators save their state, the task passes the barrier on, and it acknowledges the
// barrier to the coordinator once the saved state is written (see snapwrite.go).
// A barrier of a checkpoint that is no longer in flight (aborted) is dropped, and an
// alignment waiting for one is abandoned, so an aborted checkpoint never holds an input.

type alignment struct {
	active  bool
	b       Barrier
	arrived []bool
}

func (t *task) onBarrier(tc *TaskCtx, ch int, b Barrier) error {
	c := tc.Job.ckpt
	if c == nil || c.pendingID() != b.ID {
		return t.abandon(tc) // a barrier of an aborted checkpoint: drop it
	}
	a := &t.align
	if a.active && a.b.ID != b.ID {
		t.unblockAll(tc)
		a.active = false
	}
	if !a.active {
		a.active, a.b, a.arrived = true, b, make([]bool, len(t.ins))
	}
	if a.arrived[ch] {
		return nil
	}
	a.arrived[ch] = true
	tc.BlockInput(ch)
	return t.maybeAligned(tc)
}

// onInputEnded counts an ended input as aligned.
func (t *task) onInputEnded(tc *TaskCtx) error {
	if err := t.abandon(tc); err != nil {
		return err
	}
	return t.maybeAligned(tc)
}

// abandon ends an alignment for a checkpoint that was aborted meanwhile.
func (t *task) abandon(tc *TaskCtx) error {
	a := &t.align
	if a.active && (tc.Job.ckpt == nil || tc.Job.ckpt.pendingID() != a.b.ID) {
		t.unblockAll(tc)
		a.active = false
	}
	return nil
}

func (t *task) maybeAligned(tc *TaskCtx) error {
	a := &t.align
	if !a.active {
		return nil
	}
	for i, in := range t.ins {
		if !a.arrived[i] && !in.ended {
			return nil
		}
	}
	t.unblockAll(tc)
	a.active = false
	return t.checkpoint(tc, a.b)
}

func (t *task) unblockAll(tc *TaskCtx) {
	for i := range t.ins {
		tc.UnblockInput(i)
	}
}

// checkpoint takes the task's part of checkpoint b: its operators save their state (the
// synchronous part), the barrier is passed on at once, and the saved state is written in
// the background, which acknowledges the checkpoint when done (see snapwrite.go). A
// failed save or write fails the checkpoint, not the job.
func (t *task) checkpoint(tc *TaskCtx, b Barrier) error {
	c := tc.Job.ckpt
	if c.writer(b.ID) == nil {
		return nil // aborted meanwhile
	}
	for i, op := range t.chain {
		if pb, ok := op.(PreBarrier); ok {
			if err := pb.FlushBeforeBarrier(t.outs[i]); err != nil {
				return err
			}
		}
	}
	// One write at a time: the previous checkpoint's has acknowledged (this barrier
	// could not come before it completed) or belongs to an aborted checkpoint, and stops.
	t.awaitWrite(false)
	parts, serr := t.save(c, b)
	// After the barrier of a stop with a savepoint (sources stop after it), what the task
	// emits is in no checkpoint: a stop without drain ends here (Flink stops its timers
	// at a synchronous savepoint too).
	t.stopping = t.stopping || b.Final
	if err := t.head.Emit(Message{Kind: MsgControl, Ctl: b}); err != nil {
		closeParts(parts)
		return err
	}
	if serr != nil {
		c.ack(t, b.ID, serr)
		return nil
	}
	t.startWrite(c, b.ID, parts)
	return nil
}

// newBackend makes an empty state backend for a KeyedState operator of task t, over the
// key groups the subtask owns.
func (c *coordinator) newBackend(t *task, ks KeyedState) (state.Backend, error) {
	lo, hi := state.Range(t.index, c.cfg.MaxParallelism, t.stage.Parallel)
	dir := c.cfg.WorkDir
	if dir == "" {
		dir = os.TempDir()
	}
	return state.NewBackend(state.Options{Backend: c.cfg.Backend, Tables: ks.StateTables(),
		MaxParallelism: c.cfg.MaxParallelism, KeyGroupStart: lo, KeyGroupEnd: hi, Dir: dir, MemoryLimit: c.cfg.MemoryLimit})
}

// restore loads the task's operators from the checkpoint the job restores, before any
// input: keyed state by key group (from any parallelism), and hook parts (subtask 0 gets
// those of every subtask of the earlier run, the others none).
func (t *task) restore(tc *TaskCtx) error {
	c := tc.Job.ckpt
	if c == nil || c.cfg.Restore == nil {
		return nil
	}
	cp := c.cfg.Restore
	for i, op := range t.chain {
		id := t.stage.opIDs[i]
		if ks, ok := op.(KeyedState); ok {
			be, err := c.newBackend(t, ks)
			if err != nil {
				return err
			}
			err = be.Restore([]*state.Checkpoint{cp}, id)
			if err == nil {
				err = ks.LoadState(be)
			}
			if cerr := be.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "restoring the state of %s", id)
			}
		}
		if h, ok := op.(CheckpointHook); ok {
			var parts [][]byte
			if t.index == 0 {
				// Non-nil even without parts (an operator new to the plan), so that
				// subtask 0 can tell that the restore is its to do.
				parts = [][]byte{}
				files, _ := hookParts(cp, id)
				for _, f := range files {
					data, err := os.ReadFile(cp.Path(f))
					if err != nil {
						return rberr.Wrap(rberr.IO, err, "restoring %s", id)
					}
					parts = append(parts, data)
				}
			}
			if err := h.RestoreCheckpoint(parts); err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "restoring %s", id)
			}
		}
	}
	return nil
}

// PollBarrier returns the barrier a source subtask is to inject now, if there is one.
// Sources call it between batches.
func (tc *TaskCtx) PollBarrier() (Barrier, bool) {
	if tc.task == nil || tc.task.barrierIn == nil {
		return Barrier{}, false
	}
	select {
	case b := <-tc.task.barrierIn:
		return b, true
	default:
		return Barrier{}, false
	}
}

// InjectBarrier is called by a source subtask once it has recorded its position for
// barrier b: the subtask's operators snapshot, the barrier goes downstream and the
// subtask acknowledges it.
func (tc *TaskCtx) InjectBarrier(b Barrier) error { return tc.task.checkpoint(tc, b) }

// AwaitCheckpoint waits until checkpoint id has completed (nil) or failed.
func (tc *TaskCtx) AwaitCheckpoint(id uint64) error { return tc.Job.AwaitCheckpoint(tc.Ctx, id) }

// AwaitCheckpoint waits until checkpoint id has completed (nil) or failed.
func (j *Job) AwaitCheckpoint(ctx context.Context, id uint64) error {
	c := j.ckpt
	c.mu.Lock()
	p := c.pending
	if p == nil || p.b.ID != id {
		err, ok := c.outcome[id]
		c.mu.Unlock()
		if !ok {
			return rberr.New(rberr.Internal, "checkpoint %d is unknown", id)
		}
		return err
	}
	c.mu.Unlock()
	select {
	case <-p.done:
		return p.result
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SourceShared returns what the subtasks of a source stage share, made by mk by the first
// subtask that asks. If it implements SourcePositioner, the coordinator asks it for the
// stage's positions at every checkpoint.
func (tc *TaskCtx) SourceShared(mk func() any) any {
	s := tc.task.stage
	s.sharedMu.Lock()
	defer s.sharedMu.Unlock()
	if s.shared == nil {
		s.shared = mk()
	}
	return s.shared
}

// RestoredPositions returns the positions of this source stage's splits in the checkpoint
// the job restores (nil: none, start from the beginning), and whether there is a restore.
func (tc *TaskCtx) RestoredPositions() ([]state.SourcePosition, bool) {
	c := tc.Job.ckpt
	if c == nil || c.cfg.Restore == nil {
		return nil, false
	}
	var out []state.SourcePosition
	for _, sp := range c.cfg.Restore.Manifest.Sources {
		if sp.Source == tc.task.stage.NodeID {
			out = append(out, sp)
		}
	}
	return out, true
}

// OpenCheckpoint is the lowest checkpoint id that can still complete: the one in flight,
// else the next to be triggered. What a source finished before injecting a lower id's
// barrier belongs to every checkpoint to come.
func (tc *TaskCtx) OpenCheckpoint() uint64 {
	c := tc.Job.ckpt
	if c == nil {
		return 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending != nil {
		return c.pending.b.ID
	}
	return c.nextID
}

// Parallel is the number of subtasks (see also Parallelism).
func (tc *TaskCtx) Parallel() int { return tc.parallel }
