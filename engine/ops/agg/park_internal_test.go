package agg

import (
	"bytes"
	"math/rand"
	"testing"
)

// keyOrder sorts parked rows by their keys as bytes.Compare does: keys shorter and longer
// than its 16-byte integers, keys equal in those bytes but for trailing zeros, repeats.
func TestParkedKeyOrderAgainstBytesCompare(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var p parked
	var keys [][]byte
	for range 5000 {
		var k []byte
		switch r.Intn(4) {
		case 0: // an earlier key again
			if len(keys) > 0 {
				k = keys[r.Intn(len(keys))]
				break
			}
			fallthrough
		case 1: // an earlier key with zeros added, or cut short
			if len(keys) > 0 {
				k = append([]byte(nil), keys[r.Intn(len(keys))]...)
				if r.Intn(2) == 0 || len(k) == 0 {
					k = append(k, make([]byte, 1+r.Intn(3))...)
				} else {
					k = k[:r.Intn(len(k))]
				}
				break
			}
			fallthrough
		default:
			k = make([]byte, r.Intn(24))
			for i := range k {
				k[i] = byte(r.Intn(3)) // few byte values: long common prefixes
			}
		}
		keys = append(keys, k)
		p.keys = append(p.keys, k...)
		p.ends = append(p.ends, int32(len(p.keys)))
	}
	got := p.keyOrder(nil)
	if len(got) != len(keys) {
		t.Fatalf("%d rows ordered, want %d", len(got), len(keys))
	}
	seen := make([]bool, len(keys))
	for i, ref := range got {
		if seen[ref.row] {
			t.Fatalf("row %d ordered twice", ref.row)
		}
		seen[ref.row] = true
		if !bytes.Equal(p.key(int(ref.row)), keys[ref.row]) {
			t.Fatalf("row %d: key %x, want %x", ref.row, p.key(int(ref.row)), keys[ref.row])
		}
		if i > 0 && bytes.Compare(keys[got[i-1].row], keys[ref.row]) > 0 {
			t.Fatalf("place %d: %x before %x", i, keys[got[i-1].row], keys[ref.row])
		}
	}
}
