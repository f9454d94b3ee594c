package arrowbridge

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Decimal columns of 32 and 64 bits (pyarrow's decimal32 and decimal64) are widened to
// decimal128 of the same precision and scale as they are imported, as Polars and DuckDB
// read them: the engine computes on decimal128 (a decimal32 column was passed through but
// could be neither computed on nor cast). Only top-level columns: nested ones are passed
// through as they are.

// widenedType is t as imported: decimal128 for a decimal32 or decimal64, else t.
func widenedType(t arrow.DataType) (arrow.DataType, bool) {
	switch d := t.(type) {
	case *arrow.Decimal32Type:
		return &arrow.Decimal128Type{Precision: d.Precision, Scale: d.Scale}, true
	case *arrow.Decimal64Type:
		return &arrow.Decimal128Type{Precision: d.Precision, Scale: d.Scale}, true
	}
	return t, false
}

// widenSchema is s with its decimal32 and decimal64 fields as decimal128 (s itself when
// it has none).
func widenSchema(s *arrow.Schema) *arrow.Schema {
	fields := s.Fields()
	changed := false
	for i, f := range fields {
		if t, ok := widenedType(f.Type); ok {
			fields[i].Type, changed = t, true
		}
	}
	if !changed {
		return s
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// widenDecimals returns rec with its decimal32 and decimal64 columns as decimal128, or
// nil when it has none.
func widenDecimals(rec arrow.RecordBatch) arrow.RecordBatch {
	schema := widenSchema(rec.Schema())
	if schema == rec.Schema() {
		return nil
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		cols[i] = widenColumn(c)
	}
	out := array.NewRecordBatch(schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// widenColumn is c as decimal128 when it is a decimal32 or decimal64 column; else c,
// retained.
func widenColumn(c arrow.Array) arrow.Array {
	t, ok := widenedType(c.DataType())
	if !ok {
		c.Retain()
		return c
	}
	var value func(i int) int64
	switch d := c.(type) {
	case *array.Decimal32:
		value = func(i int) int64 { return int64(d.Value(i)) }
	case *array.Decimal64:
		value = func(i int) int64 { return int64(d.Value(i)) }
	}
	b := array.NewDecimal128Builder(memory.DefaultAllocator, t.(*arrow.Decimal128Type))
	defer b.Release()
	b.Reserve(c.Len())
	for i := range c.Len() {
		if c.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(decimal128.FromI64(value(i)))
		}
	}
	return b.NewArray()
}

// normalized returns rec as the engine takes it (dictionary nulls lifted, decimals
// widened), or nil when it is taken as it is.
func normalized(rec arrow.RecordBatch) arrow.RecordBatch {
	lifted := liftDictNulls(rec)
	cur := rec
	if lifted != nil {
		cur = lifted
	}
	if wide := widenDecimals(cur); wide != nil {
		if lifted != nil {
			lifted.Release()
		}
		return wide
	}
	return lifted
}
