// Package join owns the streaming joins of two inputs by key: the window join (rows of
// the same window), the interval join (right time within [lower, upper] of the left
// time) and the as-of join (the latest right row at or before each left row). Both
// sides are hash-partitioned by the join keys; rows are kept in a row store until the
// watermark says no partner can still arrive, and checkpointed with it (state.go).
package join
