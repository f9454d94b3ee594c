package gen

import (
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The column writers below fill Arrow buffers allocated from the caller's
// allocator directly: the number of rows is known before generation starts, so
// fixed-width values and string offsets are stored by index and string bytes are
// appended into a data buffer grown geometrically. This avoids per-value builder
// bookkeeping, and columns without nulls carry no validity bitmap at all.

// writer is a column under construction.
type writer interface {
	// build returns the finished array; the writer gives up its buffers either way.
	build() (arrow.Array, error)
	// release frees the buffers of an unfinished writer (a no-op once built).
	release()
}

// assemble builds every writer's column and returns them as one record batch.
// On error all buffers are released.
func assemble(schema *arrow.Schema, n int, ws ...writer) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, len(ws))
	for i, w := range ws {
		a, err := w.build()
		if err != nil {
			for _, c := range cols {
				c.Release()
			}
			for _, rest := range ws[i+1:] {
				rest.release()
			}
			return nil, err
		}
		cols = append(cols, a)
	}
	rec := array.NewRecordBatch(schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

func releaseAll(ws ...writer) {
	for _, w := range ws {
		w.release()
	}
}

// makeArray wraps buffers into an array and drops the caller's buffer references.
func makeArray(dt arrow.DataType, n int, valid *validity, bufs ...*memory.Buffer) arrow.Array {
	all := make([]*memory.Buffer, 0, len(bufs)+1)
	nulls := 0
	if valid != nil && valid.nulls > 0 {
		all = append(all, valid.buf)
		nulls = valid.nulls
	} else {
		all = append(all, nil)
	}
	all = append(all, bufs...)
	data := array.NewData(dt, n, all, nil, nulls, 0)
	for _, b := range bufs {
		b.Release()
	}
	if valid != nil {
		valid.release()
	}
	arr := array.MakeFromData(data)
	data.Release()
	return arr
}

// fixedCol is a fixed-width column of n values of type T, stored into v by index.
type fixedCol[T arrow.FixedWidthType] struct {
	dt    arrow.DataType
	buf   *memory.Buffer
	v     []T
	valid *validity // nil: no nulls
}

func newFixedCol[T arrow.FixedWidthType](mem memory.Allocator, dt arrow.DataType, n int) *fixedCol[T] {
	var zero T
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * int(unsafe.Sizeof(zero)))
	return &fixedCol[T]{dt: dt, buf: buf, v: arrow.GetData[T](buf.Bytes())}
}

func (c *fixedCol[T]) build() (arrow.Array, error) {
	arr := makeArray(c.dt, len(c.v), c.valid, c.buf)
	c.buf, c.valid = nil, nil
	return arr, nil
}

func (c *fixedCol[T]) release() {
	if c.buf != nil {
		c.buf.Release()
		c.buf = nil
	}
	if c.valid != nil {
		c.valid.release()
		c.valid = nil
	}
}

// boolCol is a boolean column of n bits, all false initially.
type boolCol struct {
	buf   *memory.Buffer
	bits  []byte
	n     int
	valid *validity
}

func newBoolCol(mem memory.Allocator, n int) *boolCol {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	b := buf.Bytes()
	clear(b)
	return &boolCol{buf: buf, bits: b, n: n}
}

func (c *boolCol) build() (arrow.Array, error) {
	arr := makeArray(arrow.FixedWidthTypes.Boolean, c.n, c.valid, c.buf)
	c.buf, c.valid = nil, nil
	return arr, nil
}

func (c *boolCol) release() {
	if c.buf != nil {
		c.buf.Release()
		c.buf = nil
	}
	if c.valid != nil {
		c.valid.release()
		c.valid = nil
	}
}

// validity is a validity bitmap; rows start valid and are cleared by setNull.
type validity struct {
	buf   *memory.Buffer
	bits  []byte
	nulls int
}

func newValidity(mem memory.Allocator, n int) *validity {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	b := buf.Bytes()
	for i := range b {
		b[i] = 0xFF
	}
	return &validity{buf: buf, bits: b}
}

func (v *validity) setNull(i int) {
	bitutil.ClearBit(v.bits, i)
	v.nulls++
}

func (v *validity) release() {
	if v.buf != nil {
		v.buf.Release()
		v.buf = nil
	}
}

// strCol is a utf8 column. A row is written by appending its bytes (appendString,
// appendBytes, or directly to data after grow has guaranteed the capacity, so
// that append never moves data away from the Arrow buffer) and closed by end.
type strCol struct {
	offBuf  *memory.Buffer
	dataBuf *memory.Buffer
	offs    []int32
	data    []byte // len = bytes written; cap = capacity of dataBuf
	row     int
	tooBig  bool
	valid   *validity
}

func newStrCol(mem memory.Allocator, n, avgLen int) *strCol {
	offBuf := memory.NewResizableBuffer(mem)
	offBuf.Resize((n + 1) * 4)
	offs := arrow.GetData[int32](offBuf.Bytes())
	offs[0] = 0
	c := &strCol{offBuf: offBuf, dataBuf: memory.NewResizableBuffer(mem), offs: offs}
	c.grow(n * avgLen)
	return c
}

// grow makes room for k more bytes.
func (c *strCol) grow(k int) {
	need := len(c.data) + k
	if need <= cap(c.data) {
		return
	}
	used := len(c.data)
	c.dataBuf.Reserve(max(2*cap(c.data), need, 64))
	c.data = c.dataBuf.Buf()[:used]
}

// rowLen returns the number of bytes written so far to the current row.
func (c *strCol) rowLen() int { return len(c.data) - int(c.offs[c.row]) }

func (c *strCol) appendString(s string) {
	c.grow(len(s))
	c.data = append(c.data, s...)
}

func (c *strCol) appendBytes(b []byte) {
	c.grow(len(b))
	c.data = append(c.data, b...)
}

// end closes the current row.
func (c *strCol) end() {
	c.row++
	if len(c.data) > math.MaxInt32 {
		c.tooBig = true
	}
	c.offs[c.row] = int32(len(c.data))
}

// add appends s as one complete row.
func (c *strCol) add(s string) {
	c.appendString(s)
	c.end()
}

func (c *strCol) build() (arrow.Array, error) {
	if c.tooBig {
		c.release()
		return nil, rberr.New(rberr.InvalidArgument, "generated string column exceeds 2 GiB in one batch; request fewer rows")
	}
	if cap(c.data) > 0 && unsafe.SliceData(c.data) != unsafe.SliceData(c.dataBuf.Buf()) {
		// A row was appended without grow: its bytes are not in the Arrow buffer.
		c.release()
		return nil, rberr.New(rberr.Internal, "generated string bytes escaped their column buffer")
	}
	c.dataBuf.ResizeNoShrink(len(c.data))
	arr := makeArray(arrow.BinaryTypes.String, c.row, c.valid, c.offBuf, c.dataBuf)
	c.offBuf, c.dataBuf, c.valid, c.data = nil, nil, nil, nil
	return arr, nil
}

func (c *strCol) release() {
	if c.offBuf != nil {
		c.offBuf.Release()
		c.dataBuf.Release()
		c.offBuf, c.dataBuf, c.data = nil, nil, nil
	}
	if c.valid != nil {
		c.valid.release()
		c.valid = nil
	}
}
