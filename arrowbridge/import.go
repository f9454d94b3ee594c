package arrowbridge

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// ImportStream takes ownership of the ArrowArrayStream at ptr and returns a reader over
// it. The reader must be released; releasing it releases the stream. The batches it
// returns reference the producer's buffers without copying them.
func ImportStream(ptr unsafe.Pointer) (array.RecordReader, error) {
	if ptr == nil {
		return nil, fmt.Errorf("null ArrowArrayStream pointer")
	}
	r, err := cdata.ImportCRecordReader((*cdata.CArrowArrayStream)(ptr), nil)
	if err != nil {
		return nil, err
	}
	rr, ok := r.(array.RecordReader)
	if !ok {
		return nil, fmt.Errorf("imported stream is not a record reader")
	}
	return rr, nil
}

// ImportSchema takes ownership of the ArrowSchema at ptr (it is released, even on error)
// and returns the schema of a record batch.
func ImportSchema(ptr unsafe.Pointer) (*arrow.Schema, error) {
	if ptr == nil {
		return nil, fmt.Errorf("null ArrowSchema pointer")
	}
	return cdata.ImportCArrowSchema((*cdata.CArrowSchema)(ptr))
}
