package keyed_test

import (
	"math/rand"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
)

// A counting key filter never forgets a key it holds (a false negative
// would lose its sessions), forgets keys removed (up to its false positives), and keeps
// a key whose counters saturated.
func TestKeyFilterAgainstASet(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	f := keyed.NewKeyFilter(20000)
	in, out := map[uint64]bool{}, map[uint64]bool{}
	for i := 0; i < 200000; i++ {
		h := expr.Mix64(uint64(rng.Intn(40000)))
		if in[h] {
			f.Remove(h)
			delete(in, h)
			out[h] = true
		} else if len(in) < 20000 {
			f.Add(h)
			in[h] = true
			delete(out, h)
		}
	}
	for h := range in {
		if !f.Has(h) {
			t.Fatalf("%x was added and not removed, but the filter says it is not there", h)
		}
	}
	if f.Keys() != len(in) {
		t.Fatalf("the filter counts %d keys, want %d", f.Keys(), len(in))
	}
	falsePos := 0
	const probes = 100000
	for i := 0; i < probes; i++ {
		if h := expr.Mix64(uint64(1_000_000 + i)); f.Has(h) {
			falsePos++
		}
	}
	if rate := float64(falsePos) / probes; rate > 0.06 {
		t.Fatalf("%.1f%% false positives at its size, want about 3%%", 100*rate)
	}
	kept := 0
	for h := range out {
		if f.Has(h) {
			kept++
		}
	}
	if rate := float64(kept) / float64(len(out)); len(out) < 5000 || rate > 0.06 {
		t.Fatalf("%.1f%% of the %d keys removed are still there, want about 3%%", 100*rate, len(out))
	}
	// Sixteen adds of one key saturate its counters: removing it then keeps it.
	const h = 0x9e3779b97f4a7c15
	for range 16 {
		f.Add(h)
	}
	f.Remove(h)
	f.Remove(h)
	if !f.Has(h) {
		t.Fatal("a saturated key was forgotten")
	}
}
