package state_test

import (
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/state"
	"github.com/riverbed-engine/riverbed/state/internal/statetest"
)

// The memory backend gives the same answers as a plain-map reference on random batched
// operation sequences (the Pebble backend is checked against it in package pebblestate).
func TestBackendsMatchReference(t *testing.T) {
	statetest.BackendsMatchReference(t, state.MemoryBackend)
}

// Expired entries are never returned, whatever the access path.
func TestTTLNeverReturnsExpired(t *testing.T) {
	statetest.TTLNeverReturnsExpired(t, state.MemoryBackend)
}

// Bad calls get clear errors.
func TestBackendErrors(t *testing.T) {
	b := statetest.NewBackend(t, state.MemoryBackend, statetest.Tables(), 8, 2, 4, state.SystemClock{})
	if err := b.Put(0, 5, [][]byte{statetest.I64Key(1)}, [][]byte{[]byte("x")}); err == nil || !strings.Contains(err.Error(), "key group 5 is not owned") {
		t.Fatalf("foreign key group: %v", err)
	}
	if err := b.Append(0, 2, [][]byte{statetest.I64Key(1)}, [][]byte{[]byte("x")}); err == nil || !strings.Contains(err.Error(), `on table "v": the table is a value table`) {
		t.Fatalf("wrong kind: %v", err)
	}
	if err := b.Put(0, 2, [][]byte{statetest.I64Key(1)}, nil); err == nil || !strings.Contains(err.Error(), "1 keys but 0 values") {
		t.Fatalf("length mismatch: %v", err)
	}
	if _, err := state.NewBackend(state.Options{Backend: "rocks"}); err == nil || !strings.Contains(err.Error(), `unknown state backend "rocks"`) {
		t.Fatalf("unknown backend: %v", err)
	}
}

// Without package pebblestate linked in (this test binary does not import it), asking for
// the Pebble backend, or restoring a Pebble checkpoint, is a clear error naming the package
// to import, never a crash or silently missing state.
func TestPebbleNotLinked(t *testing.T) {
	const pkg = "import github.com/riverbed-engine/riverbed/state/pebblestate"
	if _, err := state.NewBackend(state.Options{Backend: state.PebbleBackend, Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), pkg) {
		t.Fatalf("pebble backend without pebblestate: %v", err)
	}
	_, w := statetest.BeginCheckpoint(t, 1)
	if err := w.WriteFile("op-a/kg-0-8/pebble/MANIFEST-000001", []byte("not read")); err != nil {
		t.Fatal(err)
	}
	w.AddStateHandle("a", state.StateHandle{KeyGroupStart: 0, KeyGroupEnd: 8, Format: state.FormatPebble,
		Files: []string{"op-a/kg-0-8/pebble/MANIFEST-000001"}, Tables: []state.TableRef{{Name: "v", ID: 0, Kind: state.Value}}})
	cp, err := w.Commit(state.JobOptions{MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	b := statetest.NewBackend(t, state.MemoryBackend, statetest.Tables(), 8, 0, 8, state.SystemClock{})
	if err := b.Restore([]*state.Checkpoint{cp}, "a"); err == nil || !strings.Contains(err.Error(), "Pebble checkpoint") || !strings.Contains(err.Error(), pkg) {
		t.Fatalf("restore of a pebble handle without pebblestate: %v", err)
	}
}
