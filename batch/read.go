package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/uninit"
	"github.com/riverbed-engine/riverbed/internal/vec"
)

// DefaultBatchSize is the batch size ReadSplit uses when given batchSize <= 0.
const DefaultBatchSize = 64 << 10

// ReadSplit reads the projected columns of one split (indexes into d.Schema's
// fields; nil means all, an empty non-nil slice means none: records then carry
// only a row count) into records of at most batchSize rows allocated with mem,
// and calls emit for each. emit takes ownership of the record and must release
// it; an error from emit stops the read and is returned as is. ReadSplit returns
// ctx.Err() as soon as it sees ctx cancelled. The records' schema holds the
// projected fields of d.Schema.
//
// ReadSplit may be called concurrently, for the same or different splits.
func (d *Dataset) ReadSplit(ctx context.Context, s Split, columns []int, mem memory.Allocator, batchSize int, emit func(arrow.RecordBatch) error) error {
	r, err := d.OpenSplit(ctx, s, columns, mem, batchSize)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
}

// SplitReader reads one split batch by batch (see OpenSplit). It is not safe for
// concurrent use; Close it when done.
type SplitReader struct {
	ctx       context.Context
	f         *os.File
	readers   []*columnReader
	cols      []arrow.Array
	schema    *arrow.Schema
	mem       memory.Allocator
	batchSize int
	numRows   int64
	done      int64
	finished  bool

	filter   *RowFilter
	out      *arrow.Schema // of the batches returned under a filter
	rows     []int32       // the rows the filter keeps of the current batch
	selected []bool        // of the current batch's columns: decoded only at the rows kept
	nullKeep *bool         // whether KeepValues keeps a null
}

// A RowFilter has a SplitReader return only the rows of each batch that a predicate keeps
// (a filter fused into the scan): the columns the predicate reads are decoded first, in
// full; the others only at the rows kept where their values allow it (fixed-width
// values: no copy of the batch, and a dictionary lookup only for the rows kept), else in
// full and then gathered.
type RowFilter struct {
	// Reads are the columns (indexes among the reader's columns) the predicate reads.
	Reads []int
	// Keep appends to rows the rows to keep (ascending, from 0 at the batch's first row)
	// of a batch of n rows, given its Reads columns in that order.
	Keep func(cols []arrow.Array, n int, rows []int32) ([]int32, error)
	// KeepValues, when set, is the predicate over the values of its one column (Reads):
	// whether a row holding each value of vals (which may be null) is kept. The reader
	// then may evaluate it over a page's dictionary instead of over every row (once per
	// dictionary), or over a page's values. Set it only for a predicate whose answer for
	// a row depends on nothing but the value.
	KeepValues func(vals arrow.Array) ([]bool, error)
	// From is the first row of the split that may be kept (a restored read's position).
	From int64
	// Gather returns the given rows of each column (in order; the caller releases them).
	Gather func(cols []arrow.Array, rows []int32) ([]arrow.Array, error)
	// Out are the columns (indexes among the reader's columns) of the batches returned.
	Out []int
}

// SetFilter has Next return only the rows f keeps, of the columns f.Out: a batch for every
// batch read, perhaps empty (Consumed then says how far the split is read).
func (r *SplitReader) SetFilter(f *RowFilter) {
	fields := make([]arrow.Field, len(f.Out))
	for i, c := range f.Out {
		fields[i] = r.schema.Field(c)
	}
	r.filter, r.out = f, arrow.NewSchema(fields, nil)
}

// Consumed is the number of the split's rows read so far (those of the batches returned,
// before any filter).
func (r *SplitReader) Consumed() int64 { return r.done }

// OpenSplit opens one split for reading with the arguments of ReadSplit; Next then
// returns its records in order.
func (d *Dataset) OpenSplit(ctx context.Context, s Split, columns []int, mem memory.Allocator, batchSize int) (*SplitReader, error) {
	if s.FileIndex < 0 || s.FileIndex >= len(d.files) {
		return nil, rberr.New(rberr.InvalidArgument, "split names file %d of a dataset of %d files", s.FileIndex, len(d.files))
	}
	m := d.files[s.FileIndex]
	rgs := m.pf.Metadata().RowGroups
	if s.RowGroup < 0 || s.RowGroup >= len(rgs) {
		return nil, rberr.New(rberr.InvalidArgument, "split names row group %d of %q, which has %d", s.RowGroup, m.path, len(rgs))
	}
	if columns == nil {
		columns = make([]int, len(d.Schema.Fields()))
		for i := range columns {
			columns[i] = i
		}
	}
	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		if c < 0 || c >= len(d.Schema.Fields()) {
			return nil, rberr.New(rberr.InvalidArgument, "column index %d out of range for a schema of %d fields", c, len(d.Schema.Fields()))
		}
		fields[i] = d.Schema.Field(c)
	}
	schema := arrow.NewSchema(fields, nil)
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	f, err := os.Open(m.path)
	if err != nil {
		return nil, openError(m.path, err)
	}
	r := &SplitReader{ctx: ctx, f: f, schema: schema, mem: mem, batchSize: batchSize}
	if st, err := f.Stat(); err == nil && st.Size() != m.size {
		r.Close()
		return nil, rberr.New(rberr.Data, "Parquet file %q changed size (%d to %d bytes) since its footer was read", m.path, m.size, st.Size())
	}
	src := &fileReaderAt{f: f, size: m.size}

	r.numRows = rgs[s.RowGroup].NumRows
	chunks := m.pf.RowGroups()[s.RowGroup].ColumnChunks()
	r.readers = make([]*columnReader, 0, len(columns))
	for i, c := range columns {
		if m.leaf[c] < 0 {
			r.Close()
			return nil, rberr.New(rberr.Schema, "column %q is missing from %q", fields[i].Name, m.path)
		}
		col := m.cols[m.leaf[c]]
		if col.unsupported != "" {
			r.Close()
			return nil, rberr.New(rberr.Type, "column %q of %q %s", col.name, m.path, col.unsupported)
		}
		cr, err := newColumnReader(m, s.RowGroup, col, chunks[col.leaf], src, fields[i], r.numRows)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.readers = append(r.readers, cr)
	}
	r.cols = make([]arrow.Array, len(r.readers))
	return r, nil
}

