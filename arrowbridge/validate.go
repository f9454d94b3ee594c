package arrowbridge

import (
	"fmt"
	"sync/atomic"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The Arrow C Data Interface carries no buffer sizes: an importer derives them from the
// declared type, the length and the offsets. arrow-go's importer checks the struct headers
// (lengths, offsets, buffer and child counts); ValidateRecord checks what the values must
// satisfy before any kernel reads them: offsets that are non-negative, non-decreasing and
// inside the referenced buffer or child, children long enough for their parent, dictionary
// indexes inside the dictionary, run ends and union type codes in range. Data that breaks
// these rules would otherwise make kernels read out of bounds.
//
// What no consumer can check is that the producer's buffers really are as long as the
// declared type says (an int8 buffer exported under an int64 schema): the Python binding
// checks every batch of a live stream against its schema with pyarrow before export.

// ValidateRecord checks every column of rec (see above). The error, of kind Data, names
// the column and what is wrong with it.
func ValidateRecord(rec arrow.RecordBatch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = rberr.New(rberr.Data, "malformed Arrow data: %v", r)
		}
	}()
	n := rec.NumRows()
	for i, c := range rec.Columns() {
		name := rec.Schema().Field(i).Name
		if int64(c.Len()) != n {
			return rberr.New(rberr.Data, "column %q has %d rows, but its batch has %d", name, c.Len(), n)
		}
		if !arrow.TypeEqual(c.DataType(), rec.Schema().Field(i).Type) {
			return rberr.New(rberr.Data, "column %q holds %s data, but the schema declares %s", name, c.DataType(), rec.Schema().Field(i).Type)
		}
		if err := validateData(c.Data()); err != nil {
			return rberr.Wrap(rberr.Data, err, "column %q (%s) is malformed", name, c.DataType())
		}
	}
	return nil
}

