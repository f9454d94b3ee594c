// Package udf owns map_batches: calling a host (Python) function on each batch through
// the caller the C ABI installs (SetUDFCaller), and checking its result schema.
package udf
