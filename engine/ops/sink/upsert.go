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
// value). A -U row is not written: the +U that follows replaces the value. But when a
// filter passed the changes on (a filter after the aggregation, or SQL's HAVING:
// loneRetracts), it may have dropped the +U (the group's new row did not pass) and left
// the -U alone: the key left the result. Then a -U is a tombstone unless a +I or +U of
// its key follows in the same batch (Flink writes every -U as a tombstone there). A
// compacted topic holds the result table, one record per key.

// UpsertRecords encodes the changes of batch rec (whose column opCol holds the op) with enc,
// built for the batch's columns without the op column (valueSchema); rows are the rows of
// rec the records were made of.
func UpsertRecords(ec *expr.EvalCtx, enc *kafka.Encoder, valueSchema *arrow.Schema, rec arrow.RecordBatch, opCol int, loneRetracts bool) (_ []*kgo.Record, rows []int32, _ error) {
	ops, ok := rec.Column(opCol).(*array.String)
	if !ok {
		return nil, nil, rberr.New(rberr.Internal, "write_kafka: the op column is %s", rec.Column(opCol).DataType())
	}
	var tomb, retract []bool
	for i := 0; i < ops.Len(); i++ {
		switch ops.Value(i) {
		case "+I", "+U":
			tomb, retract = append(tomb, false), append(retract, false)
		case "-D":
			tomb, retract = append(tomb, true), append(retract, false)
		case "-U":
			if !loneRetracts {
				continue
			}
			tomb, retract = append(tomb, true), append(retract, true)
		default:
			return nil, nil, rberr.New(rberr.Data, "write_kafka: unknown change %q", ops.Value(i))
		}
		rows = append(rows, int32(i))
	}
	if len(rows) == 0 {
		return nil, nil, nil
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
		return nil, nil, err
	}
	defer kept.Release()
	recs, err := enc.Encode(kept)
	if err != nil {
		return nil, nil, err
	}
	if len(recs) != len(rows) {
		return nil, nil, rberr.New(rberr.Internal, "write_kafka: %d records for %d upserts", len(recs), len(rows))
	}
	// The last +I/+U of each key: a -U before it is replaced by it, not a tombstone.
	var last map[string]int
	if loneRetracts {
		last = map[string]int{}
		for i, r := range recs {
			if !tomb[i] {
				last[string(r.Key)] = i
			}
		}
	}
	out, outRows := recs[:0], rows[:0]
	for i, r := range recs {
		if retract[i] {
			if j, ok := last[string(r.Key)]; ok && j > i {
				continue
			}
		}
		if tomb[i] {
			r.Value = nil
		}
		out, outRows = append(out, r), append(outRows, rows[i])
	}
	return out, outRows, nil
}
