package gather

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/internal/uninit"
)

// Ref points at one row of one of the chunks: the chunk's index and the row within it.
// A negative chunk means "no row" (a null).
type Ref struct {
	Chunk int32
	Row   int32
}

// Covers reports whether Column covers values of type t: fixed-width types, booleans,
// and strings and binaries with 32-bit offsets.
func Covers(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.STRING, arrow.BINARY:
		return true
	}
	fw, ok := t.(arrow.FixedWidthDataType)
	if !ok || t.ID() == arrow.DICTIONARY || t.ID() == arrow.EXTENSION {
		return false
	}
	switch fw.BitWidth() {
	case 8, 16, 32, 64, 128, 256:
		return true
	}
	return false
}

// Column builds the column of the referenced rows (null for a negative ref) of cols, the
// chunks' arrays, of type t (which Covers). A chunk may be a slice of an array; a chunk
// no ref points at may be nil.
func Column(mem memory.Allocator, t arrow.DataType, cols []arrow.Array, refs []Ref) arrow.Array {
	n := len(refs)
	nulls := 0
	var valid *memory.Buffer
	anyNull := false
	for _, r := range refs {
		if r.Chunk < 0 || cols[r.Chunk].NullN() > 0 {
			anyNull = true
			break
		}
	}
	if anyNull {
		var vb []byte
		valid, vb = bitmap(mem, n)
		for i, r := range refs {
			if r.Chunk >= 0 && cols[r.Chunk].IsValid(int(r.Row)) {
				bitutil.SetBit(vb, i)
			} else {
				nulls++
			}
		}
	}
	var bufs []*memory.Buffer
	switch t.ID() {
	case arrow.BOOL:
		vals, vb := bitmap(mem, n)
		for i, r := range refs {
			if r.Chunk >= 0 && cols[r.Chunk].(*array.Boolean).Value(int(r.Row)) {
				bitutil.SetBit(vb, i)
			}
		}
		bufs = []*memory.Buffer{valid, vals}
	case arrow.STRING, arrow.BINARY:
		// Each chunk's offsets (from its first row) and value bytes, read without a
		// method call per row.
		offsets := make([][]int32, len(cols))
		values := make([][]byte, len(cols))
		for c, col := range cols {
			if col == nil || col.Len() == 0 {
				continue
			}
			if s, ok := col.(*array.String); ok {
				offsets[c] = s.ValueOffsets()
			} else {
				offsets[c] = col.(*array.Binary).ValueOffsets()
			}
			if buf := col.Data().Buffers()[2]; buf != nil {
				values[c] = buf.Bytes()
			}
		}
		total := 0
		for _, r := range refs {
			if r.Chunk >= 0 {
				o := offsets[r.Chunk]
				total += int(o[r.Row+1] - o[r.Row])
			}
		}
		offs := uninit.Buffer(mem, (n+1)*4)
		ob := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(offs.Bytes()))), n+1)
		data := uninit.Buffer(mem, total)
		db := data.Bytes()
		at := 0
		for i, r := range refs {
			ob[i] = int32(at)
			if r.Chunk >= 0 {
				o := offsets[r.Chunk]
				at += copy(db[at:], values[r.Chunk][o[r.Row]:o[r.Row+1]])
			}
		}
		ob[n] = int32(at)
		bufs = []*memory.Buffer{valid, offs, data}
	default:
		w := t.(arrow.FixedWidthDataType).BitWidth() / 8
		vals := uninit.Buffer(mem, n*w)
		vb := vals.Bytes()
		srcs := make([][]byte, len(cols))
		for c, col := range cols {
			if col != nil && col.Len() > 0 && col.Data().Buffers()[1] != nil {
				d := col.Data()
				srcs[c] = d.Buffers()[1].Bytes()[d.Offset()*w:]
			}
		}
		switch w {
		case 8:
			copyRefs(words[uint64](vb), srcs, refs)
		case 4:
			copyRefs(words[uint32](vb), srcs, refs)
		case 16:
			copyRefs(words[[2]uint64](vb), srcs, refs)
		default:
			for i, r := range refs {
				if r.Chunk >= 0 {
					copy(vb[i*w:(i+1)*w], srcs[r.Chunk][int(r.Row)*w:])
				} else {
					clear(vb[i*w : (i+1)*w])
				}
			}
		}
		bufs = []*memory.Buffer{valid, vals}
	}
	return arrayOf(t, n, bufs, nulls)
}

// bitmap is a zeroed buffer of n bits and its bytes.
func bitmap(mem memory.Allocator, n int) (*memory.Buffer, []byte) {
	b := memory.NewResizableBuffer(mem)
	b.Resize(int(bitutil.BytesForBits(int64(n))))
	clear(b.Bytes())
	return b, b.Bytes()
}

// arrayOf wraps buffers into an array, taking over the caller's references to them.
func arrayOf(t arrow.DataType, n int, bufs []*memory.Buffer, nulls int) arrow.Array {
	data := array.NewData(t, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer data.Release()
	return array.MakeFromData(data)
}

// words views a buffer's bytes as values of type T.
func words[T any](b []byte) []T {
	var z T
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(z)))
}

