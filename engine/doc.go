// Package engine is riverbed's public entry: Start runs a plan, Explain describes it,
// OutputSchema validates it; Job (from package runtime) is a running plan. The C ABI in
// capi/ uses only this package.
//
// Between the plan document and the runtime, this package binds and plans. Each logical
// operator is one type in op_<name>.go, registered under its "op" name (registry.go): its
// plan arguments (decoded from the node), its bound form, its binding, required columns,
// physical form and explain text. A plan arrives
// as one versioned JSON document (package plan). Bind (bind.go) validates it completely
// against its input schemas — columns exist, types fit, keys are hashable — and pushes
// column projections into the scans (require); every error names the operator and column.
// The bound plan becomes a physical graph of stages (physical.go): chains of operators
// from the ops packages that run as parallel subtasks, connected by the runtime's
// exchanges. explain.go renders the bound plan in the user's terms; mode.go resolves the
// runtime mode (batch or streaming) from the sources' boundedness.
//
// The sub-packages, lowest first: plan (the document), expr (expressions and kernels),
// runtime (tasks, channels, exchanges, watermarks, jobs, metrics), source (Parquet, Arrow
// streams, generators), and ops/... (operators by family). See docs/architecture.md.
package engine
