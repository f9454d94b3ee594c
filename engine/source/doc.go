// Package source owns the sources of a job: reading Parquet datasets by split (with
// split pruning from column statistics, prune.go, and a batch-mode watermark clock from
// row-group statistics), Arrow streams handed over by the host, and the datagen and
// Nexmark generators (paced or not). Each source produces its subtask's batches, split
// markers and watermarks onto the runtime's channels.
package source
