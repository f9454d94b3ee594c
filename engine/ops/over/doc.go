// Package over owns window functions over partitions of a bounded input, as Polars'
// expr.over(partition_by, order_by=...): compiling them (over.go) and the operator that
// sees the whole input, computes each function per partition in the partition's order
// and appends the results to the input rows, in input order (op.go). Functions: rank,
// row_number, cum_count, shift, cum_sum, cum_min, cum_max, rolling_sum / mean / min /
// max over a number of rows, and any aggregation broadcast to its partition's rows.
package over
