package pebblestate

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/riverbed-engine/riverbed/state"
	"github.com/riverbed-engine/riverbed/state/internal/statetest"
)

// Memory and Pebble give the same answers as a plain-map reference on random batched
// operation sequences, with TTL expiry driven by a manual clock; full scans agree too.
func TestBackendsMatchReference(t *testing.T) {
	statetest.BackendsMatchReference(t, state.MemoryBackend, state.PebbleBackend)
}

// Expired entries are never returned by the Pebble backend, whatever the access path.
func TestTTLNeverReturnsExpired(t *testing.T) {
	statetest.TTLNeverReturnsExpired(t, state.PebbleBackend)
}

// State written at parallelism p1 and snapshotted is restored at parallelism p2, for the
// Pebble backend and across backends in both directions, through checkpoints and portable
// savepoints (memory to memory: package state).
func TestSnapshotRestoreRescale(t *testing.T) {
	statetest.SnapshotRestoreRescale(t,
		[2]string{state.MemoryBackend, state.PebbleBackend},
		[2]string{state.PebbleBackend, state.MemoryBackend},
		[2]string{state.PebbleBackend, state.PebbleBackend})
}

// Pebble subtasks snapshot into one Writer concurrently; the result restores at
// parallelism 1 to exactly the state written.
func TestConcurrentSnapshots(t *testing.T) {
	statetest.ConcurrentSnapshots(t, state.PebbleBackend)
}

// The Pebble backend holds state ten times its memory cap: it spills to SSTs and reads
// back every value.
func TestPebbleStateBeyondMemoryCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MB")
	}
	specs := []state.TableSpec{{Name: "big", Kind: state.Value}}
	b, err := state.NewBackend(state.Options{Backend: state.PebbleBackend, Tables: specs, MaxParallelism: 4, Dir: t.TempDir(), MemoryLimit: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n, size = 40_000, 1024
	// Incompressible values, derived from the key.
	val := func(i int) []byte {
		v := make([]byte, size)
		rand.New(rand.NewSource(int64(i))).Read(v)
		return v
	}
	for kg := 0; kg < 4; kg++ {
		for i := kg; i < n; i += 4 * 500 {
			var keys, vals [][]byte
			for j := i; j < n && j < i+4*500; j += 4 {
				keys, vals = append(keys, statetest.I64Key(j)), append(vals, val(j))
			}
			if err := b.Put(0, kg, keys, vals); err != nil {
				t.Fatal(err)
			}
		}
	}
	ps := b.(*pebbleStore)
	if m := ps.db.Metrics(); m.DiskSpaceUsage() < 10<<20 {
		t.Fatalf("only %d bytes on disk: state did not spill", m.DiskSpaceUsage())
	}
	for i := 0; i < n; i += 37 {
		got, err := b.Get(0, i%4, [][]byte{statetest.I64Key(i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got[0]) != string(val(i)) {
			t.Fatalf("key %d: got %.20q", i, got[0])
		}
	}
}

// Consecutive Pebble checkpoints share unchanged SST files (hard links to one inode), and
// a savepoint of the same backend is self-contained (no file shared with the live state).
func TestPebbleCheckpointsShareFiles(t *testing.T) {
	specs := statetest.Tables()
	b := statetest.NewBackend(t, state.PebbleBackend, specs, 8, 0, 8, &state.ManualClock{Ms: 1})
	put := func(from, to int) {
		for i := from; i < to; i++ {
			k := statetest.I64Key(i)
			if err := b.Put(0, statetest.KeyGroupOf(k, 8), [][]byte{k}, [][]byte{[]byte(strings.Repeat("x", 100))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, _ := state.NewStorage(t.TempDir(), 0)
	snap := func(id uint64) *state.Checkpoint {
		w, err := st.Begin(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Snapshot(w, "join"); err != nil {
			t.Fatal(err)
		}
		cp, err := w.Commit(state.JobOptions{MaxParallelism: 8})
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	put(0, 5000)
	cp1 := snap(1)
	put(5000, 5100)
	cp2 := snap(2)
	shared := 0
	for _, f1 := range cp1.Manifest.Files {
		if !strings.HasSuffix(f1.Path, ".sst") {
			continue
		}
		s1, err1 := os.Stat(cp1.Path(f1.Path))
		s2, err2 := os.Stat(cp2.Path(f1.Path))
		if err1 == nil && err2 == nil && os.SameFile(s1, s2) {
			shared++
		}
	}
	if shared == 0 {
		t.Fatalf("no SST shared between consecutive checkpoints: %v / %v", cp1.Manifest.Files, cp2.Manifest.Files)
	}
	if _, err := state.OpenCheckpoint(cp2.Dir); err != nil {
		t.Fatal(err)
	}
	// Restoring from checkpoint 2 gives all 5100 keys.
	r := statetest.NewBackend(t, state.MemoryBackend, specs, 8, 0, 8, &state.ManualClock{Ms: 1})
	if err := r.Restore([]*state.Checkpoint{cp2}, "join"); err != nil {
		t.Fatal(err)
	}
	if n := len(statetest.DumpBackend(t, r, specs)); n != 5100 {
		t.Fatalf("restored %d entries, want 5100", n)
	}
	w, _ := state.BeginSavepoint(filepath.Join(t.TempDir(), "sp"))
	if err := b.Snapshot(w, "join"); err != nil {
		t.Fatal(err)
	}
	sp, err := w.Commit(state.JobOptions{MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range sp.Manifest.Operators[0].Handles {
		if h.Format != state.FormatArrow {
			t.Fatalf("savepoint handle in format %s, want portable %s", h.Format, state.FormatArrow)
		}
	}
	// A savepoint taken at another max parallelism is refused with a clear error.
	r2 := statetest.NewBackend(t, state.MemoryBackend, specs, 16, 0, 16, state.SystemClock{})
	if err := r2.Restore([]*state.Checkpoint{sp}, "join"); err == nil || !strings.Contains(err.Error(), "max parallelism 8") {
		t.Fatalf("restore at another max parallelism: %v", err)
	}
}

// A stored record too short to decode is reported as corrupt state naming the table, by
// every point read (value, list and map tables), never returned as data.
func TestCorruptRecordIsAnError(t *testing.T) {
	specs := []state.TableSpec{{Name: "v", Kind: state.Value}, {Name: "l", Kind: state.List}, {Name: "m", Kind: state.Map}}
	b, err := state.NewBackend(state.Options{Backend: state.PebbleBackend, Tables: specs, MaxParallelism: 1, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := b.(*pebbleStore)
	keys, subs := [][]byte{[]byte("absent"), []byte("bad")}, [][]byte{[]byte("u"), []byte("u")}
	for tbl, sub := range [][]byte{nil, nil, []byte("u")} {
		// Shorter than a record's 8-byte expiry header; for a list, a truncated element.
		if err := p.db.Set(appendKey(nil, state.Table(tbl), 0, []byte("bad"), sub), []byte{1, 2, 3}, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	reads := map[string]func() error{
		"v": func() error { _, err := b.Get(0, 0, keys, nil); return err },
		"l": func() error { _, err := b.GetList(1, 0, keys, nil); return err },
		"m": func() error { _, err := b.GetMap(2, 0, keys, subs, nil); return err },
	}
	for name, read := range reads {
		err := read()
		if err == nil || !strings.Contains(err.Error(), `pebble state of table "`+name+`"`) || !strings.Contains(err.Error(), "is corrupt") {
			t.Errorf("table %s: got %v, want a corrupt-state error naming the table", name, err)
		}
	}
}
