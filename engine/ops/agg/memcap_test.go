package agg_test

import (
	"fmt"
	"math/rand"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// wideStream is aggStream over many keys: batches of 500 rows whose k takes one of keys
// values and s one of 2000 words.
func wideStream(seed int64, batches, keys int) ([]opstest.Step, [][]any) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var all [][]any
	for b := 0; b < batches; b++ {
		rows := make([][]any, 500)
		for i := range rows {
			r := []any{int64(rng.Intn(keys)), fmt.Sprint("g", rng.Intn(3)), int64(rng.Intn(2000) - 1000), rng.Float64() * 100, fmt.Sprint("word", rng.Intn(2000))}
			for c := range r {
				if rng.Intn(10) == 0 {
					r[c] = nil
				}
			}
			rows[i] = r
		}
		all = append(all, rows...)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	return steps, all
}

// A group_by whose groups take about twenty times its memory cap spills them (in
// partitions by key hash, spilled again when a partition still outgrows the cap) and
// gives the groups of a plain-Go reference, first and last included; its table stays
// within the cap by its own estimate after every batch, and the Go heap it holds at its
// peak is a fraction of what the same group_by holds in memory.
func TestGroupBySpillsBeyondItsCap(t *testing.T) {
	steps, rows := wideStream(7, 200, 60000)
	defer opstest.Release(steps)
	const capBytes = 512 << 10
	for _, keys := range [][]string{{"k"}, {"k", "g"}} {
		t.Run(strings.Join(keys, ","), func(t *testing.T) {
			var cols []int
			for _, k := range keys {
				cols = append(cols, inSchema.FieldIndices(k)[0])
			}
			want := refGroupBy(rows, cols)
			var spills int
			var written int64
			peak := map[bool]uint64{}
			for _, cap := range []int64{capBytes, 1 << 40} {
				var base, most uint64
				var ms goruntime.MemStats
				goruntime.GC()
				goruntime.ReadMemStats(&ms)
				base = ms.HeapAlloc
				step := 0
				got, _ := opstest.WithinCap(t, groupByOp(t, keys...), steps, cap, 0, func(o runtime.Operator) opstest.CapUse {
					resident, w, n := agg.SpillUse(o)
					spills, written = n, w
					if step++; step%20 == 0 {
						goruntime.GC()
						goruntime.ReadMemStats(&ms)
						if ms.HeapAlloc > base {
							most = max(most, ms.HeapAlloc-base)
						}
					}
					return opstest.CapUse{Resident: resident, Spilled: w}
				})
				peak[cap == capBytes] = most
				if len(got) != len(want) {
					t.Fatalf("cap %d: %d groups, want %d", cap, len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("cap %d: group %d is %s, want %s", cap, i, got[i], want[i])
					}
				}
				if cap == capBytes {
					if spills < 10 || written == 0 {
						t.Fatalf("spilled %d times (%d bytes): the state should take many times the cap", spills, written)
					}
					t.Logf("%d groups; spilled %d times, %d KB", len(want), spills, written>>10)
				} else if spills != 0 {
					t.Fatalf("spilled %d times without a cap", spills)
				}
			}
			t.Logf("peak heap %d KB with the cap, %d KB without", peak[true]>>10, peak[false]>>10)
			if peak[true]*3 > peak[false] {
				t.Errorf("the spilling group_by held %d KB at its peak, not much less than the %d KB of the one in memory", peak[true]>>10, peak[false]>>10)
			}
		})
	}
}

// A group_by that spills (the Pebble backend under a 1-byte cap: every estimate spills)
// gives the reference's groups straight, checkpointed every few batches (its spilled
// partial states saved and merged back on restore) and restored at other parallelisms.
func TestGroupBySpilledStateThreeWays(t *testing.T) {
	steps, rows := wideStream(3, 24, 3000)
	defer opstest.Release(steps)
	opstest.RunAll(t, groupByOp(t, "k"), steps, 5, refGroupBy(rows, []int{0}))
}
