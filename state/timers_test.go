package state_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/riverbed-engine/riverbed/state"
	"github.com/riverbed-engine/riverbed/state/internal/statetest"
)

// Timers pop in timestamp order up to the watermark, deletes and duplicate registrations
// behave as a set, against a plain map reference.
func TestTimersMatchReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	ts := state.NewTimers(4, 12)
	type key struct {
		d         state.TimeDomain
		kg, k, ns int
		ts        int64
	}
	ref := map[key]bool{}
	wm := [2]int64{}
	for step := 0; step < 5000; step++ {
		k := key{state.TimeDomain(rng.Intn(2)), 4 + rng.Intn(8), rng.Intn(20), rng.Intn(3), wm[0] + int64(rng.Intn(100))}
		tm := state.Timer{KeyGroup: k.kg, Key: []byte(fmt.Sprint(k.k)), Namespace: []byte(fmt.Sprint(k.ns)), Timestamp: k.ts}
		switch rng.Intn(4) {
		case 0, 1:
			if err := ts.Register(k.d, tm); err != nil {
				t.Fatal(err)
			}
			ref[k] = true
		case 2:
			if err := ts.Delete(k.d, tm); err != nil {
				t.Fatal(err)
			}
			delete(ref, k)
		case 3:
			d := state.TimeDomain(rng.Intn(2))
			wm[d] += int64(rng.Intn(30))
			got := ts.Pop(d, wm[d], nil)
			var want []key
			for rk := range ref {
				if rk.d == d && rk.ts <= wm[d] {
					want = append(want, rk)
					delete(ref, rk)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("step %d: popped %d timers, reference %d", step, len(got), len(want))
			}
			for i := 1; i < len(got); i++ {
				if got[i].Timestamp < got[i-1].Timestamp {
					t.Fatalf("step %d: timers out of order", step)
				}
			}
			var gs, ws []string
			for _, g := range got {
				gs = append(gs, fmt.Sprintf("%d/%s/%s/%d", g.KeyGroup, g.Key, g.Namespace, g.Timestamp))
			}
			for _, w := range want {
				ws = append(ws, fmt.Sprintf("%d/%d/%d/%d", w.kg, w.k, w.ns, w.ts))
			}
			statetest.CheckDump(t, "popped timers", statetest.Sorted(gs), statetest.Sorted(ws))
		}
		n := 0
		for rk := range ref {
			if rk.d == state.EventTime {
				n++
			}
		}
		if ts.Len(state.EventTime) != n {
			t.Fatalf("step %d: Len %d, reference %d", step, ts.Len(state.EventTime), n)
		}
	}
	if err := ts.Register(state.EventTime, state.Timer{KeyGroup: 2}); err == nil {
		t.Fatal("timer of a foreign key group accepted")
	}
}

// MemBytes grows with every timer registered (by at least its key and namespace), not
// with a duplicate, and is back to zero once every timer has left the heaps (deleted
// ones when they reach the top).
func TestTimersMemBytes(t *testing.T) {
	ts := state.NewTimers(0, 4)
	if ts.MemBytes() != 0 {
		t.Fatalf("no timers take %d bytes", ts.MemBytes())
	}
	key := make([]byte, 100)
	for i := range 50 {
		before := ts.MemBytes()
		tm := state.Timer{KeyGroup: i % 4, Key: key, Namespace: []byte("ns"), Timestamp: int64(i)}
		for d := range 2 {
			if err := ts.Register(state.TimeDomain(d), tm); err != nil {
				t.Fatal(err)
			}
		}
		if grown := ts.MemBytes() - before; grown < 2*(100+2) {
			t.Fatalf("two timers of a 100-byte key took %d bytes", grown)
		}
		before = ts.MemBytes()
		if err := ts.Register(state.EventTime, tm); err != nil || ts.MemBytes() != before {
			t.Fatalf("a duplicate timer changed the bytes from %d to %d (%v)", before, ts.MemBytes(), err)
		}
		if i%2 == 0 {
			if err := ts.Delete(state.ProcessingTime, tm); err != nil {
				t.Fatal(err)
			}
		}
	}
	ts.Pop(state.EventTime, 1000, nil)
	ts.Pop(state.ProcessingTime, 1000, nil)
	if ts.MemBytes() != 0 {
		t.Fatalf("after every timer fired, %d bytes are left", ts.MemBytes())
	}
}
