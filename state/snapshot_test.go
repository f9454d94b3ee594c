package state

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
)

// State written at parallelism p1 and snapshotted is restored at parallelism p2, each new
// subtask loading only its key groups; the union equals the reference, for both backends,
// across backends, and through a portable savepoint. Timers follow the same key groups.
func TestSnapshotRestoreRescale(t *testing.T) {
	specs := testTables()
	const maxP = 32
	pairs := [][2]int{{1, 4}, {4, 3}, {3, 2}, {2, 1}, {4, 4}}
	for _, from := range []string{MemoryBackend, PebbleBackend} {
		for _, to := range []string{MemoryBackend, PebbleBackend} {
			for _, savepoint := range []bool{false, true} {
				for _, pp := range pairs {
					name := fmt.Sprintf("%s-to-%s-p%d-to-p%d-savepoint=%v", from, to, pp[0], pp[1], savepoint)
					t.Run(name, func(t *testing.T) {
						if from == to && pp[0] != 1 && pp[0] != 4 && !savepoint {
							t.Skip("covered by other pairs")
						}
						rescale(t, specs, maxP, from, to, pp[0], pp[1], savepoint)
					})
				}
			}
		}
	}
}

func rescale(t *testing.T, specs []TableSpec, maxP int, from, to string, p1, p2 int, savepoint bool) {
	rng := rand.New(rand.NewSource(int64(p1*10 + p2)))
	clock := &ManualClock{Ms: 5000}
	r := newRef(specs, clock)
	c1 := newCluster(t, from, specs, maxP, p1, clock)
	runRandomOps(t, rng, 800, clock, r, []*cluster{c1})

	// Timers alongside, checked against a plain list.
	var timers1 []*Timers
	for s := 0; s < p1; s++ {
		timers1 = append(timers1, NewTimers(Range(s, maxP, p1)))
	}
	var wantTimers []string
	for i := 0; i < 200; i++ {
		tm := Timer{KeyGroup: rng.Intn(maxP), Key: i64key(i), Namespace: []byte("w"), Timestamp: int64(rng.Intn(1000))}
		if err := timers1[Subtask(tm.KeyGroup, maxP, p1)].Register(EventTime, tm); err != nil {
			t.Fatal(err)
		}
		wantTimers = append(wantTimers, fmt.Sprintf("%d/%x", tm.KeyGroup, tm.Key))
	}

	var w *Writer
	var err error
	if savepoint {
		w, err = BeginSavepoint(filepath.Join(t.TempDir(), "sp"))
	} else {
		var st *Storage
		st, err = NewStorage(t.TempDir(), 0)
		if err == nil {
			w, err = st.Begin(7)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for s, b := range c1.subs {
		if err := b.Snapshot(w, "op/1"); err != nil {
			t.Fatal(err)
		}
		if err := timers1[s].Snapshot(w, "op/1"); err != nil {
			t.Fatal(err)
		}
	}
	w.AddSourcePosition("gen", "0", []byte{1, 2, 3})
	if _, err := w.Commit(JobOptions{MaxParallelism: maxP, PlanFingerprint: "abc"}); err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCheckpoint(w.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if string(cp.Manifest.Sources[0].Position) != "\x01\x02\x03" {
		t.Fatalf("source position not kept: %v", cp.Manifest.Sources)
	}
	if n := len(r.dump(0, maxP)); n < 100 {
		t.Fatalf("only %d live entries: the test would prove little", n)
	}
	clock.Ms += 7 // some entries expire between snapshot and restore
	c2 := newCluster(t, to, specs, maxP, p2, clock)
	var gotTimers []string
	for s, b := range c2.subs {
		if err := b.Restore([]*Checkpoint{cp}, "op/1"); err != nil {
			t.Fatal(err)
		}
		tm := NewTimers(Range(s, maxP, p2))
		if err := tm.Restore([]*Checkpoint{cp}, "op/1"); err != nil {
			t.Fatal(err)
		}
		for _, x := range tm.Pop(EventTime, 1<<62, nil) {
			gotTimers = append(gotTimers, fmt.Sprintf("%d/%x", x.KeyGroup, x.Key))
		}
	}
	checkDump(t, "restored state", c2.dump(t, specs), r.dump(0, maxP))
	checkDump(t, "restored timers", sorted(gotTimers), sorted(wantTimers))
	// The restored backends keep working like the reference.
	runRandomOps(t, rng, 300, clock, r, []*cluster{c2})
	checkDump(t, "state after more operations", c2.dump(t, specs), r.dump(0, maxP))
}

// Subtasks snapshot into one Writer concurrently (as a job's subtasks will); the result
// restores at parallelism 1 to exactly the state written.
func TestConcurrentSnapshots(t *testing.T) {
	specs := testTables()
	const maxP, p = 16, 4
	clock := &ManualClock{Ms: 1}
	r := newRef(specs, clock)
	c := newCluster(t, PebbleBackend, specs, maxP, p, clock)
	runRandomOps(t, rand.New(rand.NewSource(9)), 600, clock, r, []*cluster{c})
	st, err := NewStorage(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := st.Begin(1)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, p)
	for s, b := range c.subs {
		go func() {
			if err := b.Snapshot(w, "op"); err != nil {
				errs <- err
				return
			}
			errs <- NewTimers(Range(s, maxP, p)).Snapshot(w, "op")
		}()
	}
	for range c.subs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(JobOptions{MaxParallelism: maxP}); err != nil {
		t.Fatal(err)
	}
	cp, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cp.Manifest.Operator("op").Handles); n != 2*p {
		t.Fatalf("%d handles, want %d", n, 2*p)
	}
	one := newCluster(t, MemoryBackend, specs, maxP, 1, clock)
	if err := one.subs[0].Restore([]*Checkpoint{cp}, "op"); err != nil {
		t.Fatal(err)
	}
	checkDump(t, "restored at parallelism 1", one.dump(t, specs), r.dump(0, maxP))
	// The same key groups from two snapshots is an error, never a silent merge.
	two := newCluster(t, MemoryBackend, specs, maxP, 1, clock)
	if err := two.subs[0].Restore([]*Checkpoint{cp, cp}, "op"); err == nil || !strings.Contains(err.Error(), "more than one snapshot handle") {
		t.Fatalf("restore from overlapping snapshots: %v", err)
	}
}
