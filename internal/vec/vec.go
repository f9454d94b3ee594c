package vec

import "unsafe"

// MaxUint32 is the largest of xs (0 for none): four running maxima, without a branch per
// element.
func MaxUint32(xs []uint32) uint32 {
	var m0, m1, m2, m3 uint32
	n := len(xs) / 4 * 4
	for j := 0; j < n; j += 4 {
		q := xs[j : j+4 : j+4]
		m0, m1, m2, m3 = max(m0, q[0]), max(m1, q[1]), max(m2, q[2]), max(m3, q[3])
	}
	for _, x := range xs[n:] {
		m0 = max(m0, x)
	}
	return max(m0, m1, m2, m3)
}

// MinMaxInt64 is the least and the largest of xs, which must not be empty: four running
// minima and maxima, without a branch per element.
func MinMaxInt64(xs []int64) (lo, hi int64) {
	l0, l1, l2, l3 := xs[0], xs[0], xs[0], xs[0]
	h0, h1, h2, h3 := l0, l0, l0, l0
	n := len(xs) / 4 * 4
	for j := 0; j < n; j += 4 {
		q := xs[j : j+4 : j+4]
		l0, l1, l2, l3 = min(l0, q[0]), min(l1, q[1]), min(l2, q[2]), min(l3, q[3])
		h0, h1, h2, h3 = max(h0, q[0]), max(h1, q[1]), max(h2, q[2]), max(h3, q[3])
	}
	for _, x := range xs[n:] {
		l0, h0 = min(l0, x), max(h0, x)
	}
	return min(l0, l1, l2, l3), max(h0, h1, h2, h3)
}

// AsUint32 views int32s as uint32s (a negative value becomes one above MaxInt32).
func AsUint32(xs []int32) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(xs))), len(xs))
}
