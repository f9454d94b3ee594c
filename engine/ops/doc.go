// Package ops groups the physical operators by family, one sub-package each: basic
// (filter, select/with_columns, limit), agg (accumulators, hash aggregation, group_by),
// window (tumbling, sliding, cumulate and session window aggregation), join (window,
// interval and as-of joins), dedup (deduplication and top-N), udf (map_batches), sink
// (write_parquet) and keyed (the key hash table and row store they share). Operators
// implement runtime.Operator; the engine's planner builds them from the bound plan.
package ops
