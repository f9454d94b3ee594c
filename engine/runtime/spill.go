package runtime

// SpillConfig says whether, and within what memory, the operators of a job may move the
// rows they hold (join sides, dedup and top-N candidates, ...) out of memory, and where
// to. It comes from the job's state options: with the Pebble state backend
// (state_backend="pebble"), each stateful operator subtask keeps at most MemoryLimit
// bytes of rows in memory and spills the rest to a store of its own in Dir (package
// keyed). The zero value keeps everything in memory.
type SpillConfig struct {
	// Backend is the job's state backend; operators spill only if it has a spill store
	// (state.Spills).
	Backend string
	// MemoryLimit is each stateful operator subtask's memory cap, in bytes.
	MemoryLimit int64
	// Dir is the job's working directory: each spilling subtask makes a fresh directory
	// in it and removes it when it closes.
	Dir string
}

// Spill is the job's spill configuration (the zero value outside a job).
func (tc *TaskCtx) Spill() SpillConfig {
	if tc.Job == nil {
		return SpillConfig{}
	}
	return tc.Job.Spill
}
