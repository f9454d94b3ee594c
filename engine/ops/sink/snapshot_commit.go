package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The snapshots of write_parquet_snapshot and their two-phase commit, through
// runtime.CheckpointHook. The output directory holds:
//
//	snapshot-<n>/part-<subtask>-00000.parquet   the table at a checkpoint, one file per subtask
//	.snapshot-<n>.inprogress/...                a snapshot pre-committed, not yet committed
//	_latest                                     the name of the newest committed snapshot
//
// Snapshots are numbered in the order of their checkpoints: n is the checkpoint's id,
// plus an offset after a restore whose checkpoint ids start again at or below the newest
// committed snapshot (a restored savepoint's ids start at 1), so that n always grows.
//
//   - PrepareCheckpoint (barrier aligned): each subtask writes its part of the table, whole,
//     into the hidden directory .snapshot-<id>.inprogress (files fsynced), and stores the
//     snapshot's id in the checkpoint.
//   - CheckpointComplete(id): subtask 0 renames the hidden directory of the newest snapshot
//     up to id into place (every subtask's part is in it: they were all written before the
//     checkpoint's manifest), fsyncs the directory, then replaces _latest (written under a
//     hidden name, fsynced, renamed); then it removes the hidden directories of older
//     snapshots (of checkpoints that failed) and the committed snapshots beyond the newest
//     Keep. Readers that follow _latest never see a partial snapshot; a reader that lists
//     the directory sees each snapshot-<id> appear whole (pyarrow.dataset and DuckDB skip
//     hidden names).
//   - RestoreCheckpoint: subtask 0 commits the restored checkpoint's snapshot (a crash may
//     have come before its rename) and points _latest at it, removes every hidden snapshot
//     directory (snapshots of later checkpoints, never completed) and every committed
//     snapshot newer than the restored one (of checkpoints whose effects the restore undoes:
//     their ids come again); the other subtasks wait for it before they write.
//
// A job without checkpoints writes the table once, when its input ends, as snapshot-0,
// committed when the job has succeeded (endCommitter).

// PointerFile names the newest committed snapshot of a write_parquet_snapshot directory.
const PointerFile = "_latest"

const snapshotPrefix = "snapshot-"

// SnapshotName is the directory of snapshot id.
func SnapshotName(id uint64) string { return snapshotPrefix + strconv.FormatUint(id, 10) }

func inProgressName(id uint64) string { return "." + SnapshotName(id) + ".inprogress" }

// parseSnapshot reads a committed (snapshot-<id>) or in-progress directory name.
func parseSnapshot(name string) (id uint64, inProgress, ok bool) {
	if s, found := strings.CutPrefix(name, "."+snapshotPrefix); found {
		s, found = strings.CutSuffix(s, ".inprogress")
		id, err := strconv.ParseUint(s, 10, 64)
		return id, true, found && err == nil
	}
	if s, found := strings.CutPrefix(name, snapshotPrefix); found {
		id, err := strconv.ParseUint(s, 10, 64)
		return id, false, err == nil
	}
	return 0, false, false
}

// snapshotState is what a subtask of the sink stores in a checkpoint.
type snapshotState struct {
	Version  int    `json:"version"`
	Dir      string `json:"dir"`      // absolute
	Snapshot uint64 `json:"snapshot"` // the snapshot pre-committed at this checkpoint
	Rows     int64  `json:"rows"`
}

var _ runtime.CheckpointHook = (*SnapshotOp)(nil)
var _ runtime.KeyedState = (*SnapshotOp)(nil)

