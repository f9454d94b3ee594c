package vec

import "slices"

// Growing a slice one element at a time. Go's append grows a large slice by about a
// quarter, so a table filled row by row (a grouper's keys, a join's rows) is copied
// several times over as it fills; these double its capacity instead, as a hash table
// grows, so each element is copied about once.

// Append appends v to s, doubling s's capacity when it is full.
func Append[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = regrow(s, 1)
	}
	return append(s, v)
}

// AppendAll appends vs to s, at least doubling s's capacity when they do not fit.
func AppendAll[T any](s []T, vs ...T) []T {
	if cap(s)-len(s) < len(vs) {
		s = regrow(s, len(vs))
	}
	return append(s, vs...)
}

// Reserve returns s with room for n more elements without another allocation, at least
// doubling its capacity when it grows.
func Reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) < n {
		s = regrow(s, n)
	}
	return s
}

// regrow copies s into a new slice of the same length with room for n more elements and
// at least twice its capacity (slices.Grow asked for more than twice the capacity
// allocates exactly that, zeroing only past the copied elements).
func regrow[T any](s []T, n int) []T {
	c := max(2*cap(s), len(s)+n, 16)
	return slices.Grow(s, c-len(s))
}
