package batch

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Commits of Parquet files: how in-progress files become visible.
//
// At the end of a job, CommitAll makes every writer's files visible as one atomic commit:
// a commit record lists the renames (and the removals of an overwrite) before any is done,
// so a failed rename is rolled back and a crash is rolled forward (RecoverCommits).
//
// For exactly-once sinks (two-phase commit, as Flink's FileSink): at a checkpoint barrier
// the sink pre-commits (PreCommit: its open file is finished and made durable under its
// in-progress name, and the list of such files goes into the checkpoint); when the
// checkpoint is complete it commits them (CommitPreCommitted, or CommitPending given only
// the list: renamed to their final names). After a crash, the job restores its last
// complete checkpoint, commits that checkpoint's pending files again (CommitPending is
// idempotent: a file already renamed is fine), removes the other in-progress files
// (CleanupInProgress, RemoveInProgress: rows written after the checkpoint are replayed by
// the sources) and writes new files under names no earlier run used (a new prefix, or the
// same prefix numbered on from the checkpoint: RestoreParquetWriter).

// Pending is what a checkpoint stores of one Parquet writer: the files it finished before
// the barrier, not yet visible, and the number its next file takes.
type Pending struct {
	Files []PendingFile `json:"files,omitempty"`
	Next  int           `json:"next"`
}

// PendingFile is one pre-committed file, by base names within the sink directory.
type PendingFile struct {
	InProgress string `json:"in_progress"`
	Final      string `json:"final"`
}

// PreCommit finishes the open file (footer written, fsynced) and returns the files begun
// since the last PreCommit, which stay invisible until they are committed
// (CommitPreCommitted, CommitPending, or Commit at the end). Writing may go on: the next
// row begins a new file. A writer that failed cannot pre-commit.
func (w *FileWriter) PreCommit() (Pending, error) {
	if w.done {
		return Pending{}, rberr.New(rberr.InvalidArgument, "Parquet writer was already committed or aborted")
	}
	if w.err != nil {
		return Pending{}, w.err
	}
	if w.cur != nil {
		if err := w.closeCurrent(); err != nil {
			return Pending{}, w.fail(err)
		}
	}
	p := Pending{Next: w.next}
	for _, f := range w.files {
		p.Files = append(p.Files, PendingFile{InProgress: filepath.Base(f.tmp), Final: filepath.Base(f.final)})
	}
	w.mu.Lock()
	w.pre = append(w.pre, w.files...)
	w.mu.Unlock()
	w.files = nil
	return p, nil
}

// CommitPreCommitted commits files this writer pre-committed (CommitPending) and forgets
// them, so that Commit at the end does not list them again. It may run on another
// goroutine than Write, and again for the same files.
func (w *FileWriter) CommitPreCommitted(files []PendingFile) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := CommitPending(w.dir, Pending{Files: files}); err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, f := range files {
		gone[f.InProgress] = true
	}
	w.pre = slices.DeleteFunc(w.pre, func(f sinkFile) bool { return gone[filepath.Base(f.tmp)] })
	return nil
}

// CommitPending makes the pre-committed files of p visible in dir. It may be called again
// for the same p (after a crash between commit and the record of it): a file whose
// in-progress name is gone but whose final name exists is already committed. A file with
// neither is an IO error naming it, never a silent loss.
func CommitPending(dir string, p Pending) error {
	for _, f := range p.Files {
		if err := renameOnce(dir, f); err != nil {
			return err
		}
	}
	if len(p.Files) > 0 {
		return syncDir(dir)
	}
	return nil
}

// renameOnce renames f into place unless that was done already. It never replaces a
// file: a final name that exists while the in-progress file does too is an IO error (two
// writers chose one name), not a silent loss of the older file.
func renameOnce(dir string, f PendingFile) error {
	_, err := renameIfNeeded(dir, f)
	return err
}

// renameIfNeeded is renameOnce, and says whether it renamed.
func renameIfNeeded(dir string, f PendingFile) (bool, error) {
	tmp, final := filepath.Join(dir, f.InProgress), filepath.Join(dir, f.Final)
	_, terr := os.Lstat(tmp)
	_, ferr := os.Lstat(final)
	switch {
	case terr == nil && ferr == nil:
		return false, rberr.New(rberr.IO, "cannot commit Parquet file %q: a file of that name exists already", final)
	case errors.Is(terr, fs.ErrNotExist) && ferr == nil:
		return false, nil // committed before
	case errors.Is(terr, fs.ErrNotExist):
		return false, rberr.New(rberr.IO, "cannot commit Parquet file %q: its in-progress file %q is missing", final, tmp)
	}
	if err := fsRename(tmp, final); err != nil {
		return false, rberr.Wrap(rberr.IO, err, "cannot commit Parquet file %q", final)
	}
	return true, nil
}

// fsRename is os.Rename; tests replace it to fail a chosen rename.
var fsRename = os.Rename

// afterCommitRename, when set (by tests), runs after the i-th rename of CommitAll: a test
// that panics there leaves the directory as a crash at that point would.
var afterCommitRename func(i int)

