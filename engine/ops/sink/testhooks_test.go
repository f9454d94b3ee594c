//go:build riverbed_testhooks

package sink

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The job's end commit of an overwrite, with the third rename failing: the job fails with
// an error saying the commit was rolled back, and the directory holds exactly the old
// output (no new file, no in-progress file, no commit record).
func TestEndCommitRollsBackAtTheJobLevel(t *testing.T) {
	dir := t.TempDir()
	old := startRun(t, dir, 1)
	old.write(-100, 0)
	if err := old.job.CommitWriters(dir, nil, false, 0); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	replace, appending, err := CheckOutputDir("write_parquet", dir, "overwrite", schema)
	if err != nil || appending || len(replace) == 0 {
		t.Fatalf("overwrite check: %v %v %v", replace, appending, err)
	}
	r := startRun(t, dir, 3)
	r.write(0, 2000)
	restore := batch.FailCommitRename(2)
	err = r.job.CommitWriters(dir, replace, false, 0)
	restore()
	if rberr.KindOf(err) != rberr.IO || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("end commit with a failing rename: %v", err)
	}
	after, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := func(es []os.DirEntry) []string {
		var n []string
		for _, e := range es {
			n = append(n, e.Name())
		}
		return n
	}
	if !slices.Equal(names(before), names(after)) {
		t.Fatalf("directory changed by a rolled-back commit:\nbefore %v\nafter  %v", names(before), names(after))
	}
	got := visible(t, dir)
	if len(got) != 100 || got[0] != -100 || got[99] != -1 {
		t.Fatalf("old output changed: %d rows", len(got))
	}
}
