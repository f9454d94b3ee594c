// Package dedup owns the operators that keep some rows per key: deduplication (the first
// row per key within an event-time span, dedup.go), top-N (the best n rows per key and
// window by an ordering expression, with or without ties, topn.go), the streaming top-N
// over an unbounded input (the best n rows per key so far, as an updating result; with
// n = 1, deduplication keeping the last row; rank.go), and their checkpointed state
// (state.go).
package dedup