// CommittedFile is a file a commit made visible and its number of rows.
type CommittedFile struct {
	Path string
	Rows int64
}

// commitRecord lists the steps of one multi-file commit. It is written (fsynced) into the
// output directory as _riverbed-commit-<id>.json before the first rename and removed
// after the last step: while it exists, the commit is decided but maybe unfinished.
type commitRecord struct {
	Version int           `json:"version"`
	Renames []PendingFile `json:"renames"`
	Remove  []string      `json:"remove,omitempty"` // files the commit replaces, relative to the directory
}

const (
	commitRecordPrefix = "_riverbed-commit-"
	commitRecordSuffix = ".json"
)

// CommitAll makes the files of every writer visible in dir, and removes the files of
// remove (paths in dir: the files an overwrite replaces), as one atomic commit:
//
//  1. each writer's last file is finished (fsynced under its in-progress name);
//  2. a commit record listing every rename and removal is written and fsynced;
//  3. the files are renamed into place and the directory fsynced; the replaced files are
//     removed; the record is removed.
//
// A failed rename rolls the commit back: the files already renamed are renamed back, the
// record is removed, and the error says that nothing became visible (the caller then
// aborts the writers). A crash (or a failure of the roll-back) leaves the record, and
// RecoverCommits — run by the next job that opens the directory for writing or restores
// from a checkpoint — rolls the commit forward. Readers may see the renames happen one by
// one while they are under way (POSIX has no multi-file rename), but never a file
// partially written, and never a mix that stays.
func CommitAll(dir string, ws []*FileWriter, remove []string) ([]CommittedFile, error) {
	for _, w := range ws {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	var all []sinkFile
	for _, w := range ws {
		fs, err := w.finish()
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	rec := commitRecord{Version: 1}
	keep := map[string]bool{}
	for _, f := range all {
		rec.Renames = append(rec.Renames, PendingFile{InProgress: filepath.Base(f.tmp), Final: filepath.Base(f.final)})
		keep[f.final] = true
	}
	for _, r := range remove {
		if keep[r] {
			continue
		}
		rel, err := filepath.Rel(dir, r)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, rberr.New(rberr.Internal, "the file %q to replace is not in %q", r, dir)
		}
		rec.Remove = append(rec.Remove, rel)
	}
	if err := runCommit(dir, rec); err != nil {
		return nil, err
	}
	out := make([]CommittedFile, len(all))
	for i, f := range all {
		out[i] = CommittedFile{Path: f.final, Rows: f.rows}
	}
	for _, w := range ws {
		w.pre, w.files, w.done = nil, nil, true
	}
	return out, nil
}

// runCommit carries out rec in dir (see CommitAll).
func runCommit(dir string, rec commitRecord) error {
	if len(rec.Renames) == 0 && len(rec.Remove) == 0 {
		return nil
	}
	if len(rec.Renames) == 1 && len(rec.Remove) == 0 {
		// One rename is atomic by itself: no record needed.
		if err := renameOnce(dir, rec.Renames[0]); err != nil {
			return rberr.Wrap(rberr.IO, err, "the commit into %q failed and was rolled back: none of its files is visible", dir)
		}
		return syncDir(dir)
	}
	path, err := writeCommitRecord(dir, rec)
	if err != nil {
		return err
	}
	var renamed []PendingFile // by this commit (not those a checkpoint committed before)
	for i, f := range rec.Renames {
		did, err := renameIfNeeded(dir, f)
		if did {
			renamed = append(renamed, f)
		}
		if err != nil {
			if uerr := undoRenames(dir, renamed); uerr != nil {
				return rberr.Wrap(rberr.IO, err, "the commit into %q failed, and undoing it failed too (%v); the next job that writes into the directory completes it", dir, uerr)
			}
			if rerr := os.Remove(path); rerr != nil {
				return rberr.Wrap(rberr.IO, err, "the commit into %q failed and was undone, but its record %q cannot be removed (%v)", dir, path, rerr)
			}
			_ = syncDir(dir)
			return rberr.Wrap(rberr.IO, err, "the commit into %q failed and was rolled back: none of its files is visible", dir)
		}
		if afterCommitRename != nil {
			afterCommitRename(i)
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return finishCommit(dir, path, rec)
}

// finishCommit removes the files rec replaces and then its record.
func finishCommit(dir, path string, rec commitRecord) error {
	for _, name := range rec.Remove {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rberr.Wrap(rberr.IO, err, "write_parquet: the new files are committed, but the old file %q cannot be removed (the next job that writes into the directory retries)", filepath.Join(dir, name))
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rberr.Wrap(rberr.IO, err, "cannot remove the commit record %q", path)
	}
	return syncDir(dir)
}

// undoRenames renames committed files back to their in-progress names, last first.
func undoRenames(dir string, done []PendingFile) error {
	for i := len(done) - 1; i >= 0; i-- {
		f := done[i]
		if err := fsRename(filepath.Join(dir, f.Final), filepath.Join(dir, f.InProgress)); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func writeCommitRecord(dir string, rec commitRecord) (string, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	path := filepath.Join(dir, commitRecordPrefix+hex.EncodeToString(id[:])+commitRecordSuffix)
	data, err := json.Marshal(rec)
	if err != nil {
		return "", rberr.Wrap(rberr.Internal, err, "cannot encode a commit record")
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", rberr.Wrap(rberr.IO, err, "cannot write the commit record %q", path)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		_ = os.Remove(path)
		return "", rberr.Wrap(rberr.IO, err, "cannot write the commit record %q", path)
	}
	return path, nil
}

// RecoverCommits rolls forward every commit that a crash (or a failure that could not be
// rolled back) interrupted in dir: the files its record lists are renamed into place
// (unless they are already), the files it replaces are removed, and the record is
// removed. A record whose files are gone under both names is a Data error naming it.
// Half-written records (the commit never began) are removed. A directory that does not
// exist has nothing to recover.
func RecoverCommits(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "cannot list output directory %q", dir)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, commitRecordPrefix) {
			continue
		}
		path := filepath.Join(dir, name)
		if strings.HasSuffix(name, commitRecordSuffix+".tmp") {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rberr.Wrap(rberr.IO, err, "cannot remove the unfinished commit record %q", path)
			}
			continue
		}
		if !strings.HasSuffix(name, commitRecordSuffix) {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "cannot read the commit record %q", path)
		}
		var rec commitRecord
		if err := json.Unmarshal(data, &rec); err != nil || rec.Version != 1 {
			return rberr.New(rberr.Data, "the commit record %q is damaged; remove it by hand once you have checked the directory", path)
		}
		for _, f := range rec.Renames {
			if filepath.Base(f.InProgress) != f.InProgress || filepath.Base(f.Final) != f.Final {
				return rberr.New(rberr.Data, "the commit record %q names a file outside its directory", path)
			}
			if err := renameOnce(dir, f); err != nil {
				return rberr.Wrap(rberr.Data, err, "cannot complete the interrupted commit %q", path)
			}
		}
		if err := syncDir(dir); err != nil {
			return err
		}
		for _, r := range rec.Remove {
			if !filepath.IsLocal(r) {
				return rberr.New(rberr.Data, "the commit record %q names a file outside its directory", path)
			}
		}
		if err := finishCommit(dir, path, rec); err != nil {
			return err
		}
	}
	return nil
}

