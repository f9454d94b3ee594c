//go:build riverbed_testhooks

package batch

import "os"

// In the test build (-tags riverbed_testhooks), tests of the packages that commit through
// this one (the write_parquet sink, the job's end commit) can make a commit's renames fail.

// FailCommitRename makes the k-th commit rename from now on fail (counting from 0), until
// restore is called. Not safe for concurrent commits.
func FailCommitRename(k int) (restore func()) {
	calls := 0
	fsRename = func(from, to string) error {
		calls++
		if calls == k+1 {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrPermission}
		}
		return os.Rename(from, to)
	}
	return func() { fsRename = os.Rename }
}
