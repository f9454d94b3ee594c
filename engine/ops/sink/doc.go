// Package sink owns write_parquet: each subtask writes its own Parquet files, which the
// job commits (or aborts) when it ends; the output directory is checked before the job
// starts (error, append or overwrite).
package sink
