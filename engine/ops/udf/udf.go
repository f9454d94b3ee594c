package udf

import (
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// UDFCaller runs the host's user function udf on a batch and returns its result (which
// the caller releases). The host (the C ABI) installs it with SetUDFCaller; errors from
// the function must have kind rberr.UserFunction.
type UDFCaller func(udf int64, in arrow.RecordBatch) (arrow.RecordBatch, error)

var udfCaller atomic.Pointer[UDFCaller]

// SetUDFCaller installs the function that calls user functions.
func SetUDFCaller(f UDFCaller) { udfCaller.Store(&f) }

// MapBatchesOp applies a user function to each batch: the Python map_batches path
// (Flink's vectorized "pandas UDF" path). Results must have the declared schema.
type MapBatchesOp struct {
	runtime.BaseOp
	Name   string
	Udf    int64
	Schema *arrow.Schema
}

func (o *MapBatchesOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	defer m.Rec.Release()
	call := udfCaller.Load()
	if call == nil {
		return rberr.New(rberr.Plan, "%s: no host to run user functions in", o.Name)
	}
	res, err := (*call)(o.Udf, m.Rec)
	if err != nil {
		return err
	}
	if !expr.SameColumns(res.Schema(), o.Schema) {
		got := expr.DescribeSchema(res.Schema())
		res.Release()
		return rberr.New(rberr.UserFunction, "%s: the function returned columns %s, but its schema declares %s", o.Name, got, expr.DescribeSchema(o.Schema))
	}
	if res.NumRows() == 0 {
		res.Release()
		return nil
	}
	// Rows may be added or removed, so no split watermark or order survives beyond the batch.
	return out.Emit(m.With(res))
}

// Call runs the host's user function udf on in (which the caller still owns) and returns
// its result (which the caller releases). Operators of other packages that cross into
// the host (keyed process functions) call user functions through it.
func Call(name string, udf int64, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	call := udfCaller.Load()
	if call == nil {
		return nil, rberr.New(rberr.Plan, "%s: no host to run user functions in", name)
	}
	return (*call)(udf, in)
}