// Next returns the next record of at most batchSize rows (the caller releases it), or
// io.EOF after the last one.
func (r *SplitReader) Next() (arrow.RecordBatch, error) {
	if r.done >= r.numRows {
		if !r.finished {
			r.finished = true
			for _, cr := range r.readers {
				if err := cr.finish(); err != nil {
					return nil, err
				}
			}
		}
		return nil, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	n := int(min(int64(r.batchSize), r.numRows-r.done))
	if r.filter != nil {
		return r.nextFiltered(n)
	}
	var err error
	for i, cr := range r.readers {
		if r.cols[i], err = cr.read(n, nil, r.mem); err != nil {
			releaseArrays(r.cols[:i])
			return nil, err
		}
	}
	rec := array.NewRecordBatch(r.schema, r.cols, int64(n))
	releaseArrays(r.cols)
	r.done += int64(n)
	return rec, nil
}

// nextFiltered reads the next n rows under the filter.
func (r *SplitReader) nextFiltered(n int) (rec arrow.RecordBatch, err error) {
	f := r.filter
	defer releaseArrays(r.cols)
	if len(r.selected) != len(r.cols) {
		r.selected = make([]bool, len(r.cols))
	}
	clear(r.selected) // r.selected[c]: r.cols[c] holds only the rows kept
	if r.rows, err = r.keep(n); err != nil {
		return nil, err
	}
	rows := r.rows
	switch {
	case len(rows) == n:
		rows = nil // every row: read whole
	case rows == nil:
		rows = []int32{} // no row
	}
	out := make([]arrow.Array, len(f.Out))
	var whole []int // of out: read in full, to be gathered
	for i, c := range f.Out {
		if r.cols[c] == nil {
			if r.cols[c], r.selected[c], err = r.readers[c].readRows(n, rows, r.mem); err != nil {
				releaseArrays(out)
				return nil, err
			}
		}
		if r.selected[c] || rows == nil {
			out[i] = r.cols[c]
			out[i].Retain()
		} else {
			whole = append(whole, i)
		}
	}
	// A column neither read nor returned is passed over.
	for c, cr := range r.readers {
		if r.cols[c] == nil && !slices.Contains(f.Reads, c) {
			if r.cols[c], _, err = cr.readRows(n, []int32{}, r.mem); err != nil {
				releaseArrays(out)
				return nil, err
			}
		}
	}
	if len(whole) > 0 {
		cols := make([]arrow.Array, len(whole))
		for j, i := range whole {
			cols[j] = r.cols[f.Out[i]]
		}
		taken, err := f.Gather(cols, rows)
		if err != nil {
			releaseArrays(out)
			return nil, err
		}
		for j, i := range whole {
			out[i] = taken[j]
		}
	}
	rec = array.NewRecordBatch(r.out, out, int64(len(r.rows)))
	releaseArrays(out)
	r.done += int64(n)
	return rec, nil
}

// keep reads the predicate's columns of the next n rows and returns the rows kept. A
// predicate of one column of fixed-width values is evaluated over each page's dictionary
// (once per dictionary) or over a page's values, and the column decoded only at the rows
// kept when it is returned; otherwise over the batch's columns decoded whole.
func (r *SplitReader) keep(n int) (rows []int32, err error) {
	f := r.filter
	if f.KeepValues != nil && len(f.Reads) == 1 {
		c := f.Reads[0]
		if kv, ok := r.readers[c].vals.(valuesKeeper); ok && kv.keepable() {
			if r.nullKeep == nil {
				null := array.MakeArrayOfNull(r.mem, r.schema.Field(c).Type, 1)
				keep, err := f.KeepValues(null)
				null.Release()
				if err != nil {
					return nil, err
				}
				if len(keep) != 1 {
					return nil, fmt.Errorf("the filter kept %d of 1 value", len(keep))
				}
				r.nullKeep = &keep[0]
			}
			returned := slices.Contains(f.Out, c)
			rows, r.cols[c], err = r.readers[c].readKept(n, f, r.done, *r.nullKeep, returned, r.rows[:0], r.mem)
			r.selected[c] = returned
			return rows, err
		}
	}
	reads := make([]arrow.Array, len(f.Reads))
	for i, c := range f.Reads {
		if r.cols[c], err = r.readers[c].read(n, nil, r.mem); err != nil {
			return nil, err
		}
		reads[i] = r.cols[c]
	}
	if rows, err = f.Keep(reads, n, r.rows[:0]); err != nil {
		return nil, err
	}
	if r.done < f.From { // rows before From are not kept
		first := sort.Search(len(rows), func(i int) bool { return r.done+int64(rows[i]) >= f.From })
		rows = append(rows[:0], rows[first:]...)
	}
	return rows, nil
}

// Close frees the reader's resources.
func (r *SplitReader) Close() {
	for _, cr := range r.readers {
		cr.close()
	}
	r.readers = nil
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
}

func releaseArrays(cols []arrow.Array) {
	for i, c := range cols {
		if c != nil {
			c.Release()
			cols[i] = nil
		}
	}
}

// columnReader streams the pages of one column chunk into Arrow arrays.
type columnReader struct {
	path     string
	rowGroup int
	name     string
	nullable bool // output field
	optional bool // column in this file
	total    int64
	done     int64
	src      *fileReaderAt

	pages  parquet.Pages
	page   parquet.Page
	pageNo int
	defs   []byte // definition levels of the page; nil if it has no nulls
	rows   int    // rows in the page
	row    int    // next row of the page
	vals   pageValues
}

// pageValues decodes the values of one physical type into one Arrow type.
// Values are consumed in order: put and putSparse take the next ones.
type pageValues interface {
	// setPage points at a new page's values and returns how many it holds.
	setPage(p parquet.Page) (int, error)
	// begin starts an output array of n slots.
	begin(n int, mem memory.Allocator)
	// put fills slots [at, at+k) with the next k values.
	put(at, k int) error
	// putSparse fills slot at+i with the next value where defs[i] == maxDef,
	// leaving the other (null) slots zero.
	putSparse(at int, defs []byte, maxDef byte) error
	// finish builds the array; valid may be nil when nulls == 0.
	finish(n int, valid *memory.Buffer, nulls int) arrow.Array
	// abort drops a partially built array.
	abort()
}

// valuesKeeper is a pageValues over whose values a RowFilter's KeepValues can be
// evaluated (fixed-width values the Arrow type holds as they are).
type valuesKeeper interface {
	keepable() bool
	// keepMask evaluates keep over the next nvals values, or over the page's dictionary
	// (once per dictionary): whether the i-th of them is kept is mask[i], or mask[idx[i]].
	keepMask(nvals int, keep func(vals arrow.Array) ([]bool, error)) (mask []bool, idx []int32, err error)
}

// rowValues is a pageValues that can also decode some of the next values only.
type rowValues interface {
	// putRows fills slots [at, at+len(rows)) with the values of the given rows (from
	// base on, ascending) of the next k values, and moves past the k.
	putRows(at, k int, rows []int32, base int)
	// putSparseRows is putRows for the next len(defs) rows, of which only those where
	// defs[i] == maxDef hold a value; the given rows that do not are left zero.
	putSparseRows(at int, defs []byte, maxDef byte, rows []int32, base int)
}

func newColumnReader(m *fileMeta, rowGroup int, c fileColumn, chunk parquet.ColumnChunk, src *fileReaderAt, field arrow.Field, total int64) (*columnReader, error) {
	r := &columnReader{
		path: m.path, rowGroup: rowGroup, name: c.name, src: src,
		nullable: field.Nullable, optional: c.optional, total: total,
	}
	bad := func() (*columnReader, error) {
		return nil, rberr.New(rberr.Type, "column %q of %q: cannot read Parquet %s values as %s", c.name, m.path, c.phys, c.typ)
	}
	_, isDecimal := c.typ.(arrow.DecimalType)
	switch c.phys {
	case format.Boolean:
		r.vals = &boolValues{}
	case format.Int32:
		v := &fixedValues[int32]{dt: c.typ}
		switch c.typ.ID() {
		case arrow.INT8:
			v.conv = narrow[int8]
		case arrow.INT16:
			v.conv = narrow[int16]
		case arrow.UINT8:
			v.conv = narrow[uint8]
		case arrow.UINT16:
			v.conv = narrow[uint16]
		case arrow.DECIMAL128:
			v.conv = intToDecimal128[int32]
		case arrow.INT32, arrow.UINT32, arrow.DATE32, arrow.TIME32:
		default:
			return bad()
		}
		r.vals = v
	case format.Int64:
		v := &fixedValues[int64]{dt: c.typ}
		switch {
		case c.typ.ID() == arrow.DECIMAL128:
			v.conv = intToDecimal128[int64]
		case c.restore == restoreSecondsFromMillis:
			v.conv = millisToSeconds
		case c.typ.ID() == arrow.INT64, c.typ.ID() == arrow.UINT64, c.typ.ID() == arrow.TIMESTAMP,
			c.typ.ID() == arrow.TIME64, c.typ.ID() == arrow.DURATION:
		default:
			return bad()
		}
		r.vals = v
	case format.Int96:
		r.vals = &fixedValues[deprecated.Int96]{dt: c.typ, conv: int96ToNanos}
	case format.Float:
		r.vals = &fixedValues[float32]{dt: c.typ}
	case format.Double:
		r.vals = &fixedValues[float64]{dt: c.typ}
	case format.FixedLenByteArray:
		if c.typeLen <= 0 {
			return bad()
		}
		r.vals = &blobValues{dt: c.typ, width: c.typeLen, decimal: isDecimal}
	case format.ByteArray:
		if isDecimal {
			r.vals = &blobValues{dt: c.typ, decimal: true}
			break
		}
		switch c.typ.ID() {
		case arrow.DICTIONARY:
			r.vals = newDictValues(c.typ.(*arrow.DictionaryType))
		case arrow.STRING, arrow.BINARY:
			r.vals = &bytesValues{dt: c.typ}
		case arrow.LARGE_STRING, arrow.LARGE_BINARY:
			r.vals = &bytesValues{dt: c.typ, large: true}
		default:
			return bad()
		}
	default:
		return nil, rberr.New(rberr.Type, "column %q of %q has unsupported physical type %s", c.name, m.path, c.phys)
	}
	fc, ok := chunk.(*parquet.FileColumnChunk)
	if !ok {
		return nil, rberr.New(rberr.Internal, "unexpected column chunk type %T", chunk)
	}
	r.pages = fc.PagesFrom(src)
	return r, nil
}

func (r *columnReader) corrupt(cause error) error {
	return r.src.failure(r.path, fmt.Sprintf("row group %d, column %q", r.rowGroup, r.name), cause)
}

// valueErr is the Data error for values that cannot be read into the
// column's Arrow type.
func (r *columnReader) valueErr(cause error) error {
	return rberr.Wrap(rberr.Data, cause, "cannot read Parquet file %q, row group %d, column %q", r.path, r.rowGroup, r.name)
}

// output is an array being decoded: the column's value decoder fills its slots, and it
// keeps the validity bitmap (for a nullable column) and the count of nulls.
type output struct {
	r     *columnReader
	valid *memory.Buffer
	bits  []byte
	nulls int
}

// begin starts an output of m slots.
func (r *columnReader) begin(m int, mem memory.Allocator) *output {
	o := &output{r: r}
	if r.nullable {
		o.valid = memory.NewResizableBuffer(mem)
		o.valid.Resize(int(bitutil.BytesForBits(int64(m))))
		o.bits = o.valid.Bytes()
		clear(o.bits)
	}
	r.vals.begin(m, mem)
	return o
}

// abort drops a partly decoded output (none: nothing).
func (o *output) abort() {
	if o == nil {
		return
	}
	o.r.vals.abort()
	if o.valid != nil {
		o.valid.Release()
	}
}

// putRows fills slots from next on with the given rows (from at on, ascending) of the k
// rows of the current page from its current row.
func (o *output) putRows(next, k int, rows []int32, at int) {
	r, rv := o.r, o.r.vals.(rowValues)
	if r.defs == nil {
		rv.putRows(next, k, rows, at)
		if o.bits != nil {
			bitutil.SetBitsTo(o.bits, int64(next), int64(len(rows)), true)
		}
		return
	}
	defs := r.defs[r.row : r.row+k]
	rv.putSparseRows(next, defs, 1, rows, at)
	for i, row := range rows {
		if defs[int(row)-at] == 1 {
			bitutil.SetBit(o.bits, next+i)
		} else {
			o.nulls++
		}
	}
}

// finish builds the array of the first m slots.
func (o *output) finish(m int) arrow.Array {
	valid := o.valid
	if o.nulls == 0 && valid != nil {
		valid.Release()
		valid = nil
	}
	return o.r.vals.finish(m, valid, o.nulls)
}

// read decodes the next n rows of the column; with rows (ascending, from 0 at the first
// of the n), only those rows (the value decoder must be a rowValues).
func (r *columnReader) read(n int, rows []int32, mem memory.Allocator) (arr arrow.Array, err error) {
	m := n
	if rows != nil {
		m = len(rows)
	}
	o := r.begin(m, mem)
	defer func() {
		if p := recover(); p != nil {
			err = r.corrupt(fmt.Errorf("%v", p))
		}
		if err != nil {
			o.abort()
		}
	}()

	next := 0 // with rows: the next slot of the output, rows[next] the next row
	for at := 0; at < n; {
		if r.row == r.rows {
			if err := r.nextPage(); err != nil {
				return nil, err
			}
			continue
		}
		k := min(n-at, r.rows-r.row)
		switch {
		case rows != nil:
			end := next + sort.Search(m-next, func(i int) bool { return int(rows[next+i]) >= at+k })
			o.putRows(next, k, rows[next:end], at)
			next = end
		case r.defs == nil:
			if err := r.vals.put(at, k); err != nil {
				return nil, r.valueErr(err)
			}
			if o.bits != nil {
				bitutil.SetBitsTo(o.bits, int64(at), int64(k), true)
			}
		default:
			defs := r.defs[r.row : r.row+k]
			if err := r.vals.putSparse(at, defs, 1); err != nil {
				return nil, r.valueErr(err)
			}
			for i, d := range defs {
				if d == 1 {
					bitutil.SetBit(o.bits, at+i)
				} else {
					o.nulls++
				}
			}
		}
		r.row += k
		at += k
	}
	r.done += int64(n)
	return o.finish(m), nil
}

// readKept reads the next n rows of the column a RowFilter's KeepValues reads (their first
// is row from of the split): the kept rows (appended to rows), and when returned the
// column at those rows. KeepValues is evaluated over each page's dictionary or values
// (valuesKeeper); a null row is kept when nullKeep.
func (r *columnReader) readKept(n int, f *RowFilter, from int64, nullKeep, returned bool, rows []int32, mem memory.Allocator) (_ []int32, arr arrow.Array, err error) {
	kv, rv := r.vals.(valuesKeeper), r.vals.(rowValues)
	keepOf := func(vals arrow.Array) ([]bool, error) {
		defer vals.Release()
		keep, err := f.KeepValues(vals)
		if err == nil && len(keep) != vals.Len() {
			err = fmt.Errorf("the filter kept %d of %d values", len(keep), vals.Len())
		}
		return keep, err
	}
	var o *output // nil: the column is not returned
	if returned {
		o = r.begin(n, mem)
	}
	defer func() {
		if p := recover(); p != nil {
			err = r.corrupt(fmt.Errorf("%v", p))
		}
		if err != nil {
			o.abort()
		}
	}()

	for at := 0; at < n; {
		if r.row == r.rows {
			if err := r.nextPage(); err != nil {
				return nil, nil, err
			}
			continue
		}
		k := min(n-at, r.rows-r.row)
		var defs []byte
		nvals := k
		if r.defs != nil {
			defs = r.defs[r.row : r.row+k]
			nvals = bytes.Count(defs, []byte{1}) // as nextPage counts a page's values
		}
		keep, idx, err := kv.keepMask(nvals, keepOf)
		if err != nil {
			return nil, nil, err
		}
		first := int(max(0, min(int64(k), f.From-from-int64(at)))) // rows before From are not kept
		// Every row is written at the end and the end moves past it when it is kept: no
		// branch on the predicate's answer.
		start := len(rows)
		rows = slices.Grow(rows, k)[:start+k]
		end := start
		switch {
		case defs == nil && idx != nil:
			for j, x := range idx[first:k] {
				rows[end] = int32(at + first + j)
				end += one(keep[x])
			}
		case defs == nil:
			for j, kept := range keep[first:k] {
				rows[end] = int32(at + first + j)
				end += one(kept)
			}
		default:
			i := 0
			for j, d := range defs {
				kept := nullKeep
				if d == 1 {
					if idx != nil {
						kept = keep[idx[i]]
					} else {
						kept = keep[i]
					}
					i++
				}
				rows[end] = int32(at + j)
				end += one(kept && j >= first)
			}
		}
		rows = rows[:end]
		switch {
		case o != nil:
			o.putRows(start, k, rows[start:], at)
		case defs == nil:
			rv.putRows(0, k, nil, at) // moves past the k values
		default:
			rv.putSparseRows(0, defs, 1, nil, at)
		}
		r.row += k
		at += k
	}
	r.done += int64(n)
	if o == nil {
		return rows, nil, nil
	}
	return rows, o.finish(len(rows)), nil
}

// one is 1 for true, 0 for false (no branch).
func one(b bool) int {
	var x int
	if b {
		x = 1
	}
	return x
}

// readRows decodes the given rows of the next n (all of them for nil rows): only those
// where the column's values can be read so (selected), else all n.
func (r *columnReader) readRows(n int, rows []int32, mem memory.Allocator) (arr arrow.Array, selected bool, err error) {
	if _, ok := r.vals.(rowValues); !ok || rows == nil {
		arr, err = r.read(n, nil, mem)
		return arr, false, err
	}
	arr, err = r.read(n, rows, mem)
	return arr, true, err
}

// nextPage moves to the next data page of the chunk.
func (r *columnReader) nextPage() error {
	if r.page != nil {
		parquet.Release(r.page)
		r.page = nil
	}
	p, err := r.pages.ReadPage()
	if errors.Is(err, io.EOF) {
		return r.corrupt(fmt.Errorf("column chunk ends after %d of the row group's %d rows", r.done+int64(r.row), r.total))
	}
	if err != nil {
		return r.corrupt(fmt.Errorf("page %d: %w", r.pageNo, err))
	}
	r.page = p
	r.pageNo++
	r.rows, r.row, r.defs = int(p.NumValues()), 0, nil
	need := r.rows
	if r.optional {
		defs := p.DefinitionLevels()
		if len(defs) != r.rows {
			return r.corrupt(fmt.Errorf("page %d has %d definition levels for %d values", r.pageNo-1, len(defs), r.rows))
		}
		need = bytes.Count(defs, []byte{1}) // vectorized
		if need < r.rows {
			r.defs = defs
		}
	}
	have, err := r.vals.setPage(p)
	var tooMany tooManyValues
	if errors.As(err, &tooMany) {
		return r.valueErr(err)
	}
	if err != nil {
		return r.corrupt(fmt.Errorf("page %d: %w", r.pageNo-1, err))
	}
	if have < need {
		return r.corrupt(fmt.Errorf("page %d holds %d values where its definition levels need %d", r.pageNo-1, have, need))
	}
	return nil
}

// finish checks that the chunk holds no rows beyond the row group's count.
func (r *columnReader) finish() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = r.corrupt(fmt.Errorf("%v", p))
		}
	}()
	extra := r.rows - r.row
	for extra == 0 {
		if r.page != nil {
			parquet.Release(r.page)
			r.page = nil
		}
		p, err := r.pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return r.corrupt(fmt.Errorf("page %d: %w", r.pageNo, err))
		}
		r.page, r.rows, r.row = p, 0, 0
		r.pageNo++
		extra = int(p.NumValues())
	}
	return r.corrupt(fmt.Errorf("column chunk holds more rows than the row group's %d", r.total))
}