// writePart writes the subtask's part of the table into snapshot id's in-progress
// directory and returns the rows written.
func (o *SnapshotOp) writePart(id uint64) (int64, error) {
	dir := filepath.Join(o.Dir, inProgressName(id))
	w, err := batch.NewRollingParquetWriter(dir, fmt.Sprintf("part-%05d", o.Subtask), o.Schema, batch.RollingPolicy{})
	if err != nil {
		return 0, rberr.Wrap(rberr.KindOf(err), err, "%s into %q: cannot write snapshot %d", o.Name, o.Dir, id)
	}
	_, refs := o.idx.all()
	err = o.store.EachBatch(o.tc.Eval.Ctx, refs, w.Write)
	var rows int64
	if err == nil {
		_, rows, err = w.Commit() // within the hidden directory; a writer without rows writes an empty file
	}
	if err == nil {
		err = syncDir(o.Dir)
	}
	if err != nil {
		_ = w.Abort()
		return 0, rberr.Wrap(rberr.KindOf(err), err, "%s into %q: cannot write snapshot %d", o.Name, o.Dir, id)
	}
	return rows, nil
}

// PrepareCheckpoint pre-commits the subtask's part of the table at checkpoint b.
func (o *SnapshotOp) PrepareCheckpoint(b runtime.Barrier) ([]byte, error) {
	if o.tc == nil {
		return nil, rberr.New(rberr.Internal, "%s: checkpoint %d before the sink was opened", o.Name, b.ID)
	}
	n := b.ID + o.offset
	rows, err := o.writePart(n)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "%s: cannot resolve the output directory %q", o.Name, o.Dir)
	}
	o.mu.Lock()
	o.prepared = append(o.prepared, prepared{id: b.ID, n: n})
	o.mu.Unlock()
	data, err := json.Marshal(snapshotState{Version: stateVersion, Dir: dir, Snapshot: n, Rows: rows})
	if err != nil {
		return nil, rberr.Wrap(rberr.Internal, err, "%s: cannot encode the checkpoint state", o.Name)
	}
	return data, nil
}

// CheckpointComplete commits (on subtask 0) the newest snapshot pre-committed up to id.
func (o *SnapshotOp) CheckpointComplete(id uint64) error {
	if o.Subtask != 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var latest uint64
	found := false
	var stale []uint64
	n := 0
	for _, p := range o.prepared {
		if p.id > id {
			break
		}
		if found {
			stale = append(stale, latest)
		}
		latest, found = p.n, true
		n++
	}
	o.prepared = append(o.prepared[:0:0], o.prepared[n:]...)
	if !found || (o.hasCommit && latest <= o.committed) {
		return nil
	}
	if err := commitSnapshot(o.Name, o.Dir, latest, o.tc.Parallelism(), o.Keep, stale); err != nil {
		return err
	}
	o.committed, o.hasCommit = latest, true
	return nil
}

// RestoreCheckpoint commits the restored checkpoint's snapshot and removes what came
// after it (subtask 0, which gets every former subtask's state); the other subtasks wait.
func (o *SnapshotOp) RestoreCheckpoint(parts [][]byte) error {
	if o.tc == nil {
		return rberr.New(rberr.Internal, "%s: restore before the sink was opened", o.Name)
	}
	if o.Subtask != 0 {
		select {
		case <-o.Gate.restored:
			o.offset = o.Gate.offset
			return nil
		case <-o.tc.Ctx.Done():
			return o.tc.Ctx.Err()
		}
	}
	defer o.Gate.once.Do(func() { close(o.Gate.restored) })
	if err := o.restore(parts); err != nil {
		return err
	}
	// Number the new run's snapshots above every committed one.
	top, found, err := newestSnapshot(o.Name, o.Dir)
	if err != nil {
		return err
	}
	if first := o.tc.OpenCheckpoint(); found && first <= top {
		o.offset = top + 1
	}
	o.Gate.offset = o.offset
	return nil
}

