package join

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
)

// The index against a map of slices through adds and sets (keys going from none to one
// row to several and back, as a TTL or a retraction moves them), with each and bytes.
func TestRefIndexAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var ix refIndex
	want := map[uint32][]keyed.RowRef{}
	const keys = 500
	for step := range 20000 {
		k := uint32(rng.Intn(keys))
		switch op := rng.Intn(10); {
		case op < 6:
			r := keyed.RowRef{Chunk: int32(step / 100), Row: int32(step % 100)}
			ix.add(k, r)
			want[k] = append(want[k], r)
		case op < 8: // keep a suffix, as a TTL does
			rows := ix.get(k)
			cut := rng.Intn(len(rows) + 1)
			ix.set(k, append(rows[:0:0], rows[cut:]...))
			want[k] = want[k][cut:]
		case op < 9: // keep a prefix in place
			rows := ix.get(k)
			n := rng.Intn(len(rows) + 1)
			ix.set(k, rows[:n])
			want[k] = want[k][:n]
		default:
			ix.set(k, nil)
			delete(want, k)
		}
		if step%1000 == 999 {
			for k := range uint32(keys) {
				if got := ix.get(k); !slices.Equal(got, want[k]) {
					t.Fatalf("step %d: key %d has %v, want %v", step, k, got, want[k])
				}
			}
			seen := 0
			ix.each(func(k uint32, rows []keyed.RowRef) {
				seen++
				if !slices.Equal(rows, want[k]) {
					t.Fatalf("step %d: each gives key %d %v, want %v", step, k, rows, want[k])
				}
			})
			nonEmpty := 0
			for _, rows := range want {
				if len(rows) > 0 {
					nonEmpty++
				}
			}
			if seen != nonEmpty {
				t.Fatalf("step %d: each visits %d keys, want %d", step, seen, nonEmpty)
			}
			if ix.refs < 0 || ix.bytes() <= 0 {
				t.Fatalf("step %d: refs %d, bytes %d", step, ix.refs, ix.bytes())
			}
		}
	}
	if len(ix.many) > keys {
		t.Fatalf("%d slices of several rows for %d keys: freed ones are not reused", len(ix.many), keys)
	}
}
