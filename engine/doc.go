// Package engine owns riverbed's logical plan and its validation, the physical graph, the
// runtime and the operators.
//
// A plan arrives as one versioned JSON document (plan.go). Bind (bind.go) validates it
// completely against its input schemas — columns exist, types fit, keys are hashable — and
// pushes column projections into the scans; every error names the operator and column.
// The bound plan becomes a graph of stages (physical.go): chains of operators that run as
// parallel subtasks, connected by exchanges (exchange.go: forward, rebalance by split,
// hash by key group, gather). The runtime (runtime.go) is push-based: each subtask is a
// goroutine reading one bounded channel in which batches and control messages (split
// markers, watermarks, end of input) travel in order, so a slow operator backpressures its
// sources and a bounded input is simply one that ends with the final watermark.
//
// Expressions compile to vectorized evaluators over Arrow arrays (expr.go, call.go,
// kernels.go), using arrow-go's compute kernels where they exist. Hash aggregation uses
// its own open-addressing table (grouper.go) and per-group accumulators updated a batch at
// a time (agg.go).
package engine
