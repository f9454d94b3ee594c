package runtime

import "github.com/riverbed-engine/riverbed/state"

// The seams between the checkpoint machinery (barriers, the coordinator, restore) and the
// operators that hold state. An operator implements KeyedState if it keeps keyed state,
// CheckpointHook if it keeps state or side effects that are not keyed (a sink's pending
// files); operators with neither need no change to be checkpointed.

// Barrier is the Ctl of a MsgControl that is a checkpoint barrier.
type Barrier struct {
	ID        uint64 // checkpoint id, increasing within a job and across its restarts
	Savepoint bool   // a savepoint: the portable format, into a user-given directory
	Final     bool   // stop-with-savepoint: sources stop after this barrier
}

// KeyedState is an operator whose keyed state is checkpointed, restored and redistributed
// by key group. Operators keep their hot state in their own purpose-built structures;
// at a checkpoint they write it into state tables, and after a restore they rebuild it
// from them, so snapshot files, restore and rescaling are written once, in state/.
type KeyedState interface {
	// StateTables declares the operator's tables. Their names and encodings are part of
	// the checkpoint format: a restore matches tables by name.
	StateTables() []state.TableSpec
	// SaveState writes the operator's whole keyed state into b, whose tables are the
	// declared ones, empty, over the subtask's key groups. Called in the subtask's
	// goroutine once the barrier is aligned, before the barrier is passed on; b is then
	// written into the checkpoint in the background while the operator goes on (b
	// copies what it is given, so the operator may change its own structures at once).
	SaveState(b state.Backend) error
	// LoadState rebuilds the operator's state from b after a restore, before any input.
	// b holds the key groups the subtask owns now, which may have come from several
	// subtasks of a run at another parallelism.
	LoadState(b state.Backend) error
}

// PreBarrier is an operator that holds back output it must emit before a checkpoint
// barrier passes it, such as a mini-batch of updates (Flink's prepareSnapshotPreBarrier):
// once the barrier is aligned, before any operator of the subtask snapshots, each
// PreBarrier of the chain (in chain order) emits what it holds, so that the rows reach the
// operators after it, and the downstream stages, ahead of the barrier, and its snapshot
// holds none of them.
type PreBarrier interface {
	FlushBeforeBarrier(out Emitter) error
}

// CheckpointHook is an operator with non-keyed checkpointed state or effects, such as a
// transactional sink (two-phase commit, as Flink's TwoPhaseCommitSinkFunction).
type CheckpointHook interface {
	// PrepareCheckpoint runs in the subtask's goroutine once barrier b is aligned, before
	// it is passed on. What it returns is stored in the checkpoint for this subtask
	// (e.g. a sink's pre-committed files).
	PrepareCheckpoint(b Barrier) ([]byte, error)
	// CheckpointComplete runs once checkpoint id is durable (its manifest written). A
	// sink commits there. It may run on another goroutine than the subtask's, and must
	// be idempotent.
	CheckpointComplete(id uint64) error
	// RestoreCheckpoint runs before any input after a restore, with what every subtask
	// of the restored run returned from PrepareCheckpoint (subtask 0 of the new run gets
	// all of it, a non-nil slice even if it holds no part; the others nil, so a sink's
	// pending files are committed exactly once). It runs after Open, on every subtask
	// concurrently: a subtask may wait in it for subtask 0.
	RestoreCheckpoint(parts [][]byte) error
}
