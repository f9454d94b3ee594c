// Package source owns the sources of a job behind one interface, Source: an enumerator
// of splits per subtask, a reader per split that starts at a replayable Position, an
// event-time Clock, and whether the source can be replayed at all (a live Python stream
// cannot). Task runs a source subtask and writes, once for all sources, what they share:
// sequence numbers, split markers, progress, watermarks (streaming per-split watermarks,
// batch-mode safe watermarks from statistics), idleness, stop and cancel.
//
// The sources are Parquet datasets read by (file, row group) split (parquet.go, with split
// pruning from column statistics, prune.go), Arrow streams handed over by the host, in-memory
// tables or live readers (arrow.go), and the datagen and Nexmark generators, paced or not
// (generator.go).
package source
