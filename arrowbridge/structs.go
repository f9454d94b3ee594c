package arrowbridge

import (
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Struct arrays with an offset (a slice of a struct column, as tail() or a sliced input
// makes) are exported by arrow-go's C export with their children already sliced
// (array.Struct.Field) and their own offset too, so a consumer applies the offset twice:
// wrong values, or children shorter than the struct (pyarrow then aborts). Before an
// export, such arrays (at any depth: struct children, list values, dictionary values) are
// rebuilt with offset 0 over their children's slices and a copy of their validity bits.

// exportableBatch returns rec with every column exportable, rec itself (retained) when
// none needed a change. The caller releases the result.
func exportableBatch(rec arrow.RecordBatch) arrow.RecordBatch {
	out := mapColumns(rec, func(c arrow.Array) arrow.Array {
		d, changed := exportableData(c.Data())
		if !changed {
			return nil
		}
		defer d.Release()
		return array.MakeFromData(d)
	})
	if out == nil {
		rec.Retain()
		return rec
	}
	return out
}

// mapColumns returns rec with each column c replaced by fn(c) where that is not nil (fn
// returns a new reference), or nil when fn replaced none.
func mapColumns(rec arrow.RecordBatch, fn func(arrow.Array) arrow.Array) arrow.RecordBatch {
	var cols []arrow.Array
	for i, c := range rec.Columns() {
		repl := fn(c)
		if repl == nil {
			continue
		}
		if cols == nil {
			cols = make([]arrow.Array, rec.NumCols())
			for j, o := range rec.Columns() {
				o.Retain()
				cols[j] = o
			}
		}
		cols[i].Release()
		cols[i] = repl
	}
	if cols == nil {
		return nil
	}
	out := array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// exportableData returns d rebuilt without struct offsets (a new ArrayData the caller
// releases) and true, or d and false when it has none.
func exportableData(d arrow.ArrayData) (arrow.ArrayData, bool) {
	kids := d.Children()
	if _, isStruct := d.DataType().(*arrow.StructType); isStruct && d.Offset() != 0 {
		off, n := int64(d.Offset()), int64(d.Len())
		newKids := make([]arrow.ArrayData, len(kids))
		for i, k := range kids {
			s := array.NewSliceData(k, off, off+n)
			if vb := k.Buffers(); k.DataType().ID() != arrow.NULL && (len(vb) == 0 || vb[0] == nil || vb[0].Len() == 0) {
				s.(*array.Data).SetNullN(0) // no validity bits to count later
			}
			if e, changed := exportableData(s); changed {
				s.Release()
				s = e
			}
			newKids[i] = s
		}
		// (ArrayData.NullN of a slice is unknown, -1: the bits are counted here.)
		bufs := []*memory.Buffer{nil}
		nulls := 0
		if vb := d.Buffers()[0]; vb != nil && vb.Len() > 0 {
			nulls = int(n) - bitutil.CountSetBits(vb.Bytes(), int(off), int(n))
		}
		if nulls > 0 {
			valid := memory.NewResizableBuffer(memory.DefaultAllocator)
			valid.Resize(int(bitutil.BytesForBits(n)))
			bitutil.CopyBitmap(d.Buffers()[0].Bytes(), int(off), int(n), valid.Bytes(), 0)
			bufs[0] = valid
		}
		out := array.NewData(d.DataType(), int(n), bufs, newKids, nulls, 0)
		for _, k := range newKids {
			k.Release()
		}
		if bufs[0] != nil {
			bufs[0].Release()
		}
		return out, true
	}
	// Other nested types export their children as they are: a struct among them (list
	// values, a map's entries, a dictionary's values) must have no offset either.
	var newKids []arrow.ArrayData
	for i, k := range kids {
		e, changed := exportableData(k)
		if !changed {
			continue
		}
		if newKids == nil {
			newKids = append([]arrow.ArrayData(nil), kids...)
		}
		newKids[i] = e
		defer e.Release()
	}
	var dict arrow.ArrayData // (Dictionary() of another type is a typed nil)
	if d.DataType().ID() == arrow.DICTIONARY {
		dict = d.Dictionary()
	}
	dictChanged := false
	if dict != nil {
		if e, changed := exportableData(dict); changed {
			defer e.Release()
			dict, dictChanged = e, true
		}
	}
	if newKids == nil && !dictChanged {
		return d, false
	}
	if newKids == nil {
		newKids = kids
	}
	nulls := d.NullN()
	if vb := d.Buffers(); nulls < 0 && (len(vb) == 0 || vb[0] == nil) {
		nulls = 0
	}
	out := array.NewData(d.DataType(), d.Len(), d.Buffers(), newKids, nulls, d.Offset())
	if dict != nil {
		out.SetDictionary(dict)
	}
	return out, true
}

// exportableReader is a RecordReader whose batches are exportableBatch's of r's.
type exportableReader struct {
	r    array.RecordReader
	refs atomic.Int64
	cur  arrow.RecordBatch
}

// newExportableReader returns a reader over r's batches made exportable; it holds a
// reference to r until its own last Release.
func newExportableReader(r array.RecordReader) *exportableReader {
	r.Retain()
	e := &exportableReader{r: r}
	e.refs.Store(1)
	return e
}

func (e *exportableReader) Retain() { e.refs.Add(1) }

func (e *exportableReader) Release() {
	if e.refs.Add(-1) == 0 {
		if e.cur != nil {
			e.cur.Release()
			e.cur = nil
		}
		e.r.Release()
	}
}

func (e *exportableReader) Schema() *arrow.Schema { return e.r.Schema() }

func (e *exportableReader) Next() bool {
	if e.cur != nil {
		e.cur.Release()
		e.cur = nil
	}
	if !e.r.Next() {
		return false
	}
	e.cur = exportableBatch(e.r.RecordBatch())
	return true
}

func (e *exportableReader) RecordBatch() arrow.RecordBatch { return e.cur }

// Record is RecordBatch (the interface's deprecated name).
func (e *exportableReader) Record() arrow.RecordBatch { return e.cur }

func (e *exportableReader) Err() error { return e.r.Err() }
