// Package sink owns write_parquet: each subtask writes its own Parquet files, rolled by
// size and time. A bounded job commits them (or aborts them) when it ends, as one atomic
// commit; a checkpointed job commits each checkpoint's files when the checkpoint completes
// (the operator is a runtime.CheckpointHook: pre-commit at the barrier, commit on
// completion, commit-and-clean-up on restore). The output directory is checked before the
// job starts (error, append or overwrite), after completing any commit a crash
// interrupted.
package sink
