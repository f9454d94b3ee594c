package arrowbridge

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// ImportStream takes ownership of the ArrowArrayStream at ptr (it is released, even on
// error) and returns a reader over it. The reader must be released; releasing it releases
// the stream. The batches it returns reference the producer's buffers without copying
// them; each is checked with ValidateRecord before it is returned, and a malformed one ends
// the stream with an error of kind Data.
func ImportStream(ptr unsafe.Pointer) (_ array.RecordReader, err error) {
	if ptr == nil {
		return nil, fmt.Errorf("null ArrowArrayStream pointer")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed ArrowArrayStream: %v", r)
		}
	}()
	r, err := cdata.ImportCRecordReader((*cdata.CArrowArrayStream)(ptr), nil)
	if err != nil {
		return nil, err
	}
	rr, ok := r.(array.RecordReader)
	if !ok {
		return nil, fmt.Errorf("imported stream is not a record reader")
	}
	return newValidatingReader(rr), nil
}

// ImportRecordBatch moves the ArrowArray and ArrowSchema at arr and schema (both are
// released, even on error) into a record batch checked with ValidateRecord.
func ImportRecordBatch(arr, schema unsafe.Pointer) (_ arrow.RecordBatch, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed Arrow record batch: %v", r)
		}
		if err != nil {
			cdata.ReleaseCArrowArray((*cdata.CArrowArray)(arr))
		}
	}()
	rec, err := cdata.ImportCRecordBatch((*cdata.CArrowArray)(arr), (*cdata.CArrowSchema)(schema))
	if err != nil {
		return nil, err
	}
	if err := ValidateRecord(rec); err != nil {
		rec.Release()
		return nil, err
	}
	if n := normalized(rec); n != nil {
		rec.Release()
		rec = n
	}
	return rec, nil
}

// ImportSchema takes ownership of the ArrowSchema at ptr (it is released, even on error)
// and returns the schema of a record batch.
func ImportSchema(ptr unsafe.Pointer) (*arrow.Schema, error) {
	if ptr == nil {
		return nil, fmt.Errorf("null ArrowSchema pointer")
	}
	s, err := cdata.ImportCArrowSchema((*cdata.CArrowSchema)(ptr))
	if err != nil {
		return nil, err
	}
	return widenSchema(s), nil
}

// ReleaseStream releases the ArrowArrayStream at ptr unless it was already released or
// moved (a no-op then, and for a null pointer).
func ReleaseStream(ptr unsafe.Pointer) {
	if ptr != nil {
		cdata.ReleaseCArrowArrayStream((*cdata.CArrowArrayStream)(ptr))
	}
}

// ReleaseSchema releases the ArrowSchema at ptr unless it was already released or moved.
func ReleaseSchema(ptr unsafe.Pointer) {
	if ptr != nil {
		cdata.ReleaseCArrowSchema((*cdata.CArrowSchema)(ptr))
	}
}
