// Package agg owns aggregation: compiling aggregate expressions (count, sum, mean, min,
// max, first, last, n_unique, ...) into accumulators updated a batch at a time per group
// (agg.go), the hash aggregation table that combines a key grouper with those
// accumulators (hashagg.go), and the group_by operator over a bounded input (aggop.go).
// Window and session aggregation reuse the table and accumulators. state.go saves and
// restores groups and accumulator states at checkpoints.
package agg
