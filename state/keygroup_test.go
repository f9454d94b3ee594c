package state

import "testing"

// Every key group is owned by exactly the subtask whose Range contains it, for every
// parallelism up to the maximum.
func TestRangeMatchesSubtask(t *testing.T) {
	for _, maxP := range []int{1, 7, 128, 1000} {
		for p := 1; p <= maxP && p <= 64; p++ {
			owner := make([]int, maxP)
			for i := range owner {
				owner[i] = -1
			}
			for s := 0; s < p; s++ {
				lo, hi := Range(s, maxP, p)
				for kg := lo; kg < hi; kg++ {
					if owner[kg] != -1 {
						t.Fatalf("maxP=%d p=%d: key group %d owned twice", maxP, p, kg)
					}
					owner[kg] = s
				}
			}
			for kg, s := range owner {
				if s == -1 {
					t.Fatalf("maxP=%d p=%d: key group %d unowned", maxP, p, kg)
				}
				if got := Subtask(kg, maxP, p); got != s {
					t.Fatalf("maxP=%d p=%d: Subtask(%d)=%d but Range gives %d", maxP, p, kg, got, s)
				}
			}
		}
	}
}

func TestKeyGroupSpread(t *testing.T) {
	counts := make([]int, DefaultMaxParallelism)
	for k := uint64(0); k < 128000; k++ {
		counts[KeyGroup(k*0x9e3779b97f4a7c15, DefaultMaxParallelism)]++
	}
	for kg, c := range counts {
		if c < 800 || c > 1200 {
			t.Fatalf("key group %d got %d of 128000 keys; expected about 1000", kg, c)
		}
	}
}
