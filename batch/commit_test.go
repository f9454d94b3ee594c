package batch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// commitFixture is a directory with two old files (to be replaced, as an overwrite does)
// and two writers with three files of 1000 rows: writer a holds 0..1999 in two files,
// writer b 2000..2999 in one.
type commitFixture struct {
	dir  string
	ws   []*FileWriter
	old  []string
	want []int64 // the new rows, in file order
}

func newCommitFixture(t *testing.T) commitFixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	mem := memory.NewGoAllocator()
	prev, err := NewParquetWriter(dir, "old", seqSchema, mem, 5)
	if err != nil {
		t.Fatal(err)
	}
	write(t, prev, -10, 0)
	old, _, err := prev.Commit()
	if err != nil || len(old) != 2 {
		t.Fatalf("old files %v, %v", old, err)
	}
	a, err := NewParquetWriter(dir, "part-a", seqSchema, mem, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewParquetWriter(dir, "part-b", seqSchema, mem, 1000)
	if err != nil {
		t.Fatal(err)
	}
	write(t, a, 0, 2000)
	write(t, b, 2000, 3000)
	return commitFixture{dir: dir, ws: []*FileWriter{a, b}, old: old, want: span(0, 3000)}
}

// commitRecords lists the commit records in dir.
func commitRecords(t *testing.T, dir string) []string {
	var recs []string
	for _, n := range listDir(t, dir) {
		if strings.HasPrefix(n, commitRecordPrefix) {
			recs = append(recs, n)
		}
	}
	return recs
}

