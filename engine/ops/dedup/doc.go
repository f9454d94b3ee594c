// Package dedup owns the operators that keep some rows per key: deduplication (the first
// row per key within an event-time span, dedup.go) and top-N (the best n rows per key and
// window by an ordering expression, with or without ties, topn.go), and their
// checkpointed state (state.go).
package dedup
