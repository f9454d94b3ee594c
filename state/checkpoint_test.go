package state_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
	"github.com/riverbed-engine/riverbed/state/internal/statetest"
)

// smallCheckpoint writes a checkpoint with table state, timers and a source position.
func smallCheckpoint(t *testing.T, st *state.Storage, id uint64, n int) *state.Checkpoint {
	t.Helper()
	specs := statetest.Tables()
	b := statetest.NewBackend(t, state.MemoryBackend, specs, 8, 0, 8, &state.ManualClock{Ms: 1})
	for i := 0; i < n; i++ {
		k := statetest.I64Key(i)
		kg := statetest.KeyGroupOf(k, 8)
		if err := b.Put(0, kg, [][]byte{k}, [][]byte{[]byte("value")}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := st.Begin(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Snapshot(w, "agg"); err != nil {
		t.Fatal(err)
	}
	tm := state.NewTimers(0, 8)
	tm.Register(state.EventTime, state.Timer{KeyGroup: 3, Key: []byte("k"), Timestamp: 9})
	if err := tm.Snapshot(w, "agg"); err != nil {
		t.Fatal(err)
	}
	w.AddSourcePosition("orders", "file-0", []byte("rg=3,row=17"))
	cp, err := w.Commit(state.JobOptions{MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// A checkpoint truncated at any byte of any file, or with any byte flipped, is rejected
// with an error of kind Data (NotFound for a missing manifest) that names the file.
func TestDamagedCheckpointRejected(t *testing.T) {
	st, err := state.NewStorage(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	cp := smallCheckpoint(t, st, 1, 40)
	files := []string{state.MetadataFile}
	for _, f := range cp.Manifest.Files {
		files = append(files, f.Path)
	}
	if len(files) < 6 {
		t.Fatalf("expected table files, timers and a manifest, got %v", files)
	}
	for _, rel := range files {
		full := cp.Path(rel)
		orig, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		step := 1
		if len(orig) > 1500 {
			step = len(orig) / 300
		}
		check := func(what string) {
			_, err := state.OpenCheckpoint(cp.Dir)
			if err == nil {
				t.Fatalf("%s of %s accepted", what, rel)
			}
			if k := rberr.KindOf(err); k != rberr.Data {
				t.Fatalf("%s of %s: error kind %v: %v", what, rel, k, err)
			}
			if !strings.Contains(err.Error(), rel) {
				t.Fatalf("%s of %s: error does not name the file: %v", what, rel, err)
			}
		}
		for off := 0; off < len(orig); off += step {
			if err := os.WriteFile(full, orig[:off], 0o644); err != nil {
				t.Fatal(err)
			}
			check("truncation at byte " + strconv.Itoa(off))
			flipped := append([]byte(nil), orig...)
			flipped[off] ^= 0x5a
			if err := os.WriteFile(full, flipped, 0o644); err != nil {
				t.Fatal(err)
			}
			check("flipped byte " + strconv.Itoa(off))
		}
		if err := os.WriteFile(full, append(append([]byte(nil), orig...), 0), 0o644); err != nil {
			t.Fatal(err)
		}
		check("extension")
		if err := os.WriteFile(full, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := state.OpenCheckpoint(cp.Dir); err != nil {
			t.Fatalf("restored %s, checkpoint still rejected: %v", rel, err)
		}
	}
	os.Remove(cp.Path(cp.Manifest.Files[0].Path))
	if _, err := state.OpenCheckpoint(cp.Dir); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("missing file: %v", err)
	}
	os.Remove(cp.Path(state.MetadataFile))
	if _, err := state.OpenCheckpoint(cp.Dir); rberr.KindOf(err) != rberr.NotFound || !strings.Contains(err.Error(), "no _metadata") {
		t.Fatalf("missing manifest: %v", err)
	}
}

// Latest skips checkpoints without a manifest; retention keeps the newest N complete ones
// and deletes older ones and older incomplete leftovers.
func TestLatestAndRetention(t *testing.T) {
	dir := t.TempDir()
	st, err := state.NewStorage(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := st.Latest(); cp != nil || err != nil {
		t.Fatalf("empty storage: %v %v", cp, err)
	}
	smallCheckpoint(t, st, 1, 5)
	// Checkpoint 2 was interrupted before its manifest; 3 is being written.
	w2, _ := st.Begin(2)
	if err := w2.WriteFile("x", []byte("partial")); err != nil {
		t.Fatal(err)
	}
	cp, err := st.Latest()
	if err != nil || cp == nil || cp.Manifest.ID != 1 {
		t.Fatalf("Latest with an incomplete newer checkpoint = %+v, %v; want 1", cp, err)
	}
	if id, _ := st.NextID(); id != 3 {
		t.Fatalf("NextID = %d, want 3", id)
	}
	w4, _ := st.Begin(4)
	smallCheckpoint(t, st, 3, 5)
	if _, err := os.Stat(st.CheckpointDir(2)); !os.IsNotExist(err) {
		t.Fatalf("incomplete checkpoint 2 not deleted after 3 completed: %v", err)
	}
	if _, err := os.Stat(w4.Dir()); err != nil {
		t.Fatalf("checkpoint 4, still being written, was deleted: %v", err)
	}
	if _, err := w4.Commit(state.JobOptions{MaxParallelism: 8}); err != nil {
		t.Fatal(err)
	}
	smallCheckpoint(t, st, 5, 5)
	ids, _ := st.Completed()
	if len(ids) != 2 || ids[0] != 4 || ids[1] != 5 {
		t.Fatalf("retained %v, want [4 5]", ids)
	}
	cp, err = st.Latest()
	if err != nil || cp.Manifest.ID != 5 {
		t.Fatalf("Latest = %v, %v", cp, err)
	}
	// A newest checkpoint that is damaged is an error, not a silent fallback.
	os.WriteFile(cp.Path(cp.Manifest.Files[0].Path), []byte("junk"), 0o644)
	if _, err := st.Latest(); err == nil {
		t.Fatal("damaged newest checkpoint accepted")
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "chk-5"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

// A snapshot table the operator no longer declares is a clear error naming it.
func TestRestoreUnknownTable(t *testing.T) {
	st, _ := state.NewStorage(t.TempDir(), 0)
	cp := smallCheckpoint(t, st, 1, 5)
	b := statetest.NewBackend(t, state.MemoryBackend, statetest.Tables()[1:], 8, 0, 8, state.SystemClock{})
	if err := b.Restore([]*state.Checkpoint{cp}, "agg"); err == nil || !strings.Contains(err.Error(), `state table "v"`) {
		t.Fatalf("unknown table: %v", err)
	}
}