func (r *columnReader) close() {
	if v, ok := r.vals.(interface{ release() }); ok {
		v.release()
	}
	defer func() { _ = recover() }() // a damaged chunk is already reported
	if r.page != nil {
		parquet.Release(r.page)
		r.page = nil
	}
	r.pages.Close()
}

// castSlice reinterprets b as a slice of T (b must be suitably aligned, as
// Arrow buffers and the Parquet library's value buffers are).
func castSlice[T any](b []byte) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(b) < size {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
}

// pageData returns the raw in-memory values of a page: fixed-width values back
// to back, or byte arrays and their offsets. For a dictionary-encoded page
// these are its int32 indexes.
func pageData(p parquet.Page) ([]byte, []uint32) {
	v := p.Data()
	return v.Data()
}

// pageIndexes returns a dictionary-encoded page's indexes after checking that
// they fall inside the dictionary. The result is never nil, even for a page of
// nulls only: the value decoders take a nil idx to mean a plain page.
func pageIndexes(p parquet.Page, dictLen int) ([]int32, error) {
	data := p.Data()
	idx := data.Int32()
	if idx == nil {
		idx = []int32{}
	}
	// The largest index, as unsigned (a negative one is out of range too), without a
	// branch per index; the one out of range is looked for only when there is one.
	if vec.MaxUint32(vec.AsUint32(idx)) >= uint32(dictLen) {
		for _, i := range idx {
			if uint32(i) >= uint32(dictLen) {
				return nil, fmt.Errorf("dictionary index %d out of range for a dictionary of %d values", i, dictLen)
			}
		}
	}
	return idx, nil
}

