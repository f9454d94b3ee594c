package window

import (
	"math/rand"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/expr"
)

// Every window assign returns is one the brute-force definition contains, and none is
// missing.
func TestWindowerAssignMatchesDefinition(t *testing.T) {
	specs := []Windower{
		{Kind: "tumbling", size: 10},
		{Kind: "tumbling", size: 7, offs: 3},
		{Kind: "sliding", size: 10, slide: 5},
		{Kind: "sliding", size: 10, slide: 3},
		{Kind: "cumulate", step: 5, size: 20},
	}
	rng := rand.New(rand.NewSource(1))
	for _, w := range specs {
		for n := 0; n < 2000; n++ {
			ts := rng.Int63n(400) - 200
			got := map[[2]int64]bool{}
			for _, win := range w.Assign(ts, nil) {
				if got[win] {
					t.Fatalf("%+v: window %v assigned twice to %d", w, win, ts)
				}
				got[win] = true
			}
			want := map[[2]int64]bool{}
			for start := int64(-600); start <= 600; start++ {
				for end := start + 1; end <= start+40; end++ {
					if ts >= start && ts < end && windowExists(w, start, end) {
						want[[2]int64{start, end}] = true
					}
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%+v ts=%d: got %v want %v", w, ts, got, want)
			}
			for k := range want {
				if !got[k] {
					t.Fatalf("%+v ts=%d: missing %v", w, ts, k)
				}
			}
		}
	}
}

// windowExists is the definition of each window kind, independent of assign.
func windowExists(w Windower, start, end int64) bool {
	mod := func(a, b int64) int64 { return ((a % b) + b) % b }
	switch w.Kind {
	case "tumbling":
		return end-start == w.size && mod(start-w.offs, w.size) == 0
	case "sliding":
		return end-start == w.size && mod(start-w.offs, w.slide) == 0
	case "cumulate":
		return mod(start-w.offs, w.size) == 0 && end-start <= w.size && (end-start)%w.step == 0
	}
	return false
}

func TestFloorDiv(t *testing.T) {
	for _, c := range [][3]int64{{7, 2, 3}, {-7, 2, -4}, {-8, 2, -4}, {0, 5, 0}, {-1, 10, -1}} {
		if got := expr.FloorDiv(c[0], c[1]); got != c[2] {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}
