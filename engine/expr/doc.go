// Package expr owns expressions and their kernels: compiling a plan expression against an
// input schema into a type-checked, vectorized evaluator over Arrow arrays (expr.go,
// call.go), the type system and casts (types.go, cast.go), the arithmetic, comparison,
// string, temporal and decimal kernels (kernels.go, numeric.go, temporal.go, decimal.go),
// using arrow-go's compute kernels where they exist, row hashing for keys and exchanges
// (hash.go), and event-time columns: their units and conversion to microseconds
// (timecol.go).
package expr
