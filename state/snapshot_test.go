package state_test

import (
	"testing"

	"github.com/riverbed-engine/riverbed/state"
	"github.com/riverbed-engine/riverbed/state/internal/statetest"
)

// State written at parallelism p1 and snapshotted is restored at parallelism p2, each new
// subtask loading only its key groups; the union equals the reference, through a checkpoint
// and a portable savepoint (Pebble, and across backends: package pebblestate). Timers follow
// the same key groups.
func TestSnapshotRestoreRescale(t *testing.T) {
	statetest.SnapshotRestoreRescale(t, [2]string{state.MemoryBackend, state.MemoryBackend})
}

// Subtasks snapshot into one Writer concurrently; the result restores at parallelism 1 to
// exactly the state written.
func TestConcurrentSnapshots(t *testing.T) {
	statetest.ConcurrentSnapshots(t, state.MemoryBackend)
}
