package main

/*
#include <stdint.h>
#include <stdlib.h>

typedef int32_t (*rb_udf_fn)(int64_t udf, void* in_array, void* in_schema, void* out_array, void* out_schema, char** err_out);

static int32_t rb_call_udf(rb_udf_fn f, int64_t udf, void* ia, void* is, void* oa, void* os, char** err) {
	return f(udf, ia, is, oa, os, err);
}
*/
import "C"

import (
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/cdata"
	"github.com/riverbed-engine/riverbed/arrowbridge"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The host registers one dispatcher for all user functions; plans name functions by id.
var udfDispatcher atomic.Pointer[C.rb_udf_fn]

const sizeofArray = 80  // struct ArrowArray
const sizeofSchema = 72 // struct ArrowSchema

//export rb_set_udf_dispatcher
func rb_set_udf_dispatcher(fn C.rb_udf_fn, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		if fn == nil {
			return rberr.New(rberr.InvalidArgument, "null dispatcher")
		}
		udfDispatcher.Store(&fn)
		engine.SetUDFCaller(callUDF)
		return nil
	})
}

// callUDF exports a batch to the host's dispatcher and imports what it returns. The host
// takes ownership of the exported input structs (it moves them) and fills the output
// structs, whose contents we move into Go.
func callUDF(udf int64, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	fn := udfDispatcher.Load()
	if fn == nil {
		return nil, rberr.New(rberr.Plan, "no user-function dispatcher is registered")
	}
	ia := C.calloc(1, sizeofArray)
	is := C.calloc(1, sizeofSchema)
	oa := C.calloc(1, sizeofArray)
	os := C.calloc(1, sizeofSchema)
	defer func() {
		// Release whatever was not moved (no-ops on released structs), then the structs.
		cdata.ReleaseCArrowArray((*cdata.CArrowArray)(ia))
		cdata.ReleaseCArrowSchema((*cdata.CArrowSchema)(is))
		cdata.ReleaseCArrowArray((*cdata.CArrowArray)(oa))
		cdata.ReleaseCArrowSchema((*cdata.CArrowSchema)(os))
		C.free(ia)
		C.free(is)
		C.free(oa)
		C.free(os)
	}()
	arrowbridge.ExportRecordBatch(in, ia, is) // (struct columns with an offset rebuilt)
	var msg *C.char
	status := C.rb_call_udf(*fn, C.int64_t(udf), ia, is, oa, os, &msg)
	if status != 0 {
		text := "the user function failed"
		if msg != nil {
			text = C.GoString(msg)
			C.free(unsafe.Pointer(msg))
		}
		return nil, rberr.New(rberr.UserFunction, "%s", text)
	}
	out, err := arrowbridge.ImportRecordBatch(oa, os)
	if err != nil {
		return nil, rberr.Wrap(rberr.UserFunction, err, "the user function returned data that cannot be imported")
	}
	return out, nil
}