// restore is subtask 0's part of RestoreCheckpoint.
func (o *SnapshotOp) restore(parts [][]byte) error {
	dirs := []string{o.Dir}
	var latest uint64
	var from string
	count := 0
	for i, part := range parts {
		if len(part) == 0 {
			continue
		}
		var st snapshotState
		if err := json.Unmarshal(part, &st); err != nil || st.Version != stateVersion || st.Dir == "" {
			return rberr.New(rberr.Data, "%s into %q: the checkpoint state of former subtask %d is damaged or of another version", o.Name, o.Dir, i)
		}
		if count > 0 && (st.Snapshot != latest || st.Dir != from) {
			return rberr.New(rberr.Data, "%s into %q: the former subtasks pre-committed different snapshots (%d in %q, %d in %q)", o.Name, o.Dir, latest, from, st.Snapshot, st.Dir)
		}
		latest, from = st.Snapshot, st.Dir
		count++
		dirs = append(dirs, st.Dir)
	}
	if count > 0 {
		if err := commitSnapshot(o.Name, from, latest, count, o.Keep, nil); err != nil {
			return err
		}
		o.mu.Lock()
		o.committed, o.hasCommit = latest, true
		o.mu.Unlock()
	}
	seen := map[string]bool{}
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "%s: cannot resolve the output directory %q", o.Name, dir)
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		err = removeSnapshots(o.Name, abs, func(id uint64, inProgress bool) bool {
			return inProgress || (count > 0 && id > latest)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// newestSnapshot returns the highest number of the committed snapshots of dir, if any.
func newestSnapshot(op, dir string) (uint64, bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, rberr.Wrap(rberr.IO, err, "%s: cannot read output directory %q", op, dir)
	}
	var top uint64
	found := false
	for _, e := range entries {
		if n, inProgress, ok := parseSnapshot(e.Name()); ok && e.IsDir() && !inProgress && (!found || n > top) {
			top, found = n, true
		}
	}
	return top, found, nil
}

// commitSnapshot makes snapshot id of dir visible (its in-progress directory, holding
// parts files, renamed into place; done already if it is in place), points _latest at
// it, removes the in-progress directories of the snapshots stale and keeps the newest
// keep committed snapshots.
func commitSnapshot(op, dir string, id uint64, parts, keep int, stale []uint64) error {
	final := filepath.Join(dir, SnapshotName(id))
	tmp := filepath.Join(dir, inProgressName(id))
	if _, err := os.Lstat(tmp); err == nil {
		files, err := os.ReadDir(tmp)
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "%s: cannot read snapshot directory %q", op, tmp)
		}
		n := 0
		for _, f := range files {
			if !f.IsDir() && strings.HasSuffix(f.Name(), ".parquet") && !strings.HasPrefix(f.Name(), ".") {
				n++
			}
		}
		if n != parts {
			return rberr.New(rberr.Internal, "%s: snapshot %d in %q has %d part files, but %d subtasks wrote it; it is not committed", op, id, dir, n, parts)
		}
		if _, err := os.Lstat(final); err == nil {
			return rberr.New(rberr.IO, "%s: cannot commit snapshot %d: %q exists already", op, id, final)
		}
		if err := os.Rename(tmp, final); err != nil {
			return rberr.Wrap(rberr.IO, err, "%s: cannot commit snapshot %d in %q", op, id, dir)
		}
		if err := syncDir(dir); err != nil {
			return err
		}
	} else if _, ferr := os.Lstat(final); ferr != nil {
		return rberr.New(rberr.IO, "%s: cannot commit snapshot %d: neither %q nor %q exists", op, id, tmp, final)
	}
	if err := writePointer(op, dir, SnapshotName(id)); err != nil {
		return err
	}
	for _, s := range stale {
		if err := os.RemoveAll(filepath.Join(dir, inProgressName(s))); err != nil {
			return rberr.Wrap(rberr.IO, err, "%s: cannot remove the unfinished snapshot %d in %q", op, s, dir)
		}
	}
	return pruneSnapshots(op, dir, id, keep)
}