// CleanupInProgress removes the in-progress files of writers with the given prefix in dir
// except those pending in keep: after a restore they hold rows of an unfinished checkpoint,
// which the sources replay.
func CleanupInProgress(dir, prefix string, keep ...Pending) error {
	kept := map[string]bool{}
	for _, p := range keep {
		for _, f := range p.Files {
			kept[f.InProgress] = true
		}
	}
	return RemoveInProgress(dir, func(name, writer string) bool { return writer == prefix && !kept[name] })
}

// RemoveInProgress removes the in-progress files in dir for which remove(name, prefix)
// says so, prefix being the prefix of the writer that made the file.
func RemoveInProgress(dir string, remove func(name, prefix string) bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "cannot list output directory %q", dir)
	}
	for _, e := range ents {
		name := e.Name()
		prefix, ok := inProgressPrefix(name)
		if !ok || !remove(name, prefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rberr.Wrap(rberr.IO, err, "cannot remove in-progress Parquet file %q", filepath.Join(dir, name))
		}
	}
	return nil
}

// inProgressPrefix returns the writer prefix of ".<prefix>-<digits>.<ext>.inprogress"
// (ext: parquet, csv or ndjson), the in-progress name of a writer's file.
func inProgressPrefix(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return "", false
	}
	rest, ok = strings.CutSuffix(rest, ".inprogress")
	if !ok {
		return "", false
	}
	for _, ext := range []string{".parquet", ".csv", ".ndjson"} {
		if r, found := strings.CutSuffix(rest, ext); found {
			rest, ok = r, true
			break
		}
		ok = false
	}
	if !ok {
		return "", false
	}
	dash := strings.LastIndexByte(rest, '-')
	if dash <= 0 || dash == len(rest)-1 {
		return "", false
	}
	for _, c := range rest[dash+1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return rest[:dash], true
}

// isInProgressOf reports whether name is ".<prefix>-<digits>.parquet.inprogress", the
// in-progress name of a file of the writer with that prefix (not of one whose prefix merely
// starts with it).
func isInProgressOf(name, prefix string) bool {
	p, ok := inProgressPrefix(name)
	return ok && p == prefix
}

// RestoreParquetWriter is NewParquetWriter for a writer restored from a checkpoint whose
// Pending was p: its files are numbered from p.Next on, after the ones the checkpoint knows.
func RestoreParquetWriter(dir, prefix string, schema *arrow.Schema, mem memory.Allocator, maxRowsPerFile int64, p Pending) (*FileWriter, error) {
	w, err := NewParquetWriter(dir, prefix, schema, mem, maxRowsPerFile)
	if err != nil {
		return nil, err
	}
	w.next = p.Next
	return w, nil
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
