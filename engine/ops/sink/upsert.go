package sink

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Upsert writing of a changelog (write_kafka(upsert=True), as Flink's upsert-kafka): the
// record key is the changelog's key column; +I and +U rows are written as the key's new
// value (the row without its op column), -D rows as a tombstone (the key with a null
// value), and -U rows not at all (the +U that follows replaces the value). A compacted
// topic then holds the result table, one record per key.

// UpsertRecords encodes the changes of batch rec (whose column opCol holds the op) with enc,
// built for the batch's columns without the op column (valueSchema).
func UpsertRecords(ec *expr.EvalCtx, enc *kafka.Encoder, valueSchema *arrow.Schema, rec arrow.RecordBatch, opCol int) ([]*kgo.Record, error) {
	ops, ok := rec.Column(opCol).(*array.String)
	if !ok {
		return nil, rberr.New(rberr.Internal, "write_kafka: the op column is %s", rec.Column(opCol).DataType())
	}
	var rows []int32
	var tomb []bool
	for i := 0; i < ops.Len(); i++ {
		switch ops.Value(i) {
		case "+I", "+U":
			tomb = append(tomb, false)
		case "-D":
			tomb = append(tomb, true)
		case "-U":
			continue
		default:
			return nil, rberr.New(rberr.Data, "write_kafka: unknown change %q", ops.Value(i))
		}
		rows = append(rows, int32(i))
	}
	if len(rows) == 0 {
		return nil, nil
	}
	cols := make([]arrow.Array, 0, rec.NumCols()-1)
	for c, col := range rec.Columns() {
		if c != opCol {
			cols = append(cols, col)
		}
	}
	values := array.NewRecordBatch(valueSchema, cols, rec.NumRows())
	defer values.Release()
	kept, err := runtime.TakeRows(ec, values, rows)
	if err != nil {
		return nil, err
	}
	defer kept.Release()
	recs, err := enc.Encode(kept)
	if err != nil {
		return nil, err
	}
	if len(recs) != len(rows) {
		return nil, rberr.New(rberr.Internal, "write_kafka: %d records for %d upserts", len(recs), len(rows))
	}
	for i, r := range recs {
		if tomb[i] {
			r.Value = nil
		}
	}
	return recs, nil
}
