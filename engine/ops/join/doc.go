// Package join owns the streaming joins of two inputs by key: the window join (rows of
// the same window), the interval join (right time within [lower, upper] of the left
// time) and the as-of join (the latest right row at or before each left row). Both
// sides are hash-partitioned by the join keys; rows are kept in a row store until the
// watermark says no partner can still arrive, and checkpointed with it (state.go).
// It also owns the regular joins (hashjoin.go): bounded, or over unbounded inputs as rows
// arrive, taking back retracted rows of updating inputs (updating.go), with a state TTL
// (ttl.go).
package join