// fixedValues decodes fixed-width physical values T. When the Arrow layout
// differs from T (narrower ints, INT96), values are gathered in a scratch
// slice and conv writes them into the Arrow buffer.
type fixedValues[T any] struct {
	dt   arrow.DataType
	conv func(dst []byte, src []T)

	plain []T     // values of a plain page
	dict  []T     // dictionary of a dictionary-encoded page
	idx   []int32 // indexes of a dictionary-encoded page
	pos   int

	buf     *memory.Buffer
	out     []T
	scratch []T

	keptOf []T    // the dictionary kept was evaluated over
	kept   []bool // what a RowFilter keeps of each value of keptOf
}

func (v *fixedValues[T]) setPage(p parquet.Page) (int, error) {
	v.pos = 0
	if d := p.Dictionary(); d != nil {
		raw, _ := pageData(d.Page())
		v.dict, v.plain = castSlice[T](raw), nil
		idx, err := pageIndexes(p, len(v.dict))
		v.idx = idx
		return len(idx), err
	}
	raw, _ := pageData(p)
	v.plain, v.idx, v.dict = castSlice[T](raw), nil, nil
	return len(v.plain), nil
}

func (v *fixedValues[T]) begin(n int, mem memory.Allocator) {
	v.buf = uninit.Buffer(mem, n*v.dt.(arrow.FixedWidthDataType).Bytes()) // every slot is written
	if v.conv == nil {
		v.out = castSlice[T](v.buf.Bytes())[:n]
		return
	}
	if cap(v.scratch) < n {
		v.scratch = make([]T, n)
	}
	v.out = v.scratch[:n]
}

