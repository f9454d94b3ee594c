package state

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/zeebo/xxh3"
)

// smallCheckpoint writes a checkpoint with table state, timers and a source position.
func smallCheckpoint(t *testing.T, st *Storage, id uint64, n int) *Checkpoint {
	t.Helper()
	specs := testTables()
	b := newTestBackend(t, MemoryBackend, specs, 8, 0, 8, &ManualClock{Ms: 1})
	for i := 0; i < n; i++ {
		k := i64key(i)
		kg := keyGroupOf(k, 8)
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
	tm := NewTimers(0, 8)
	tm.Register(EventTime, Timer{KeyGroup: 3, Key: []byte("k"), Timestamp: 9})
	if err := tm.Snapshot(w, "agg"); err != nil {
		t.Fatal(err)
	}
	w.AddSourcePosition("orders", "file-0", []byte("rg=3,row=17"))
	cp, err := w.Commit(JobOptions{MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// A checkpoint truncated at any byte of any file, or with any byte flipped, is rejected
// with an error of kind Data (NotFound for a missing manifest) that names the file.
func TestDamagedCheckpointRejected(t *testing.T) {
	st, err := NewStorage(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	cp := smallCheckpoint(t, st, 1, 40)
	files := []string{MetadataFile}
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
			_, err := OpenCheckpoint(cp.Dir)
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
		if _, err := OpenCheckpoint(cp.Dir); err != nil {
			t.Fatalf("restored %s, checkpoint still rejected: %v", rel, err)
		}
	}
	os.Remove(cp.Path(cp.Manifest.Files[0].Path))
	if _, err := OpenCheckpoint(cp.Dir); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("missing file: %v", err)
	}
	os.Remove(cp.Path(MetadataFile))
	if _, err := OpenCheckpoint(cp.Dir); rberr.KindOf(err) != rberr.NotFound || !strings.Contains(err.Error(), "no _metadata") {
		t.Fatalf("missing manifest: %v", err)
	}
}

// Latest skips checkpoints without a manifest; retention keeps the newest N complete ones
// and deletes older ones and older incomplete leftovers.
func TestLatestAndRetention(t *testing.T) {
	dir := t.TempDir()
	st, err := NewStorage(dir, 2)
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
	if _, err := w4.Commit(JobOptions{MaxParallelism: 8}); err != nil {
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
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

// Consecutive Pebble checkpoints share unchanged SST files (hard links to one inode), and
// a savepoint of the same backend is self-contained (no file shared with the live state).
func TestPebbleCheckpointsShareFiles(t *testing.T) {
	specs := testTables()
	b := newTestBackend(t, PebbleBackend, specs, 8, 0, 8, &ManualClock{Ms: 1})
	put := func(from, to int) {
		for i := from; i < to; i++ {
			k := i64key(i)
			if err := b.Put(0, keyGroupOf(k, 8), [][]byte{k}, [][]byte{[]byte(strings.Repeat("x", 100))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, _ := NewStorage(t.TempDir(), 0)
	snap := func(id uint64) *Checkpoint {
		w, err := st.Begin(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Snapshot(w, "join"); err != nil {
			t.Fatal(err)
		}
		cp, err := w.Commit(JobOptions{MaxParallelism: 8})
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
	if _, err := OpenCheckpoint(cp2.Dir); err != nil {
		t.Fatal(err)
	}
	// Restoring from checkpoint 2 gives all 5100 keys.
	r := newTestBackend(t, MemoryBackend, specs, 8, 0, 8, &ManualClock{Ms: 1})
	if err := r.Restore([]*Checkpoint{cp2}, "join"); err != nil {
		t.Fatal(err)
	}
	if n := len(dumpBackend(t, r, specs)); n != 5100 {
		t.Fatalf("restored %d entries, want 5100", n)
	}
	w, _ := BeginSavepoint(filepath.Join(t.TempDir(), "sp"))
	if err := b.Snapshot(w, "join"); err != nil {
		t.Fatal(err)
	}
	sp, err := w.Commit(JobOptions{MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range sp.Manifest.Operators[0].Handles {
		if h.Format != FormatArrow {
			t.Fatalf("savepoint handle in format %s, want portable %s", h.Format, FormatArrow)
		}
	}
	// A savepoint taken at another max parallelism is refused with a clear error.
	r2 := newTestBackend(t, MemoryBackend, specs, 16, 0, 16, SystemClock{})
	if err := r2.Restore([]*Checkpoint{sp}, "join"); err == nil || !strings.Contains(err.Error(), "max parallelism 8") {
		t.Fatalf("restore at another max parallelism: %v", err)
	}
}

// A snapshot table the operator no longer declares is a clear error naming it.
func TestRestoreUnknownTable(t *testing.T) {
	st, _ := NewStorage(t.TempDir(), 0)
	cp := smallCheckpoint(t, st, 1, 5)
	b := newTestBackend(t, MemoryBackend, testTables()[1:], 8, 0, 8, SystemClock{})
	if err := b.Restore([]*Checkpoint{cp}, "agg"); err == nil || !strings.Contains(err.Error(), `state table "v"`) {
		t.Fatalf("unknown table: %v", err)
	}
}

// The manifest decoder never panics and never accepts what it cannot re-encode.
func FuzzDecodeManifest(f *testing.F) {
	m := &Manifest{Version: ManifestVersion, Kind: "checkpoint", ID: 3, Job: JobOptions{MaxParallelism: 8},
		Files:     []FileEntry{{Path: "op-a/kg-0-8/t-v.arrow", Size: 10, XXH3: "0123456789abcdef"}},
		Sources:   []SourcePosition{{Source: "s", Split: "0", Position: []byte{1}}},
		Operators: []OperatorState{{ID: "a", Handles: []StateHandle{{KeyGroupStart: 0, KeyGroupEnd: 8, Format: FormatArrow, Files: []string{"op-a/kg-0-8/t-v.arrow"}}}}}}
	good, err := EncodeManifest(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(manifestMagic + "{}\nxxh3 0000000000000000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			if rberr.KindOf(err) != rberr.Data {
				t.Fatalf("error of kind %v: %v", rberr.KindOf(err), err)
			}
			return
		}
		again, err := EncodeManifest(m)
		if err != nil {
			t.Fatalf("decoded manifest does not re-encode: %v", err)
		}
		if _, err := DecodeManifest(again); err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
	})
}

// Structure-aware: the JSON body is fuzzed under a valid header and checksum, so the fuzzer
// reaches the JSON decoder and the validation rules, not only the checksum check.
func FuzzDecodeManifestBody(f *testing.F) {
	m := &Manifest{Version: ManifestVersion, Kind: "savepoint", Job: JobOptions{MaxParallelism: 4, PlanFingerprint: "p"},
		Files:     []FileEntry{{Path: "op-a/kg-0-4/_timers.arrow", Size: 1, XXH3: "00000000000000ff"}},
		Operators: []OperatorState{{ID: "a", Handles: []StateHandle{{KeyGroupStart: 0, KeyGroupEnd: 4, Format: FormatTimers, Files: []string{"op-a/kg-0-4/_timers.arrow"}}}}}}
	good, err := EncodeManifest(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[len(manifestMagic) : len(good)-len("xxh3 0123456789abcdef\n")])
	f.Add([]byte(`{"version":1,"kind":"checkpoint","job":{"max_parallelism":2},"files":[{"path":"../x","size":1,"xxh3":"0000000000000000"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		data := append([]byte(manifestMagic), body...)
		data = append(data, '\n')
		data = append(data, []byte(fmt.Sprintf("xxh3 %016x\n", xxh3.Hash(data)))...)
		m, err := DecodeManifest(data)
		if err != nil {
			if rberr.KindOf(err) != rberr.Data {
				t.Fatalf("error of kind %v: %v", rberr.KindOf(err), err)
			}
			return
		}
		for _, fe := range m.Files {
			if checkRelPath(fe.Path) != nil {
				t.Fatalf("accepted a path outside the checkpoint: %q", fe.Path)
			}
		}
		again, err := EncodeManifest(m)
		if err != nil {
			t.Fatalf("decoded manifest does not re-encode: %v", err)
		}
		if _, err := DecodeManifest(again); err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
	})
}
