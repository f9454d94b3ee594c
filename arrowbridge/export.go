package arrowbridge

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// ExportStream fills the zero-initialized ArrowArrayStream at ptr with a stream over r.
// The stream owns r from now on: the consumer's call of the stream's release callback
// releases r. Buffers are shared, not copied; they stay valid until the consumer releases
// each exported array.
func ExportStream(r array.RecordReader, ptr unsafe.Pointer) {
	e := newExportableReader(r) // struct columns with an offset rebuilt (structs.go)
	cdata.ExportRecordReader(e, (*cdata.CArrowArrayStream)(ptr))
	e.Release()
}

// ExportSchema fills the zero-initialized ArrowSchema at ptr; the consumer releases it.
func ExportSchema(s *arrow.Schema, ptr unsafe.Pointer) {
	cdata.ExportArrowSchema(s, (*cdata.CArrowSchema)(ptr))
}

// ExportRecordBatch fills the zero-initialized ArrowArray and ArrowSchema at arr and
// schema with rec (its buffers shared, not copied); the consumer releases both.
func ExportRecordBatch(rec arrow.RecordBatch, arr, schema unsafe.Pointer) {
	rec = exportableBatch(rec) // struct columns with an offset rebuilt (structs.go)
	defer rec.Release()
	cdata.ExportArrowRecordBatch(rec, (*cdata.CArrowArray)(arr), (*cdata.CArrowSchema)(schema))
}