// A rename that fails after k others succeeded rolls the whole commit back: none of the
// new files is visible, the old files are all still there, no record is left; Abort then
// removes the in-progress files.
func TestCommitAllRollsBackAFailedRename(t *testing.T) {
	for k := range 3 {
		f := newCommitFixture(t)
		calls := 0
		fsRename = func(from, to string) error {
			calls++
			if calls == k+1 {
				return &os.LinkError{Op: "rename", Old: from, New: to, Err: errors.New("injected failure")}
			}
			return os.Rename(from, to)
		}
		_, err := CommitAll(f.dir, f.ws, f.old)
		fsRename = os.Rename
		if err == nil || rberr.KindOf(err) != rberr.IO || !containsAll(err.Error(), "rolled back", "injected failure") {
			t.Fatalf("k=%d: commit error %v, want an IO error saying it was rolled back", k, err)
		}
		if got := visibleValues(t, f.dir); !slices.Equal(got, span(-10, 0)) {
			t.Fatalf("k=%d: after the rollback the directory shows %v, want only the old rows", k, got)
		}
		if recs := commitRecords(t, f.dir); len(recs) != 0 {
			t.Fatalf("k=%d: records left: %v", k, recs)
		}
		for _, w := range f.ws {
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range listDir(t, f.dir) {
			if strings.HasSuffix(n, ".inprogress") {
				t.Fatalf("k=%d: %s left after Abort", k, n)
			}
		}
		// The directory is as before: a later commit into it (RecoverCommits) finds nothing to do.
		if err := RecoverCommits(f.dir); err != nil {
			t.Fatal(err)
		}
		if got := visibleValues(t, f.dir); !slices.Equal(got, span(-10, 0)) {
			t.Fatalf("k=%d: after recovery %v", k, got)
		}
	}
}

// A crash at any point of the commit after its record is written (before the k-th rename,
// or after the last one but before the old files are removed) is rolled forward by
// RecoverCommits: every new file visible once, every replaced file gone, no record left.
func TestCommitAllCrashIsRolledForward(t *testing.T) {
	type crash struct {
		name string
		arm  func()
	}
	var crashes []crash
	for k := range 3 {
		crashes = append(crashes, crash{"before rename " + string(rune('0'+k)), func() {
			calls := 0
			fsRename = func(from, to string) error {
				calls++
				if calls == k+1 {
					panic("crash")
				}
				return os.Rename(from, to)
			}
		}})
	}
	crashes = append(crashes, crash{"after the last rename", func() {
		afterCommitRename = func(i int) {
			if i == 2 {
				panic("crash")
			}
		}
	}})
	for _, c := range crashes {
		f := newCommitFixture(t)
		c.arm()
		func() {
			defer func() {
				fsRename, afterCommitRename = os.Rename, nil
				if r := recover(); r != "crash" {
					t.Fatalf("%s: no crash (%v)", c.name, r)
				}
			}()
			_, _ = CommitAll(f.dir, f.ws, f.old)
		}()
		if recs := commitRecords(t, f.dir); len(recs) != 1 {
			t.Fatalf("%s: records %v, want the one of the interrupted commit", c.name, recs)
		}
		for range 2 { // recovery is idempotent
			if err := RecoverCommits(f.dir); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if got := visibleValues(t, f.dir); !slices.Equal(got, f.want) {
			t.Fatalf("%s: after recovery %d rows visible, want each of 0..2999 once", c.name, len(got))
		}
		for _, n := range listDir(t, f.dir) {
			if hidden(n) {
				t.Fatalf("%s: %s left after recovery", c.name, n)
			}
		}
	}
}

// A record half written (the crash came before the commit began) is dropped: the commit
// never happened. A damaged record is a Data error naming it, not a guess.
func TestRecoverCommitsRecords(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, commitRecordPrefix+"0011.json.tmp")
	if err := os.WriteFile(tmp, []byte(`{"version":1,"ren`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RecoverCommits(dir); err != nil {
		t.Fatal(err)
	}
	if n := listDir(t, dir); len(n) != 0 {
		t.Fatalf("left %v", n)
	}
	bad := filepath.Join(dir, commitRecordPrefix+"0012.json")
	if err := os.WriteFile(bad, []byte(`{"version":1,"renames":[{"in_progress":"../x","final":"y"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := RecoverCommits(dir)
	if rberr.KindOf(err) != rberr.Data || !strings.Contains(err.Error(), bad) {
		t.Fatalf("record naming a file outside the directory: %v", err)
	}
	if err := os.WriteFile(bad, []byte(`garbage`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RecoverCommits(dir); rberr.KindOf(err) != rberr.Data || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged record: %v", err)
	}
	if err := RecoverCommits(filepath.Join(dir, "absent")); err != nil {
		t.Fatalf("a directory that does not exist: %v", err)
	}
}

// A commit never replaces a file: a final name that exists already is an error, and the
// existing file keeps its rows.
func TestCommitNeverReplacesAFile(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewGoAllocator()
	first, err := NewParquetWriter(dir, "p", seqSchema, mem, 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, first, 0, 10)
	if _, _, err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	again, err := NewParquetWriter(dir, "p", seqSchema, mem, 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, again, 100, 110)
	_, _, err = again.Commit()
	if rberr.KindOf(err) != rberr.IO || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("commit onto an existing name: %v", err)
	}
	if err := again.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := visibleValues(t, dir); !slices.Equal(got, span(0, 10)) {
		t.Fatalf("the existing file now holds %v", got)
	}
}

// Rolling by size: files are closed once their estimated size reaches the limit, so each
// stays within it plus one slice of rows; the rows read back in order.
func TestRollingBySize(t *testing.T) {
	dir := t.TempDir()
	const limit = 64 << 10
	w, err := NewRollingParquetWriter(dir, "p", seqSchema, RollingPolicy{MaxBytesPerFile: limit})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 0, 100_000) // 800 kB of int64 before encoding
	files, _, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d files for 800 kB at a 64 kB limit", len(files))
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > limit+rollBytesRows*8+4096 {
			t.Fatalf("%s has %d bytes, beyond the limit and one slice", f, st.Size())
		}
	}
	if got := visibleValues(t, dir); !slices.Equal(got, span(0, 100_000)) {
		t.Fatalf("%d rows read back", len(got))
	}
}

// Rolling by time, on an injected clock: a file open for the interval is closed at the next
// record; a checkpoint (PreCommit) closes the open file whatever its age.
func TestRollingByTime(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1000, 0)
	w, err := NewRollingParquetWriter(dir, "p", seqSchema, RollingPolicy{RolloverInterval: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 0, 10)
	now = now.Add(59 * time.Second)
	write(t, w, 10, 20) // same file
	now = now.Add(time.Second)
	write(t, w, 20, 30) // the file is a minute old: a new one
	p, err := w.PreCommit()
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 30, 40) // after the checkpoint: a new one
	files, _, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 2 || len(files) != 3 {
		t.Fatalf("pre-committed %d files, committed %d; want 2 and 3", len(p.Files), len(files))
	}
	for i, want := range [][]int64{span(0, 20), span(20, 30), span(30, 40)} {
		tbl := readWithPqarrow(t, files[i])
		if tbl.NumRows() != int64(len(want)) {
			t.Fatalf("file %d has %d rows, want %d", i, tbl.NumRows(), len(want))
		}
		tbl.Release()
	}
	if _, err := NewRollingParquetWriter(dir, "q", seqSchema, RollingPolicy{MaxBytesPerFile: -1}); rberr.KindOf(err) != rberr.InvalidArgument {
		t.Fatalf("negative limit: %v", err)
	}
}

// The end commit of a writer that pre-committed commits those files too (a job that stops
// between a checkpoint and its completion), exactly once even when the checkpoint's own
// commit also runs; Abort leaves pre-committed files, which belong to a checkpoint.
func TestCommitIncludesPreCommitted(t *testing.T) {
	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "p", seqSchema, memory.NewGoAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 0, 10)
	p1, err := w.PreCommit()
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 10, 20)
	p2, err := w.PreCommit()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CommitPreCommitted(p1.Files); err != nil {
		t.Fatal(err)
	}
	write(t, w, 20, 30)
	files, rows, err := w.Commit()
	if err != nil || rows != 30 || len(files) != 2 {
		t.Fatalf("commit: %v files, %d rows, %v", files, rows, err)
	}
	if err := w.CommitPreCommitted(p2.Files); err != nil { // the checkpoint's completion, late
		t.Fatal(err)
	}
	if got := visibleValues(t, dir); !slices.Equal(got, span(0, 30)) {
		t.Fatalf("visible %v", got)
	}

	dir2 := t.TempDir()
	w2, err := NewParquetWriter(dir2, "p", seqSchema, memory.NewGoAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w2, 0, 10)
	p, err := w2.PreCommit()
	if err != nil {
		t.Fatal(err)
	}
	write(t, w2, 10, 20)
	if err := w2.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, dir2); !slices.Equal(names, []string{p.Files[0].InProgress}) {
		t.Fatalf("after Abort: %v, want only the pre-committed file", names)
	}
}

// A rolled-back end commit undoes only its own renames: a pre-committed file that a
// checkpoint's commit already made visible stays visible.
func TestRollbackKeepsFilesCommittedBefore(t *testing.T) {
	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "p", seqSchema, memory.NewGoAllocator(), 10)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 0, 20)
	p, err := w.PreCommit()
	if err != nil || len(p.Files) != 2 {
		t.Fatalf("pre-commit %+v %v", p, err)
	}
	// The checkpoint's commit renamed the first file and died before the second.
	if err := CommitPending(dir, Pending{Files: p.Files[:1]}); err != nil {
		t.Fatal(err)
	}
	write(t, w, 20, 30)
	calls := 0
	fsRename = func(from, to string) error {
		calls++
		if calls == 2 { // the second rename of the end commit (the third file)
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: errors.New("injected failure")}
		}
		return os.Rename(from, to)
	}
	_, _, err = w.Commit()
	fsRename = os.Rename
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("commit: %v", err)
	}
	if got := visibleValues(t, dir); !slices.Equal(got, span(0, 10)) {
		t.Fatalf("after the rollback %v visible, want the checkpoint's first file (0..9)", got)
	}
}