// writePointer replaces dir's _latest with name, atomically.
func writePointer(op, dir, name string) error {
	tmp := filepath.Join(dir, ".latest.tmp")
	f, err := os.Create(tmp)
	if err == nil {
		_, err = f.WriteString(name + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, PointerFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return rberr.Wrap(rberr.IO, err, "%s: cannot write %q in %q", op, PointerFile, dir)
	}
	return syncDir(dir)
}

// pruneSnapshots removes the committed snapshots of dir older than id but the newest
// keep-1 of them.
func pruneSnapshots(op, dir string, id uint64, keep int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "%s: cannot read output directory %q", op, dir)
	}
	var older []uint64
	for _, e := range entries {
		if s, inProgress, ok := parseSnapshot(e.Name()); ok && e.IsDir() && !inProgress && s < id {
			older = append(older, s)
		}
	}
	sort.Slice(older, func(a, b int) bool { return older[a] > older[b] })
	for i, s := range older {
		if i < keep-1 {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, SnapshotName(s))); err != nil {
			return rberr.Wrap(rberr.IO, err, "%s: cannot remove the old snapshot %d in %q", op, s, dir)
		}
	}
	return nil
}

// removeSnapshots removes the snapshot directories of dir (committed or in progress)
// that drop says to.
func removeSnapshots(op, dir string, drop func(id uint64, inProgress bool) bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return rberr.Wrap(rberr.IO, err, "%s: cannot read output directory %q", op, dir)
	}
	for _, e := range entries {
		id, inProgress, ok := parseSnapshot(e.Name())
		if !ok || !e.IsDir() || !drop(id, inProgress) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return rberr.Wrap(rberr.IO, err, "%s: cannot remove %q", op, filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// endCommitter commits the snapshot a job without checkpoints wrote at the end of its
// input (snapshot 0), once the job has succeeded; a failed job removes it.
type endCommitter struct{ o *SnapshotOp }

func (c *endCommitter) Commit() error {
	o := c.o
	if _, err := os.Lstat(filepath.Join(o.Dir, inProgressName(o.offset))); errors.Is(err, fs.ErrNotExist) {
		// The input did not end (a stop without drain): the table was not written.
		return nil
	}
	return commitSnapshot(o.Name, o.Dir, o.offset, o.tc.Parallelism(), o.Keep, nil)
}

func (c *endCommitter) Abort() {
	_ = os.RemoveAll(filepath.Join(c.o.Dir, inProgressName(c.o.offset)))
}

// CheckSnapshotDir applies write_parquet_snapshot's mode before a job that does not
// restore a checkpoint starts: "error" refuses a directory that holds snapshots already,
// "overwrite" removes them (and _latest). Snapshots left in progress by a crashed run are
// removed in both modes.
func CheckSnapshotDir(op, dir, mode string) error {
	if mode != "" && mode != "error" && mode != "overwrite" {
		return rberr.New(rberr.Plan, "%s: unknown mode %q (expected \"error\" or \"overwrite\")", op, mode)
	}
	if err := removeSnapshots(op, dir, func(_ uint64, inProgress bool) bool { return inProgress }); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rberr.Wrap(rberr.IO, err, "%s: cannot read output directory %q", op, dir)
	}
	var held []string
	for _, e := range entries {
		if _, _, ok := parseSnapshot(e.Name()); (ok && e.IsDir()) || e.Name() == PointerFile {
			held = append(held, e.Name())
		}
	}
	if len(held) == 0 {
		return nil
	}
	if mode == "overwrite" {
		for _, name := range held {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return rberr.Wrap(rberr.IO, err, "%s: cannot remove %q", op, filepath.Join(dir, name))
			}
		}
		return nil
	}
	return rberr.New(rberr.IO, "%s: output directory %q already holds snapshots (%s); pass mode=\"overwrite\" to remove them, or restore the job that wrote them", op, dir, strings.Join(held, ", "))
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "cannot open directory %q to sync it", dir)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return rberr.Wrap(rberr.IO, err, "cannot sync directory %q", dir)
	}
	return nil
}
