// Package over owns window functions over partitions, as Polars' expr.over(partition_by,
// order_by=...): compiling them (over.go) and the operator that sees the whole bounded
// input, computes each function per partition in the partition's order and appends the
// results to the input rows, in input order (op.go). Functions: rank, row_number,
// cum_count, shift, cum_sum, cum_min, cum_max, rolling_sum / mean / min / max over a number
// of rows, and any aggregation broadcast to its partition's rows.
//
// Aggregations over frames (over(..., rows= | range=), SQL's OVER (... ROWS|RANGE BETWEEN
// ... PRECEDING AND CURRENT ROW) and Flink's streaming OVER aggregation) have their own
// operator, FrameOp (frame.go): keyed by the partition, on every subtask, with rows
// released by the watermark when ordered by the event time, and checkpointed state by key
// group (frame_state.go), beyond memory in a keyed store (frame_spill.go). Mixed with
// other window functions they are computed by the bounded operator with the same code
// (computeFrames).
package over