func (v *fixedValues[T]) put(at, k int) error {
	dst := v.out[at : at+k]
	if v.idx != nil {
		idx := v.idx[v.pos : v.pos+k]
		for i, j := range idx {
			dst[i] = v.dict[j]
		}
	} else {
		copy(dst, v.plain[v.pos:v.pos+k])
	}
	v.pos += k
	return nil
}

func (v *fixedValues[T]) putRows(at, k int, rows []int32, base int) {
	dst := v.out[at : at+len(rows)]
	if v.idx != nil {
		// pageIndexes checked every index of the page against the dictionary, and
		// rows are positions in [base, base+k): neither lookup needs its bounds check.
		idx := unsafe.Pointer(unsafe.SliceData(v.idx[v.pos : v.pos+k]))
		dict := unsafe.Pointer(unsafe.SliceData(v.dict))
		var zero T
		for i, r := range rows {
			d := *(*int32)(unsafe.Add(idx, (int(r)-base)*4))
			dst[i] = *(*T)(unsafe.Add(dict, uintptr(d)*unsafe.Sizeof(zero)))
		}
	} else {
		src := v.plain[v.pos : v.pos+k]
		for i, r := range rows {
			dst[i] = src[int(r)-base]
		}
	}
	v.pos += k
}

func (v *fixedValues[T]) keepable() bool { return v.conv == nil }

