//go:build riverbed_testhooks

package main

/*
#include <stdint.h>
*/
import "C"

import "github.com/riverbed-engine/riverbed/internal/rberr"

// Test hooks, compiled only into the library the test suite builds (go build -tags
// riverbed_testhooks; see the Makefile), never into the one users install.

// rb_debug_panic: where = 0 panics inside this API call (the library then refuses further
// calls), 1 returns an ordinary error, 2 panics inside a call that only validates (as
// rb_plan_schema and rb_plan_explain: the call fails with RB_INTERNAL, the library stays
// usable). A panic inside a job is tested through the plan function "debug_panic".
//
//export rb_debug_panic
func rb_debug_panic(where C.int32_t, errOut **C.char) C.int32_t {
	if where == 2 {
		return callPure(errOut, func() error { panic("debug panic requested by rb_debug_panic in a validation call") })
	}
	return call(errOut, func() error {
		if where == 0 {
			panic("debug panic requested by rb_debug_panic")
		}
		return rberr.New(rberr.Plan, "debug error requested by rb_debug_panic")
	})
}