func validateData(d arrow.ArrayData) error {
	length, offset := int64(d.Len()), int64(d.Offset())
	if length < 0 || offset < 0 {
		return fmt.Errorf("negative length %d or offset %d", length, offset)
	}
	end := offset + length
	bufs := d.Buffers()
	if nulls := d.NullN(); nulls > 0 && d.DataType().ID() != arrow.NULL && d.DataType().ID() != arrow.SPARSE_UNION &&
		d.DataType().ID() != arrow.DENSE_UNION && d.DataType().ID() != arrow.RUN_END_ENCODED {
		if len(bufs) == 0 || bufs[0] == nil || int64(bufs[0].Len()) < bitutil.BytesForBits(end) {
			return fmt.Errorf("%d nulls but no validity bitmap of %d bits", nulls, end)
		}
	}
	buf := func(i int) []byte {
		if i < len(bufs) && bufs[i] != nil {
			return bufs[i].Bytes()
		}
		return nil
	}
	switch dt := d.DataType().(type) {
	case *arrow.StringType, *arrow.BinaryType:
		if length == 0 {
			return nil
		}
		if err := checkOffsets[int32](buf(1), offset, end, int64(len(buf(2))), "data buffer"); err != nil {
			return err
		}
		if dt.ID() == arrow.STRING {
			return checkUTF8(arrow.Int32Traits.CastFromBytes(buf(1)), buf(2), offset, end)
		}
		return nil
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		if length == 0 {
			return nil
		}
		if err := checkOffsets[int64](buf(1), offset, end, int64(len(buf(2))), "data buffer"); err != nil {
			return err
		}
		if dt.ID() == arrow.LARGE_STRING {
			return checkUTF8(arrow.Int64Traits.CastFromBytes(buf(1)), buf(2), offset, end)
		}
		return nil
	case *arrow.ListType, *arrow.MapType:
		return checkList[int32](d, buf(1), offset, end)
	case *arrow.LargeListType:
		return checkList[int64](d, buf(1), offset, end)
	case *arrow.FixedSizeListType:
		child := d.Children()[0]
		if need := end * int64(dt.Len()); int64(child.Len()) < need {
			return fmt.Errorf("child array has %d values, %d needed", child.Len(), need)
		}
		return validateChild(child, "list values")
	case *arrow.StructType:
		for i, child := range d.Children() {
			if int64(child.Len()) < end {
				return fmt.Errorf("field %q has %d values, %d needed", dt.Field(i).Name, child.Len(), end)
			}
			if err := validateChild(child, fmt.Sprintf("field %q", dt.Field(i).Name)); err != nil {
				return err
			}
		}
		return nil
	case *arrow.DictionaryType:
		dict, ok := d.Dictionary().(*array.Data)
		if !ok || dict == nil {
			return fmt.Errorf("dictionary array without a dictionary")
		}
		if err := validateChild(dict, "dictionary"); err != nil {
			return err
		}
		return checkIndexes(d, int64(dict.Len()))
	case *arrow.RunEndEncodedType, *arrow.SparseUnionType, *arrow.DenseUnionType,
		*arrow.ListViewType, *arrow.LargeListViewType, *arrow.StringViewType, *arrow.BinaryViewType:
		a := array.MakeFromData(d)
		defer a.Release()
		if v, ok := a.(interface{ ValidateFull() error }); ok {
			if err := v.ValidateFull(); err != nil {
				return err
			}
		}
		for i, child := range d.Children() {
			if err := validateChild(child, fmt.Sprintf("child %d", i)); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

// checkUTF8 checks that the values of rows [from, to) (offsets checked) are UTF-8, as
// Arrow's string types require: the engine's string kernels would otherwise read them as
// replacement characters, and its output would not be valid Arrow. It names the first
// row that is not.
func checkUTF8[T int32 | int64](offs []T, data []byte, from, to int64) error {
	if utf8.Valid(data[offs[from]:offs[to]]) {
		return nil
	}
	for r := from; r < to; r++ {
		if v := data[offs[r]:offs[r+1]]; !utf8.Valid(v) {
			return fmt.Errorf("row %d is not valid UTF-8 (%q); read such data as binary", r-from, v)
		}
	}
	return nil
}

func validateChild(d arrow.ArrayData, what string) error {
	if err := validateData(d); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// checkList checks a list's offsets (T: int32, or int64 for a large list) in the buffer
// offsBuf against its values array, and then the values array itself.
func checkList[T int32 | int64](d arrow.ArrayData, offsBuf []byte, from, to int64) error {
	child := d.Children()[0]
	if to > from {
		if err := checkOffsets[T](offsBuf, from, to, int64(child.Len()), "child array"); err != nil {
			return err
		}
	}
	return validateChild(child, "list values")
}

// checkOffsets checks that the offsets (T: int32, or int64 for the large layouts) in
// offsBuf, from index from to index to, are non-negative and non-decreasing and end
// within limit (the length of the data buffer or child array, named by what).
func checkOffsets[T int32 | int64](offsBuf []byte, from, to, limit int64, what string) error {
	offs := arrow.GetData[T](offsBuf)
	if int64(len(offs)) < to+1 {
		return fmt.Errorf("offsets buffer has %d entries, %d needed", len(offs), to+1)
	}
	prev := offs[from]
	if prev < 0 {
		return fmt.Errorf("negative offset %d at %d", prev, from)
	}
	for i := from + 1; i <= to; i++ {
		o := offs[i]
		if o < prev {
			return fmt.Errorf("offsets decrease at %d (%d after %d)", i, o, prev)
		}
		prev = o
	}
	if int64(prev) > limit {
		return fmt.Errorf("offset %d is past the end of the %s (%d)", prev, what, limit)
	}
	return nil
}

// checkIndexes checks that every valid index of a dictionary array is in [0, n).
func checkIndexes(d arrow.ArrayData, n int64) error {
	dt := d.DataType().(*arrow.DictionaryType)
	data := array.NewData(dt.IndexType, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
	idx := array.MakeFromData(data)
	data.Release()
	defer idx.Release()
	switch a := idx.(type) {
	case *array.Int8:
		return indexesIn(a, a.Int8Values(), n)
	case *array.Uint8:
		return indexesIn(a, a.Uint8Values(), n)
	case *array.Int16:
		return indexesIn(a, a.Int16Values(), n)
	case *array.Uint16:
		return indexesIn(a, a.Uint16Values(), n)
	case *array.Int32:
		return indexesIn(a, a.Int32Values(), n)
	case *array.Uint32:
		return indexesIn(a, a.Uint32Values(), n)
	case *array.Int64:
		return indexesIn(a, a.Int64Values(), n)
	case *array.Uint64:
		return indexesIn(a, a.Uint64Values(), n)
	}
	return fmt.Errorf("unsupported dictionary index type %s", dt.IndexType)
}

func indexesIn[T int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64](a arrow.Array, vs []T, n int64) error {
	for i, v := range vs {
		if (int64(v) < 0 || int64(v) >= n || uint64(v) >= uint64(n)) && a.IsValid(i) {
			return fmt.Errorf("dictionary index %d at row %d is outside the dictionary (%d values)", v, i, n)
		}
	}
	return nil
}

// validatingReader checks every batch of an imported stream with ValidateRecord and turns
// a panic of the importer into an error. The first bad batch ends the stream with an error
// of kind Data that names the batch and the column.
type validatingReader struct {
	refs   atomic.Int64
	r      array.RecordReader
	batch  int
	cur    arrow.RecordBatch
	owned  bool          // cur was made here (normalized), not borrowed from r
	schema *arrow.Schema // r's, as imported (widenSchema)
	err    error
}

func newValidatingReader(r array.RecordReader) *validatingReader {
	v := &validatingReader{r: r, schema: widenSchema(r.Schema())}
	v.refs.Store(1)
	return v
}

func (v *validatingReader) Retain() { v.refs.Add(1) }
func (v *validatingReader) Release() {
	if v.refs.Add(-1) == 0 {
		v.drop()
		v.r.Release()
	}
}
func (v *validatingReader) Schema() *arrow.Schema          { return v.schema }
func (v *validatingReader) RecordBatch() arrow.RecordBatch { return v.cur }
func (v *validatingReader) Record() arrow.RecordBatch      { return v.cur }
func (v *validatingReader) Err() error {
	if v.err != nil {
		return v.err
	}
	return v.r.Err()
}

func (v *validatingReader) Next() (ok bool) {
	v.drop()
	if v.err != nil {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			v.err = rberr.New(rberr.Data, "batch %d: malformed Arrow data: %v", v.batch, r)
			v.cur, ok = nil, false
		}
	}()
	if !v.r.Next() {
		return false
	}
	rec := v.r.RecordBatch()
	if !v.r.Schema().Equal(rec.Schema()) {
		v.err = rberr.New(rberr.Data, "batch %d: its schema differs from the stream's", v.batch)
		return false
	}
	if err := ValidateRecord(rec); err != nil {
		v.err = rberr.Wrap(rberr.Data, err, "batch %d", v.batch)
		return false
	}
	v.batch++
	v.cur = rec
	if n := normalized(rec); n != nil {
		v.cur, v.owned = n, true
	}
	return true
}

// drop lets go of the current batch (released when it was made here).
func (v *validatingReader) drop() {
	if v.owned {
		v.cur.Release()
	}
	v.cur, v.owned = nil, false
}