// copyRefs sets dst[i] to the referenced value of srcs (each a chunk's value bytes), or
// the zero value for a negative ref.
func copyRefs[T any](dst []T, srcs [][]byte, refs []Ref) {
	views := make([][]T, len(srcs))
	for c, s := range srcs {
		if s != nil {
			views[c] = words[T](s)
		}
	}
	var zero T
	for i, r := range refs {
		if r.Chunk >= 0 {
			dst[i] = views[r.Chunk][r.Row]
		} else {
			dst[i] = zero
		}
	}
}

// Rows builds the column of the given rows of col (valid indexes, any order), of a type
// Covers: what arrow's take does, without checking every index against the column's
// length first (a filter's or a sort's rows are known to be in range) and with one loop
// per value width.
func Rows(mem memory.Allocator, col arrow.Array, rows []int32) arrow.Array {
	return rowsOf(mem, col, rows, false)
}

// RunRows is Rows for rows that mostly come in stretches of consecutive rows (a filter
// that keeps most rows): values are copied a stretch at a time.
func RunRows(mem memory.Allocator, col arrow.Array, rows []int32) arrow.Array {
	return rowsOf(mem, col, rows, true)
}

// Stretches counts the stretches of consecutive rows in rows.
func Stretches(rows []int32) int {
	if len(rows) == 0 {
		return 0
	}
	n := 1
	for i := 1; i < len(rows); i++ {
		if rows[i] != rows[i-1]+1 {
			n++
		}
	}
	return n
}

// stretch returns the end of the stretch of consecutive rows that starts at i.
func stretch(rows []int32, i int) int {
	j := i + 1
	for j < len(rows) && rows[j] == rows[j-1]+1 {
		j++
	}
	return j
}

func rowsOf(mem memory.Allocator, col arrow.Array, rows []int32, runs bool) arrow.Array {
	n := len(rows)
	t := col.DataType()
	nulls := 0
	var valid *memory.Buffer
	if col.NullN() > 0 {
		var vb []byte
		valid, vb = bitmap(mem, n)
		for i, r := range rows {
			if col.IsValid(int(r)) {
				bitutil.SetBit(vb, i)
			} else {
				nulls++
			}
		}
	}
	var bufs []*memory.Buffer
	switch t.ID() {
	case arrow.BOOL:
		b := col.(*array.Boolean)
		vals, vb := bitmap(mem, n)
		for i, r := range rows {
			if b.Value(int(r)) {
				bitutil.SetBit(vb, i)
			}
		}
		bufs = []*memory.Buffer{valid, vals}
	case arrow.STRING, arrow.BINARY:
		var o []int32
		if s, ok := col.(*array.String); ok {
			o = s.ValueOffsets()
		} else {
			o = col.(*array.Binary).ValueOffsets()
		}
		var values []byte
		if buf := col.Data().Buffers()[2]; buf != nil {
			values = buf.Bytes()
		}
		total := 0
		for _, r := range rows {
			total += int(o[r+1] - o[r])
		}
		offs := uninit.Buffer(mem, (n+1)*4)
		ob := words[int32](offs.Bytes())
		data := uninit.Buffer(mem, total)
		db := data.Bytes()
		at := 0
		if runs {
			for i := 0; i < n; {
				j := stretch(rows, i)
				r := rows[i]
				base := int32(at) - o[r]
				for k := i; k < j; k++ {
					ob[k] = o[rows[k]] + base
				}
				at += copy(db[at:], values[o[r]:o[rows[j-1]+1]])
				i = j
			}
		} else {
			for i, r := range rows {
				ob[i] = int32(at)
				at += copy(db[at:], values[o[r]:o[r+1]])
			}
		}
		ob[n] = int32(at)
		bufs = []*memory.Buffer{valid, offs, data}
	default:
		w := t.(arrow.FixedWidthDataType).BitWidth() / 8
		vals := uninit.Buffer(mem, n*w)
		vb := vals.Bytes()
		var src []byte
		if d := col.Data(); d.Len() > 0 && d.Buffers()[1] != nil {
			src = d.Buffers()[1].Bytes()[d.Offset()*w:]
		}
		switch {
		case runs:
			for i := 0; i < n; {
				j := stretch(rows, i)
				r := int(rows[i])
				copy(vb[i*w:j*w], src[r*w:(r+j-i)*w])
				i = j
			}
		case w == 1:
			copyRows(vb, src, rows)
		case w == 2:
			copyRows(words[uint16](vb), words[uint16](src), rows)
		case w == 4:
			copyRows(words[uint32](vb), words[uint32](src), rows)
		case w == 8:
			copyRows(words[uint64](vb), words[uint64](src), rows)
		case w == 16:
			copyRows(words[[2]uint64](vb), words[[2]uint64](src), rows)
		default:
			for i, r := range rows {
				copy(vb[i*w:(i+1)*w], src[int(r)*w:])
			}
		}
		bufs = []*memory.Buffer{valid, vals}
	}
	return arrayOf(t, n, bufs, nulls)
}

// copyRows sets dst[i] to src[rows[i]].
func copyRows[T any](dst, src []T, rows []int32) {
	dst = dst[:len(rows)]
	for i, r := range rows {
		dst[i] = src[r]
	}
}
