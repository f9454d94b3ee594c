// Package sql compiles Flink-dialect SQL into riverbed's logical plan (package plan): the
// same plan document the Python API builds, validated by the same binder (package engine),
// so SQL and the Python API share one planner, one validation, the same errors and the
// same explain.
//
// The pipeline is lexer (lexer.go) → recursive-descent parser (parser.go) producing an AST
// whose every node carries its line and column (ast.go) → planner (planner.go, exprs.go,
// from.go, ddl.go, subquery.go; kafka.go for the options of the kafka and upsert-kafka
// connectors, over.go for OVER window functions, topn.go for ROW_NUMBER top-N and
// deduplication, timejoin.go for window, interval and temporal (FOR SYSTEM_TIME AS OF)
// joins), which resolves names against the schemas of the registered tables, turns each
// clause into plan operators (filter, join, aggregate, window_agg, topn, dedup, select with
// over(...), sort, limit, unique, scan_kafka, write_parquet, write_kafka) and asks the
// engine to bind every operator it adds, so that a type error or an unknown column is
// reported at the SQL line and column that caused it.
//
// Registered tables arrive as plan nodes (the Python streams' plans); the planner's result
// is a plan node tree over them (Compile). docs/sql.md lists what the dialect covers.
package sql
