// Package basic owns the row operators that need no keys: filter (with its selectivity
// counted), projection (select and with_columns), limit (which stops the sources once it
// has its rows), sort (in memory, or external with runs on disk: sortrun.go; parallel, a
// local sort per subtask and a merge: sortmerge.go), tail, explode and unique, and the
// reorder that restores input order before a gather (reorder.go), whose buffer is
// checkpointed so that order holds across checkpoints and restores.
package basic
