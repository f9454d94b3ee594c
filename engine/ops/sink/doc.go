// Package sink owns write_parquet: each subtask writes its own Parquet files, rolled by
// size and time. A bounded job commits them (or aborts them) when it ends, as one atomic
// commit; a checkpointed job commits each checkpoint's files when the checkpoint completes
// (the operator is a runtime.CheckpointHook: pre-commit at the barrier, commit on
// completion, commit-and-clean-up on restore). The output directory is checked before the
// job starts (error, append or overwrite), after completing any commit a crash
// interrupted.
//
// It also owns write_parquet_snapshot (snapshot.go, snapshot_commit.go), which keeps the
// table a changelog makes as keyed state and writes it whole as a Parquet snapshot
// directory at each checkpoint, with the same two-phase commit and a _latest pointer; and
// write_kafka (kafka.go, upsert.go).
package sink
