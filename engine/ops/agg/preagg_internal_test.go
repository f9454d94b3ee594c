package agg

import (
	"math"
	"math/rand"
	"testing"
)

// The sample estimate: keys that fit the table always pre-aggregate; keys that overflow
// it too soon to halve the rows do not; every row new never does.
func TestPreAggReductionEstimate(t *testing.T) {
	const limit = 1 << 20
	sample := func(keys int64, n int) int {
		rng := rand.New(rand.NewSource(1))
		seen := map[int64]bool{}
		for i := 0; i < n; i++ {
			seen[rng.Int63n(keys)] = true
		}
		return len(seen)
	}
	for _, c := range []struct {
		keys int64
		pre  bool
	}{{1000, true}, {100_000, true}, {1_000_000, true}, {1_200_000, true}, {2_000_000, false}, {10_000_000, false}, {1 << 40, false}} {
		const n = 1 << 16
		r := reduction(n, sample(c.keys, n), limit)
		if (r >= PreAggMinReduction) != c.pre {
			t.Errorf("%d keys: estimated reduction %.2f, want pre-aggregation %v", c.keys, r, c.pre)
		}
	}
	if r := reduction(100, 100, limit); r != 1 {
		t.Errorf("every row new: reduction %v, want 1", r)
	}
	if r := reduction(100, 3, limit); !math.IsInf(r, 1) {
		t.Errorf("three keys: reduction %v, want +Inf", r)
	}
}