func (v *fixedValues[T]) keepMask(nvals int, keep func(vals arrow.Array) ([]bool, error)) ([]bool, []int32, error) {
	if v.idx == nil {
		mask, err := keep(v.arrayOf(v.plain[v.pos : v.pos+nvals]))
		return mask, nil, err
	}
	if len(v.keptOf) != len(v.dict) || unsafe.SliceData(v.keptOf) != unsafe.SliceData(v.dict) {
		mask, err := keep(v.arrayOf(v.dict))
		if err != nil {
			return nil, nil, err
		}
		v.keptOf, v.kept = v.dict, mask
	}
	return v.kept, v.idx[v.pos : v.pos+nvals], nil
}

// arrayOf views values as an Arrow array of the column's type (no copy; the caller
// releases it before the page goes).
func (v *fixedValues[T]) arrayOf(vals []T) arrow.Array {
	var zero T
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*int(unsafe.Sizeof(zero)))
	data := array.NewData(v.dt, len(vals), []*memory.Buffer{nil, memory.NewBufferBytes(b)}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

func (v *fixedValues[T]) putSparseRows(at int, defs []byte, maxDef byte, rows []int32, base int) {
	dst := v.out[at : at+len(rows)]
	var zero T
	i := 0
	for j, d := range defs {
		if i < len(rows) && int(rows[i])-base == j {
			switch {
			case d != maxDef:
				dst[i] = zero
			case v.idx != nil:
				dst[i] = v.dict[v.idx[v.pos]]
			default:
				dst[i] = v.plain[v.pos]
			}
			i++
		}
		if d == maxDef {
			v.pos++
		}
	}
}

func (v *fixedValues[T]) putSparse(at int, defs []byte, maxDef byte) error {
	dst := v.out[at : at+len(defs)]
	var zero T
	if v.idx != nil {
		for i, d := range defs {
			if d == maxDef {
				dst[i] = v.dict[v.idx[v.pos]]
				v.pos++
			} else {
				dst[i] = zero
			}
		}
		return nil
	}
	for i, d := range defs {
		if d == maxDef {
			dst[i] = v.plain[v.pos]
			v.pos++
		} else {
			dst[i] = zero
		}
	}
	return nil
}

func (v *fixedValues[T]) finish(n int, valid *memory.Buffer, nulls int) arrow.Array {
	if v.conv != nil {
		v.conv(v.buf.Bytes(), v.out)
	}
	arr := makeArray(v.dt, n, []*memory.Buffer{valid, v.buf}, nulls)
	v.buf, v.out = nil, nil
	return arr
}

func (v *fixedValues[T]) abort() {
	if v.buf != nil {
		v.buf.Release()
		v.buf, v.out = nil, nil
	}
}

// makeArray wraps buffers into an array and drops the caller's references to
// them.
func makeArray(dt arrow.DataType, n int, bufs []*memory.Buffer, nulls int) arrow.Array {
	data := array.NewData(dt, n, bufs, nil, nulls, 0)
	arr := array.MakeFromData(data)
	data.Release()
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	return arr
}

func narrow[D int8 | int16 | uint8 | uint16](dst []byte, src []int32) {
	out := castSlice[D](dst)
	for i, x := range src {
		out[i] = D(x)
	}
}

// julianUnixEpoch is the Julian day number of 1970-01-01.
const julianUnixEpoch = 2440588

// int96ToNanos converts legacy INT96 timestamps (nanoseconds of day, then the
// Julian day) to nanoseconds since the Unix epoch.
func int96ToNanos(dst []byte, src []deprecated.Int96) {
	out := castSlice[int64](dst)
	for i, x := range src {
		nanos := int64(uint64(x[1])<<32 | uint64(x[0]))
		out[i] = (int64(x[2])-julianUnixEpoch)*86400e9 + nanos
	}
}

// boolValues decodes BOOLEAN values (bit-packed, least significant bit first)
// into an Arrow bitmap.
type boolValues struct {
	plain []byte
	dict  []byte
	idx   []int32
	pos   int

	buf *memory.Buffer
	out []byte
}

func (v *boolValues) setPage(p parquet.Page) (int, error) {
	v.pos = 0
	if d := p.Dictionary(); d != nil {
		raw, _ := pageData(d.Page())
		v.dict, v.plain = raw, nil
		idx, err := pageIndexes(p, d.Len())
		v.idx = idx
		return len(idx), err
	}
	raw, _ := pageData(p)
	v.plain, v.idx, v.dict = raw, nil, nil
	return 8 * len(raw), nil
}

func (v *boolValues) begin(n int, mem memory.Allocator) {
	v.buf = memory.NewResizableBuffer(mem)
	v.buf.Resize(int(bitutil.BytesForBits(int64(n))))
	v.out = v.buf.Bytes()
	clear(v.out)
}

func (v *boolValues) next() bool {
	var b bool
	if v.idx != nil {
		b = bitutil.BitIsSet(v.dict, int(v.idx[v.pos]))
	} else {
		b = bitutil.BitIsSet(v.plain, v.pos)
	}
	v.pos++
	return b
}

func (v *boolValues) put(at, k int) error {
	for i := at; i < at+k; i++ {
		if v.next() {
			bitutil.SetBit(v.out, i)
		}
	}
	return nil
}

func (v *boolValues) putSparse(at int, defs []byte, maxDef byte) error {
	for i, d := range defs {
		if d == maxDef && v.next() {
			bitutil.SetBit(v.out, at+i)
		}
	}
	return nil
}

func (v *boolValues) finish(n int, valid *memory.Buffer, nulls int) arrow.Array {
	arr := makeArray(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{valid, v.buf}, nulls)
	v.buf, v.out = nil, nil
	return arr
}

func (v *boolValues) abort() {
	if v.buf != nil {
		v.buf.Release()
		v.buf, v.out = nil, nil
	}
}

// bytesValues decodes BYTE_ARRAY values into Arrow utf8 or binary arrays
// (32-bit offsets), or large_utf8 or large_binary arrays (64-bit offsets).
type bytesValues struct {
	dt    arrow.DataType
	large bool

	data     []byte   // plain page: values back to back
	offs     []uint32 // plain page: len(values)+1 offsets into data
	dictData []byte
	dictOffs []uint32
	idx      []int32
	pos      int
	// short: the dictionary's values are at most shortWidth bytes each; pad and padOffs
	// are then a copy of it with shortWidth bytes of room after its data (putShort).
	dictSeen bool
	short    bool
	pad      []byte
	padOffs  []uint32

	offBuf    *memory.Buffer
	dataBuf   *memory.Buffer
	outOffs   []int32
	outOffs64 []int64
	dlen      int
	// perRow is the data bytes per row of the previous batch (in 1/16 bytes): a new
	// batch's data buffer is reserved from it, so that it is rarely grown (growing copies
	// it, and the Arrow allocator's calloc zeroes each new block).
	perRow int
}

// setOff sets output offset i.
func (v *bytesValues) setOff(i, off int) {
	if v.large {
		v.outOffs64[i] = int64(off)
	} else {
		v.outOffs[i] = int32(off)
	}
}

func (v *bytesValues) setPage(p parquet.Page) (int, error) {
	v.pos = 0
	if d := p.Dictionary(); d != nil {
		v.dictData, v.dictOffs = pageData(d.Page())
		if len(v.dictOffs) != d.Len()+1 {
			return 0, fmt.Errorf("dictionary of %d values has %d offsets", d.Len(), len(v.dictOffs))
		}
		v.data, v.offs = nil, nil
		v.setShort()
		idx, err := pageIndexes(p, d.Len())
		v.idx = idx
		return len(idx), err
	}
	v.data, v.offs = pageData(p)
	v.idx, v.dictData, v.dictOffs = nil, nil, nil
	if len(v.offs) == 0 {
		return 0, nil
	}
	return len(v.offs) - 1, nil
}

func (v *bytesValues) begin(n int, mem memory.Allocator) {
	v.offBuf = memory.NewResizableBuffer(mem)
	if v.large {
		v.offBuf.Resize((n + 1) * 8)
		v.outOffs64 = castSlice[int64](v.offBuf.Bytes())[:n+1]
	} else {
		v.offBuf.Resize((n + 1) * 4)
		v.outOffs = castSlice[int32](v.offBuf.Bytes())[:n+1]
	}
	v.setOff(0, 0)
	v.dataBuf = memory.NewResizableBuffer(mem)
	v.dlen = 0
	if est := n * v.perRow / 16; est > 0 {
		v.dataBuf.Reserve(min(est+est/8, math.MaxInt32))
	}
}

// value returns the i-th value of the page.
func (v *bytesValues) value(i int) []byte {
	if v.idx != nil {
		j := v.idx[i]
		return v.dictData[v.dictOffs[j]:v.dictOffs[j+1]]
	}
	return v.data[v.offs[i]:v.offs[i+1]]
}

// size returns the byte length of the page's values [from, to).
func (v *bytesValues) size(from, to int) int {
	if v.idx == nil {
		return int(v.offs[to] - v.offs[from])
	}
	n := 0
	for _, j := range v.idx[from:to] {
		n += int(v.dictOffs[j+1] - v.dictOffs[j])
	}
	return n
}

// reserve makes room for extra more bytes of data.
func (v *bytesValues) reserve(extra int) error {
	need := v.dlen + extra
	if need > math.MaxInt32 && !v.large {
		return errors.New("a batch holds more than 2 GiB of string data; use a smaller batch size")
	}
	if need > v.dataBuf.Cap() {
		v.dataBuf.Reserve(max(need, 2*v.dataBuf.Cap()))
	}
	return nil
}

// shortWidth is the longest dictionary value putShort copies as fixed-size words.
const shortWidth = 32

// setShort notes, at the first dictionary-encoded page, whether the dictionary's values
// are all short, and if so pads a copy of its data for putShort. A column chunk has one
// dictionary and a columnReader (with its values) reads one chunk, so once is enough.
func (v *bytesValues) setShort() {
	if v.dictSeen {
		return
	}
	v.dictSeen = true
	for i := 1; i < len(v.dictOffs); i++ {
		if v.dictOffs[i]-v.dictOffs[i-1] > shortWidth {
			return
		}
	}
	v.pad = append(append(v.pad[:0], v.dictData...), make([]byte, shortWidth)...)
	v.padOffs = append(v.padOffs[:0], v.dictOffs...)
	v.short = true
}

// putShort is put for a dictionary page of short values into 32-bit offsets: each value
// is copied as one block of shortWidth bytes (the padded dictionary and the room put
// reserves past the output make that safe), where a copy of its own length costs a call
// per value.
func (v *bytesValues) putShort(at, k int, out []byte) {
	offs := v.outOffs[at+1 : at+k+1]
	dl := v.dlen
	pad, doffs := v.pad, v.padOffs
	for i, j := range v.idx[v.pos : v.pos+k] {
		start, end := doffs[j], doffs[j+1]
		*(*[shortWidth]byte)(out[dl : dl+shortWidth]) = *(*[shortWidth]byte)(pad[start : start+shortWidth])
		dl += int(end - start)
		offs[i] = int32(dl)
	}
	v.dlen = dl
}

func (v *bytesValues) put(at, k int) error {
	short := v.idx != nil && v.short && !v.large
	slack := 0
	if short {
		slack = shortWidth
	}
	if err := v.reserve(v.size(v.pos, v.pos+k) + slack); err != nil {
		return err
	}
	out := v.dataBuf.Buf()
	if short {
		v.putShort(at, k, out)
		v.pos += k
		return nil
	}
	if v.idx == nil {
		start, end := v.offs[v.pos], v.offs[v.pos+k]
		copy(out[v.dlen:], v.data[start:end])
		base := v.dlen - int(start)
		for i, o := range v.offs[v.pos+1 : v.pos+k+1] {
			v.setOff(at+i+1, base+int(o))
		}
		v.dlen += int(end - start)
	} else {
		for i := range k {
			v.dlen += copy(out[v.dlen:], v.value(v.pos+i))
			v.setOff(at+i+1, v.dlen)
		}
	}
	v.pos += k
	return nil
}

func (v *bytesValues) putSparse(at int, defs []byte, maxDef byte) error {
	set := 0
	for _, d := range defs {
		if d == maxDef {
			set++
		}
	}
	if err := v.reserve(v.size(v.pos, v.pos+set)); err != nil {
		return err
	}
	out := v.dataBuf.Buf()
	for i, d := range defs {
		if d == maxDef {
			v.dlen += copy(out[v.dlen:], v.value(v.pos))
			v.pos++
		}
		v.setOff(at+i+1, v.dlen)
	}
	return nil
}

func (v *bytesValues) finish(n int, valid *memory.Buffer, nulls int) arrow.Array {
	if n > 0 {
		v.perRow = int(min(int64(v.dlen)*16/int64(n), math.MaxInt32))
	}
	v.dataBuf.ResizeNoShrink(v.dlen)
	arr := makeArray(v.dt, n, []*memory.Buffer{valid, v.offBuf, v.dataBuf}, nulls)
	v.offBuf, v.dataBuf, v.outOffs, v.outOffs64 = nil, nil, nil, nil
	return arr
}

func (v *bytesValues) abort() {
	if v.offBuf != nil {
		v.offBuf.Release()
		v.dataBuf.Release()
		v.offBuf, v.dataBuf, v.outOffs, v.outOffs64 = nil, nil, nil, nil
	}
}

// intToDecimal128 widens INT32 or INT64 unscaled decimals to decimal128.
func intToDecimal128[T int32 | int64](dst []byte, src []T) {
	out := castSlice[uint64](dst)
	for i, x := range src {
		out[2*i] = uint64(int64(x))
		out[2*i+1] = uint64(int64(x) >> 63)
	}
}

// millisToSeconds converts timestamp[s] values stored as milliseconds.
func millisToSeconds(dst []byte, src []int64) {
	out := castSlice[int64](dst)
	for i, x := range src {
		q := x / 1000
		if x%1000 < 0 {
			q--
		}
		out[i] = q
	}
}

// blobValues decodes FIXED_LEN_BYTE_ARRAY values into fixed_size_binary,
// float16 or decimal arrays, and BYTE_ARRAY decimals. Decimals are stored
// as big-endian two's complement unscaled integers of any width up to the
// Arrow type's; they are sign-extended into Arrow's little-endian layout.
type blobValues struct {
	dt      arrow.DataType
	width   int  // FIXED_LEN_BYTE_ARRAY width; 0 for BYTE_ARRAY
	decimal bool // values are unscaled decimals

	data     []byte
	offs     []uint32 // BYTE_ARRAY: len(values)+1 offsets into data
	dictData []byte
	dictOffs []uint32
	dictLen  int
	idx      []int32
	pos      int

	buf  *memory.Buffer
	out  []byte
	size int // output bytes per value
}

// count returns the number of values in data/offs.
func (v *blobValues) count(data []byte, offs []uint32) int {
	if v.width > 0 {
		return len(data) / v.width
	}
	return max(len(offs)-1, 0)
}

func (v *blobValues) setPage(p parquet.Page) (int, error) {
	v.pos = 0
	if d := p.Dictionary(); d != nil {
		v.dictData, v.dictOffs = pageData(d.Page())
		v.dictLen = v.count(v.dictData, v.dictOffs)
		if v.dictLen != d.Len() {
			return 0, fmt.Errorf("dictionary of %d values holds %d", d.Len(), v.dictLen)
		}
		v.data, v.offs = nil, nil
		idx, err := pageIndexes(p, v.dictLen)
		v.idx = idx
		return len(idx), err
	}
	v.data, v.offs = pageData(p)
	v.idx, v.dictData, v.dictOffs = nil, nil, nil
	return v.count(v.data, v.offs), nil
}

func (v *blobValues) value(i int) []byte {
	data, offs := v.data, v.offs
	if v.idx != nil {
		i = int(v.idx[i])
		data, offs = v.dictData, v.dictOffs
	}
	if v.width > 0 {
		return data[i*v.width : (i+1)*v.width]
	}
	return data[offs[i]:offs[i+1]]
}

func (v *blobValues) begin(n int, mem memory.Allocator) {
	v.size = v.dt.(arrow.FixedWidthDataType).Bytes()
	v.buf = memory.NewResizableBuffer(mem)
	v.buf.Resize(n * v.size)
	v.out = v.buf.Bytes()
	clear(v.out)
}

func (v *blobValues) write(slot int, b []byte) error {
	dst := v.out[slot*v.size : (slot+1)*v.size]
	if !v.decimal {
		if len(b) != v.size {
			return fmt.Errorf("value of %d bytes for a column of %d-byte values", len(b), v.size)
		}
		copy(dst, b)
		return nil
	}
	if len(b) > v.size {
		return fmt.Errorf("decimal value of %d bytes does not fit %s", len(b), v.dt)
	}
	for j := range b {
		dst[j] = b[len(b)-1-j]
	}
	if len(b) > 0 && b[0]&0x80 != 0 {
		for j := len(b); j < len(dst); j++ {
			dst[j] = 0xff
		}
	}
	return nil
}

func (v *blobValues) put(at, k int) error {
	for i := range k {
		if err := v.write(at+i, v.value(v.pos)); err != nil {
			return err
		}
		v.pos++
	}
	return nil
}

func (v *blobValues) putSparse(at int, defs []byte, maxDef byte) error {
	for i, d := range defs {
		if d == maxDef {
			if err := v.write(at+i, v.value(v.pos)); err != nil {
				return err
			}
			v.pos++
		}
	}
	return nil
}

func (v *blobValues) finish(n int, valid *memory.Buffer, nulls int) arrow.Array {
	arr := makeArray(v.dt, n, []*memory.Buffer{valid, v.buf}, nulls)
	v.buf, v.out = nil, nil
	return arr
}

func (v *blobValues) abort() {
	if v.buf != nil {
		v.buf.Release()
		v.buf, v.out = nil, nil
	}
}
