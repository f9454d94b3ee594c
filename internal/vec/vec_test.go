package vec

import (
	"math/rand"
	"testing"
)

func TestMaxUint32(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for n := range 40 {
		xs := make([]uint32, n)
		want := uint32(0)
		for i := range xs {
			xs[i] = r.Uint32() >> uint(r.Intn(32))
			want = max(want, xs[i])
		}
		if got := MaxUint32(xs); got != want {
			t.Fatalf("n=%d: %d, want %d", n, got, want)
		}
	}
	if got := MaxUint32(AsUint32([]int32{3, -1, 7})); got != 1<<32-1 {
		t.Fatalf("a negative int32 as uint32: %d", got)
	}
}

func TestMinMaxInt64(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for n := 1; n < 40; n++ {
		xs := make([]int64, n)
		for i := range xs {
			xs[i] = r.Int63() >> uint(r.Intn(63))
			if r.Intn(2) == 0 {
				xs[i] = -xs[i]
			}
		}
		lo, hi := xs[0], xs[0]
		for _, x := range xs {
			if x < lo {
				lo = x
			}
			if x > hi {
				hi = x
			}
		}
		if gl, gh := MinMaxInt64(xs); gl != lo || gh != hi {
			t.Fatalf("n=%d: (%d, %d), want (%d, %d)", n, gl, gh, lo, hi)
		}
	}
}

func TestAppendDoubles(t *testing.T) {
	var s []int64
	grows := 0
	for i := range 1 << 20 {
		c := cap(s)
		s = Append(s, int64(i))
		if cap(s) != c {
			grows++
			if c > 0 && cap(s) < 2*c {
				t.Fatalf("capacity %d grew to %d, want at least %d", c, cap(s), 2*c)
			}
		}
	}
	for i, v := range s {
		if v != int64(i) {
			t.Fatalf("s[%d] = %d", i, v)
		}
	}
	if grows > 17 {
		t.Fatalf("%d reallocations for 2^20 appends", grows)
	}
	s = AppendAll(s[:3], 7, 8, 9)
	if len(s) != 6 || s[3] != 7 || s[5] != 9 || s[2] != 2 {
		t.Fatalf("AppendAll: %v", s[:6])
	}
	r := Reserve([]int32{1, 2}, 100)
	if len(r) != 2 || cap(r) < 102 || r[1] != 2 {
		t.Fatalf("Reserve: len %d cap %d %v", len(r), cap(r), r)
	}
}
