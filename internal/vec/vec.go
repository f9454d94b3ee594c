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

// AsUint32 views int32s as uint32s (a negative value becomes one above MaxInt32).
func AsUint32(xs []int32) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(xs))), len(xs))
}
