package batch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Two-phase commit of Parquet files for exactly-once sinks (as Flink's FileSink): at a
// checkpoint barrier the sink pre-commits (PreCommit: its open file is finished and made
// durable under its in-progress name, and the list of such files goes into the checkpoint);
// when the checkpoint is complete it commits them (CommitPending: renamed to their final
// names). After a crash, the job restores its last complete checkpoint, commits that
// checkpoint's pending files again (CommitPending is idempotent: a file already renamed is
// fine), removes every other in-progress file of its prefix (CleanupInProgress: rows written
// after the checkpoint are replayed by the sources) and goes on numbering files where the
// checkpoint left off (RestoreParquetWriter).

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
// since the last PreCommit, which stay invisible until CommitPending. Writing may go on: the
// next row begins a new file. A writer that failed cannot pre-commit.
func (w *ParquetWriter) PreCommit() (Pending, error) {
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
	w.files = nil
	return p, nil
}

// CommitPending makes the pre-committed files of p visible in dir. It may be called again
// for the same p (after a crash between commit and the record of it): a file whose
// in-progress name is gone but whose final name exists is already committed. A file with
// neither is an IO error naming it, never a silent loss.
func CommitPending(dir string, p Pending) error {
	for _, f := range p.Files {
		tmp, final := filepath.Join(dir, f.InProgress), filepath.Join(dir, f.Final)
		err := os.Rename(tmp, final)
		if err == nil {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(final); serr == nil {
				continue
			}
			return rberr.New(rberr.IO, "cannot commit Parquet file %q: its in-progress file %q is missing", final, tmp)
		}
		return rberr.Wrap(rberr.IO, err, "cannot commit Parquet file %q", final)
	}
	if len(p.Files) > 0 {
		syncDir(dir)
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
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "cannot list output directory %q", dir)
	}
	for _, e := range ents {
		name := e.Name()
		if kept[name] || !isInProgressOf(name, prefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rberr.Wrap(rberr.IO, err, "cannot remove in-progress Parquet file %q", filepath.Join(dir, name))
		}
	}
	return nil
}

// isInProgressOf reports whether name is ".<prefix>-<digits>.parquet.inprogress", the
// in-progress name of a file of the writer with that prefix (not of one whose prefix merely
// starts with it).
func isInProgressOf(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, "."+prefix+"-")
	if !ok {
		return false
	}
	digits, ok := strings.CutSuffix(rest, ".parquet.inprogress")
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RestoreParquetWriter is NewParquetWriter for a writer restored from a checkpoint whose
// Pending was p: its files are numbered from p.Next on, after the ones the checkpoint knows.
func RestoreParquetWriter(dir, prefix string, schema *arrow.Schema, mem memory.Allocator, maxRowsPerFile int64, p Pending) (*ParquetWriter, error) {
	w, err := NewParquetWriter(dir, prefix, schema, mem, maxRowsPerFile)
	if err != nil {
		return nil, err
	}
	w.next = p.Next
	return w, nil
}

// syncDir makes renames in dir durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
