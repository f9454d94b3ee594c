package sink

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The write_parquet sink's two-phase commit (as Flink's FileSink), through
// runtime.CheckpointHook:
//
//   - PrepareCheckpoint (barrier aligned): the open file is finished and fsynced under its
//     hidden in-progress name (pre-commit); the checkpoint stores every file pre-committed
//     so far and not yet known to be committed, with the checkpoint it belongs to.
//   - CheckpointComplete(id) (the checkpoint's manifest is durable): the files of
//     checkpoints up to id are renamed into place and the directory fsynced. Idempotent.
//   - RestoreCheckpoint (restore, before any input): subtask 0 gets every former
//     subtask's state and commits all of its files (they belong to the restored
//     checkpoint, which is complete; committing again is harmless), completes commits
//     that a crash interrupted, and removes every other in-progress file of the sink in
//     the directory: rows written after the checkpoint, which the sources replay. The
//     restored run's own files are kept (its other subtasks may already be writing).
//
// A sink's state is small JSON, so it reads back at any parallelism: file names carry the
// run, so the restored run never reuses a name whatever its parallelism.

// checkpointState is what a subtask of the sink stores in a checkpoint.
type checkpointState struct {
	Version int               `json:"version"`
	Dir     string            `json:"dir"` // absolute: the files are committed where they are
	Pending []checkpointFiles `json:"pending,omitempty"`
}

// checkpointFiles are the files pre-committed at one checkpoint.
type checkpointFiles struct {
	Checkpoint uint64              `json:"checkpoint"`
	Files      []batch.PendingFile `json:"files"`
}

const stateVersion = 1

var _ runtime.CheckpointHook = (*WriteParquetOp)(nil)

// PrepareCheckpoint pre-commits the subtask's files and returns the sink's state.
func (o *WriteParquetOp) PrepareCheckpoint(b runtime.Barrier) ([]byte, error) {
	if o.w == nil {
		return nil, rberr.New(rberr.Internal, "write_parquet: checkpoint %d before the sink was opened", b.ID)
	}
	p, err := o.w.PreCommit()
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "write_parquet into %q: cannot pre-commit for checkpoint %d", o.Dir, b.ID)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "write_parquet: cannot resolve the output directory %q", o.Dir)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(p.Files) > 0 {
		o.pending = append(o.pending, checkpointFiles{Checkpoint: b.ID, Files: p.Files})
	}
	data, err := json.Marshal(checkpointState{Version: stateVersion, Dir: dir, Pending: o.pending})
	if err != nil {
		return nil, rberr.Wrap(rberr.Internal, err, "write_parquet: cannot encode the checkpoint state")
	}
	return data, nil
}

// CheckpointComplete commits the files pre-committed at checkpoints up to id.
func (o *WriteParquetOp) CheckpointComplete(id uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var files []batch.PendingFile
	n := 0
	for _, c := range o.pending {
		if c.Checkpoint > id {
			break
		}
		files = append(files, c.Files...)
		n++
	}
	if n == 0 {
		return nil
	}
	if err := o.w.CommitPreCommitted(files); err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "write_parquet into %q: cannot commit checkpoint %d", o.Dir, id)
	}
	o.pending = append(o.pending[:0:0], o.pending[n:]...)
	return nil
}

// RestoreCheckpoint commits the restored checkpoint's files and removes the in-progress
// leftovers of earlier runs (on subtask 0, which gets every former subtask's state).
func (o *WriteParquetOp) RestoreCheckpoint(parts [][]byte) error {
	if o.tc == nil {
		return rberr.New(rberr.Internal, "write_parquet: restore before the sink was opened")
	}
	if o.Subtask != 0 {
		return nil // subtask 0 restores the sink for all
	}
	dirs := []string{o.Dir}
	for i, part := range parts {
		if len(part) == 0 {
			continue
		}
		var st checkpointState
		if err := json.Unmarshal(part, &st); err != nil || st.Version != stateVersion || st.Dir == "" {
			return rberr.New(rberr.Data, "write_parquet into %q: the checkpoint state of former subtask %d is damaged or of another version", o.Dir, i)
		}
		for _, c := range st.Pending {
			for _, f := range c.Files {
				if filepath.Base(f.InProgress) != f.InProgress || filepath.Base(f.Final) != f.Final {
					return rberr.New(rberr.Data, "write_parquet into %q: the checkpoint state of former subtask %d names a file outside its directory", o.Dir, i)
				}
			}
			if err := batch.CommitPending(st.Dir, batch.Pending{Files: c.Files}); err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "write_parquet: cannot commit the files of checkpoint %d on restore", c.Checkpoint)
			}
		}
		dirs = append(dirs, st.Dir)
	}
	own := FilePrefix + o.run + "-"
	seen := map[string]bool{}
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "write_parquet: cannot resolve the output directory %q", dir)
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		if err := batch.RecoverCommits(abs); err != nil {
			return err
		}
		err = batch.RemoveInProgress(abs, func(_, prefix string) bool {
			return strings.HasPrefix(prefix, FilePrefix) && !strings.HasPrefix(prefix, own)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
