package pebblestate

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/riverbed-engine/riverbed/state"
)

// The spill store gives back what was put, through flushes and deletes, against a map;
// Close removes its directory.
func TestSpillStore(t *testing.T) {
	dir := t.TempDir()
	s, err := state.NewSpillStore(state.PebbleBackend, state.SpillOptions{Dir: dir, MemoryLimit: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	want := map[uint64][]byte{}
	for k := uint64(1); k <= 200; k++ {
		n := rng.Intn(64 << 10)
		if k%50 == 0 {
			n = 3 << 20 // larger than the memtable
		}
		v := bytes.Repeat([]byte{byte(k), byte(k >> 8), byte(rng.Intn(256))}, n/3)
		if err := s.Put(k, v); err != nil {
			t.Fatal(err)
		}
		want[k] = v
		if rng.Intn(3) == 0 {
			d := uint64(1 + rng.Intn(int(k)))
			if err := s.Delete(d); err != nil {
				t.Fatal(err)
			}
			delete(want, d)
		}
	}
	for k := uint64(1); k <= 200; k++ {
		err := s.Get(k, func(v []byte) error {
			if !bytes.Equal(v, want[k]) {
				t.Fatalf("value %d: %d bytes, want %d", k, len(v), len(want[k]))
			}
			return nil
		})
		if _, ok := want[k]; ok != (err == nil) {
			t.Fatalf("value %d (present %v): %v", k, ok, err)
		}
		if err != nil && !strings.Contains(err.Error(), "no value") {
			t.Fatalf("a missing value: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("Close left %d entries", len(ents))
	}
}

// A full disk is an error from Put (or the next call), never a stall or a crash, and the
// store still closes and removes its directory.
func TestSpillStoreDiskFull(t *testing.T) {
	for _, what := range []string{"tables", "everything"} {
		t.Run(what, func(t *testing.T) {
			var full atomic.Bool
			fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if !full.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
					return nil
				}
				if what == "tables" && !strings.HasSuffix(op.Path, ".sst") {
					return nil
				}
				return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
			}))
			dir := t.TempDir()
			s, err := newSpill(state.SpillOptions{Dir: dir, MemoryLimit: 4 << 20}, fs)
			if err != nil {
				t.Fatal(err)
			}
			v := bytes.Repeat([]byte("x"), 200<<10)
			for k := uint64(1); k <= 10; k++ {
				if err := s.Put(k, v); err != nil {
					t.Fatal(err)
				}
			}
			full.Store(true)
			for k := uint64(11); k <= 1000 && err == nil; k++ {
				err = s.Put(k, v)
			}
			if err == nil || !errors.Is(err, syscall.ENOSPC) && !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("writes to a full disk: %v", err)
			}
			if !strings.Contains(err.Error(), "is the disk full?") {
				t.Fatalf("the error does not say what may be wrong: %v", err)
			}
			if err := s.Get(1, func([]byte) error { return nil }); err == nil {
				t.Fatal("a read after the failure succeeded")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir)); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("Close left %d entries", len(ents))
			}
		})
	}
}

// Spill stores left by a process that no longer runs (a job killed before it removed its
// own) are removed when a store is next opened in their directory; those of live
// processes, and anything else, stay.
func TestSpillStoreRemovesOrphans(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no process to take a finished pid from:", err)
	}
	dead := cmd.Process.Pid
	dir := t.TempDir()
	orphan := filepath.Join(dir, fmt.Sprintf("riverbed-spill-%d-123", dead))
	mine := filepath.Join(dir, fmt.Sprintf("riverbed-spill-%d-456", os.Getpid()))
	other := filepath.Join(dir, "pebble-789")
	for _, d := range []string{orphan, mine, other} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s, err := state.NewSpillStore(state.PebbleBackend, state.SpillOptions{Dir: dir, MemoryLimit: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("the store of a finished process is still there: %v", err)
	}
	for _, d := range []string{mine, other} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s was removed: %v", filepath.Base(d), err)
		}
	}
}

