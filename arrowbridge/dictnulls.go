package arrowbridge

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A dictionary column may hold nulls in its dictionary (pyarrow's dictionary_encode with
// null_encoding="encode"): a row whose index points at one is null. The engine reads a
// dictionary's values without their validity (as a Parquet dictionary, which cannot hold
// a null), so such columns are rebuilt as they are imported, with those rows null in the
// indexes' validity: writers wrote them as empty strings.

// liftDictNulls returns rec with its dictionary columns whose dictionaries hold nulls
// rebuilt so, or nil when it has none (rec is then used as it is).
func liftDictNulls(rec arrow.RecordBatch) arrow.RecordBatch {
	return mapColumns(rec, func(c arrow.Array) arrow.Array {
		if d, ok := c.(*array.Dictionary); ok && d.Dictionary().NullN() > 0 {
			return dictNullsAsRows(d)
		}
		return nil
	})
}

// dictNullsAsRows is d with a row null where its index is null or points at a null value.
func dictNullsAsRows(d *array.Dictionary) arrow.Array {
	data := d.Data()
	off, n := data.Offset(), d.Len()
	dict := d.Dictionary()
	valid := memory.NewResizableBuffer(memory.DefaultAllocator)
	defer valid.Release()
	valid.Resize(int(bitutil.BytesForBits(int64(off + n))))
	bits := valid.Bytes()
	clear(bits)
	nulls := 0
	for i := 0; i < n; i++ {
		if d.IsValid(i) && dict.IsValid(d.GetValueIndex(i)) {
			bitutil.SetBit(bits, off+i)
		} else {
			nulls++
		}
	}
	bufs := append([]*memory.Buffer{valid}, data.Buffers()[1:]...)
	nd := array.NewData(data.DataType(), n, bufs, nil, nulls, off)
	defer nd.Release()
	nd.SetDictionary(data.Dictionary())
	return array.MakeFromData(nd)
}
