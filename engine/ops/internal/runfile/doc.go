// Package runfile keeps the files an operator subtask moves state to when it exceeds its
// memory cap: Arrow IPC stream files (runs) in a directory of the subtask's own, made in
// the job's working directory at the first run and removed when the operator closes. The
// external sort writes its sorted runs with it, and the spilling aggregation its
// partitions of partial states.
package runfile