// Under byte keys the spill store gives back what was put, tells a missing key from a
// value, forgets deleted keys and scans in key order, against a map, across flushes.
func TestSpillStoreByKey(t *testing.T) {
	s, err := state.NewSpillStore(state.PebbleBackend, state.SpillOptions{Dir: t.TempDir(), MemoryLimit: 4 << 20, ByKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ks := s.(state.KeyedSpillStore)
	rng := rand.New(rand.NewSource(2))
	want := map[string][]byte{}
	for i := 0; i < 5000; i++ {
		k := fmt.Appendf(nil, "key-%d", rng.Intn(3000))
		if rng.Intn(4) == 0 {
			if err := ks.DeleteKey(k); err != nil {
				t.Fatal(err)
			}
			delete(want, string(k))
			continue
		}
		v := bytes.Repeat([]byte{byte(i)}, rng.Intn(2000))
		if err := ks.PutKeys([][]byte{k}, [][]byte{v}); err != nil {
			t.Fatal(err)
		}
		want[string(k)] = v
	}
	// One write of many.
	var ks100, vs100 [][]byte
	for i := 0; i < 100; i++ {
		k, v := fmt.Appendf(nil, "key-%d", i*7), fmt.Appendf(nil, "batch-%d", i)
		ks100, vs100 = append(ks100, k), append(vs100, v)
		want[string(k)] = v
	}
	if err := ks.PutKeys(ks100, vs100); err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for i := 0; i < 3000; i++ {
		all = append(all, fmt.Appendf(nil, "key-%d", i))
	}
	slices.SortFunc(all, bytes.Compare)
	got := map[string][]byte{}
	err = ks.GetKeys(all, func(i int, v []byte) error {
		got[string(all[i])] = bytes.Clone(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if w, ok := want[string(k)]; ok != (got[string(k)] != nil) || !bytes.Equal(got[string(k)], w) {
			t.Fatalf("%s: got %d bytes, want %v (%d bytes)", k, len(got[string(k)]), ok, len(w))
		}
	}
	var last string
	n := 0
	err = ks.ScanKeys(func(k, v []byte) error {
		if string(k) <= last || !bytes.Equal(v, want[string(k)]) {
			return fmt.Errorf("scan: %s after %s, or its value differs", k, last)
		}
		last = string(k)
		n++
		return nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("scanned %d of %d: %v", n, len(want), err)
	}
	// A range: its keys only, in order; an error from fn ends it.
	lo, hi := []byte("key-1"), []byte("key-2")
	var inRange []string
	for k := range want {
		if k >= string(lo) && k < string(hi) {
			inRange = append(inRange, k)
		}
	}
	slices.Sort(inRange)
	var scanned []string
	if err := ks.ScanRange(lo, hi, func(k, _ []byte) error { scanned = append(scanned, string(k)); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scanned, inRange) || len(scanned) < 100 {
		t.Fatalf("the range scan gave %d keys, want the %d in range", len(scanned), len(inRange))
	}
	stop := errors.New("stop")
	scanned = nil
	err = ks.ScanRange(lo, nil, func(k, _ []byte) error {
		scanned = append(scanned, string(k))
		if len(scanned) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(scanned, inRange[:3]) {
		t.Fatalf("an open range stopped by fn gave %v, %v", scanned, err)
	}
	// One write of many deletes.
	var gone [][]byte
	for _, k := range inRange {
		gone = append(gone, []byte(k))
		delete(want, k)
	}
	if err := ks.DeleteKeys(gone); err != nil {
		t.Fatal(err)
	}
	n = 0
	if err := ks.ScanKeys(func(k, _ []byte) error {
		if _, ok := want[string(k)]; !ok {
			return fmt.Errorf("%s was deleted", k)
		}
		n++
		return nil
	}); err != nil || n != len(want) {
		t.Fatalf("after the deletes scanned %d of %d: %v", n, len(want), err)
	}
	// A range deleted: its keys only (from lo included to hi excluded), gone for scans and
	// lookups; keys put in it afterwards are there.
	lo, hi = []byte("key-4"), []byte("key-6")
	if err := ks.DeleteRange(lo, hi); err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if k >= string(lo) && k < string(hi) {
			delete(want, k)
		}
	}
	if err := ks.PutKeys([][]byte{[]byte("key-5-again")}, [][]byte{[]byte("v")}); err != nil {
		t.Fatal(err)
	}
	want["key-5-again"] = []byte("v")
	got = map[string][]byte{}
	if err := ks.ScanKeys(func(k, v []byte) error { got[string(k)] = bytes.Clone(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !bytes.Equal(got["key-5-again"], []byte("v")) || got["key-6"] == nil != (want["key-6"] == nil) {
		t.Fatalf("after the range deletion scanned %d keys, want %d", len(got), len(want))
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s was in the range deleted", k)
		}
	}
	if err := ks.GetKeys([][]byte{[]byte("key-40")}, func(int, []byte) error { return errors.New("key-40 was deleted") }); err != nil {
		t.Fatal(err)
	}
}

// Entries written in key order through PutSorted replace the stored values of their keys
// (written through memtables, deleted or put sorted before) once Finish is called, not
// before; an aborted write leaves nothing; a key out of order is an error, not a crash;
// reads between the puts see the store as it was.
func TestSpillStorePutSorted(t *testing.T) {
	s, err := state.NewSpillStore(state.PebbleBackend, state.SpillOptions{Dir: t.TempDir(), MemoryLimit: 4 << 20, ByKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ks := s.(state.KeyedSpillStore)
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%05d", i) }
	want := map[string]string{}
	check := func(when string) {
		t.Helper()
		got := map[string]string{}
		if err := ks.ScanKeys(func(k, v []byte) error { got[string(k)] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s: the store holds %d keys, want %d", when, len(got), len(want))
		}
	}
	for i := 0; i < 3000; i += 2 {
		if err := ks.PutKeys([][]byte{key(i)}, [][]byte{fmt.Appendf(nil, "old-%d", i)}); err != nil {
			t.Fatal(err)
		}
		want[string(key(i))] = fmt.Sprint("old-", i)
	}
	if err := ks.DeleteKey(key(10)); err != nil {
		t.Fatal(err)
	}
	delete(want, string(key(10)))
	for round := range 3 {
		w, err := ks.PutSorted()
		if err != nil {
			t.Fatal(err)
		}
		next := map[string]string{}
		for i := round; i < 3000; i += 3 {
			v := fmt.Sprintf("round-%d-%d", round, i)
			if err := w.Put(key(i), []byte(v)); err != nil {
				t.Fatal(err)
			}
			next[string(key(i))] = v
			if i == 1500 {
				check(fmt.Sprintf("round %d, half written", round)) // nothing visible yet
			}
		}
		if round == 1 {
			w.Abort()
			check("after an aborted write")
			continue
		}
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
		w.Abort() // after Finish: nothing
		maps.Copy(want, next)
		check(fmt.Sprintf("after round %d", round))
	}
	w, err := ks.PutSorted()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put(key(5), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(key(4), nil); err == nil {
		t.Fatal("a key out of order was taken")
	}
	w.Abort()
	check("after a write with a key out of order")
	empty, err := ks.PutSorted()
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.Finish(); err != nil {
		t.Fatalf("a write of no entries: %v", err)
	}
	check("after a write of no entries")
	left, err := os.ReadDir(s.(*spillStore).dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "riverbed-ingest-") {
			t.Fatalf("%s left in the store's directory", e.Name())
		}
	}
}
