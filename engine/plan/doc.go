// Package plan owns the logical plan document as it crosses the C ABI: the versioned JSON
// of operators (Node), expressions (Expr), window and generator definitions, the plan
// options and runtime modes, and the helpers its validation shares (durations such as
// "5s", "did you mean" suggestions). It checks the envelope only; operators are bound and
// validated against their input schemas by the engine.
package plan
