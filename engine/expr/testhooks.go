//go:build riverbed_testhooks

package expr

import "github.com/apache/arrow-go/v18/arrow/compute"

// In the test build (go build -tags riverbed_testhooks), the plan function "debug_panic"
// panics when evaluated: it proves that a panic inside a running job becomes an error.
func init() {
	testFunctions["debug_panic"] = func(*EvalCtx, []compute.Datum) (compute.Datum, error) {
		panic("debug_panic evaluated")
	}
}
