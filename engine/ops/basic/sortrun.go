package basic

import (
	"bytes"
	"cmp"
	"container/heap"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/internal/gather"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/runfile"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The merge of sorted runs on disk (runfile.Files), for the external sort (SortOp).

// rowCmp compares row i of keys a with row j of keys b (one array per sort key; an and
// bn say which of their arrays may hold nulls: the others' validity is not looked at).
type rowCmp func(a []arrow.Array, an []bool, i int, b []arrow.Array, bn []bool, j int) int

// valueCmp compares two non-null values of arrays of one type.
type valueCmp func(a arrow.Array, i int, b arrow.Array, j int) int

// newRowCmp is the order of the sort keys of types (the keys' evaluated types), as
// SortOp's in-memory sort orders them: nulls first unless nullsLast, NaN above every
// number, descending reversing all but the nulls' place.
func newRowCmp(types []arrow.DataType, desc, nullsLast []bool) (rowCmp, error) {
	cmps := make([]valueCmp, len(types))
	for k, t := range types {
		c := valueCmpOf(t)
		if c == nil {
			return nil, rberr.New(rberr.Type, "sort: cannot merge sorted runs by a key of type %s", expr.TypeName(t))
		}
		cmps[k] = c
	}
	return func(a []arrow.Array, aNulls []bool, i int, b []arrow.Array, bNulls []bool, j int) int {
		for k, c := range cmps {
			an, bn := aNulls[k] && a[k].IsNull(i), bNulls[k] && b[k].IsNull(j)
			if an || bn {
				if an && bn {
					continue
				}
				r := 1
				if an {
					r = -1
				}
				if nullsLast[k] {
					r = -r
				}
				return r
			}
			r := c(a[k], i, b[k], j)
			if r != 0 {
				if desc[k] {
					r = -r
				}
				return r
			}
		}
		return 0
	}, nil
}

type valuer[T any] interface {
	arrow.Array
	Value(int) T
}

func ordered[T cmp.Ordered, A valuer[T]](a arrow.Array, i int, b arrow.Array, j int) int {
	return cmp.Compare(a.(A).Value(i), b.(A).Value(j))
}

// floats orders NaN above every number.
func floats[T float32 | float64, A valuer[T]](a arrow.Array, i int, b arrow.Array, j int) int {
	x, y := a.(A).Value(i), b.(A).Value(j)
	xn, yn := x != x, y != y
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	}
	return cmp.Compare(x, y)
}

func valueCmpOf(t arrow.DataType) valueCmp {
	switch t.ID() {
	case arrow.NULL:
		return func(arrow.Array, int, arrow.Array, int) int { return 0 }
	case arrow.BOOL:
		return func(a arrow.Array, i int, b arrow.Array, j int) int {
			x, y := a.(*array.Boolean).Value(i), b.(*array.Boolean).Value(j)
			switch {
			case x == y:
				return 0
			case y:
				return -1
			}
			return 1
		}
	case arrow.INT8:
		return ordered[int8, *array.Int8]
	case arrow.INT16:
		return ordered[int16, *array.Int16]
	case arrow.INT32:
		return ordered[int32, *array.Int32]
	case arrow.INT64:
		return ordered[int64, *array.Int64]
	case arrow.UINT8:
		return ordered[uint8, *array.Uint8]
	case arrow.UINT16:
		return ordered[uint16, *array.Uint16]
	case arrow.UINT32:
		return ordered[uint32, *array.Uint32]
	case arrow.UINT64:
		return ordered[uint64, *array.Uint64]
	case arrow.FLOAT32:
		return floats[float32, *array.Float32]
	case arrow.FLOAT64:
		return floats[float64, *array.Float64]
	case arrow.DATE32:
		return ordered[arrow.Date32, *array.Date32]
	case arrow.DATE64:
		return ordered[arrow.Date64, *array.Date64]
	case arrow.TIMESTAMP:
		return ordered[arrow.Timestamp, *array.Timestamp]
	case arrow.DURATION:
		return ordered[arrow.Duration, *array.Duration]
	case arrow.TIME32:
		return ordered[arrow.Time32, *array.Time32]
	case arrow.TIME64:
		return ordered[arrow.Time64, *array.Time64]
	case arrow.STRING:
		return ordered[string, *array.String]
	case arrow.LARGE_STRING:
		return ordered[string, *array.LargeString]
	case arrow.BINARY:
		return func(a arrow.Array, i int, b arrow.Array, j int) int {
			return bytes.Compare(a.(*array.Binary).Value(i), b.(*array.Binary).Value(j))
		}
	case arrow.LARGE_BINARY:
		return func(a arrow.Array, i int, b arrow.Array, j int) int {
			return bytes.Compare(a.(*array.LargeBinary).Value(i), b.(*array.LargeBinary).Value(j))
		}
	case arrow.DECIMAL128:
		return func(a arrow.Array, i int, b arrow.Array, j int) int {
			return a.(*array.Decimal128).Value(i).Cmp(b.(*array.Decimal128).Value(j))
		}
	}
	return nil
}

// runfile.Source gives a run's next batch (the caller owns it): srcGot with it, srcWait when
// the run has no batch yet but may have more (a run arriving through a channel), srcEnd
// after its last.
type srcState int

const (
	srcGot srcState = iota
	srcWait
	srcEnd
)

// cursor is a run's place in the merge: its current batch, the batch's keys, the row.
type cursor struct {
	src    func() (arrow.RecordBatch, srcState, error)
	rec    arrow.RecordBatch
	keys   []arrow.Array
	nulls  []bool // per key, whether it has nulls
	row    int
	n      int
	run    int   // the run's index: ties go to the earlier run
	chunk  int32 // rec's index in the merger's held batches, or -1 if not there
	ended  bool  // no batch is left
	inHeap bool
}

func (c *cursor) drop() {
	if c.rec != nil {
		c.rec.Release()
		runtime.ReleaseAll(c.keys)
		c.rec, c.keys = nil, nil
	}
}

type cursorHeap struct {
	cs  []*cursor
	cmp rowCmp
}

func (h *cursorHeap) Len() int { return len(h.cs) }
func (h *cursorHeap) less(a, b *cursor) bool {
	if r := h.cmp(a.keys, a.nulls, a.row, b.keys, b.nulls, b.row); r != 0 {
		return r < 0
	}
	return a.run < b.run
}
func (h *cursorHeap) Less(i, j int) bool { return h.less(h.cs[i], h.cs[j]) }
func (h *cursorHeap) Swap(i, j int)      { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *cursorHeap) Push(x any)         { h.cs = append(h.cs, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return c
}

// merger merges sorted runs by their keys (keysOf gives a batch's, one array per key,
// ordered by desc and nullsLast) into batches of at most size rows: the first outCols
// columns of the runs' batches, of schema out. It holds a batch of each run and, for the
// batch being built, the batches its rows come from and a reference to each row: with
// ties, runs alternate every few rows, and the batch is gathered by reference in one
// pass per column (a slice per stretch of one run and their concatenation cost several
// allocations a stretch). A run that has no batch yet (srcWait) pauses the merge (run
// returns) until it is run again.
type merger struct {
	ec              *expr.EvalCtx
	keysOf          func(rec arrow.RecordBatch) ([]arrow.Array, error)
	desc, nullsLast []bool
	out             *arrow.Schema
	size            int
	emit            func(arrow.RecordBatch) error
	cursors         []*cursor
	h               cursorHeap
	held            []arrow.RecordBatch // the batches refs point into (each retained)
	refs            []gather.Ref        // the rows of the batch being built
}

// add adds a run (its index is the order of adding: ties go to the earlier run).
func (m *merger) add(src func() (arrow.RecordBatch, srcState, error)) {
	m.cursors = append(m.cursors, &cursor{src: src, run: len(m.cursors), chunk: -1})
}

// load moves c to its run's next non-empty batch, if it has one now.
func (m *merger) load(c *cursor) (srcState, error) {
	c.drop()
	for {
		rec, st, err := c.src()
		if err != nil || st != srcGot {
			if st == srcEnd {
				c.ended = true
			}
			return st, err
		}
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		keys, err := m.keysOf(rec)
		if err != nil {
			rec.Release()
			return srcEnd, err
		}
		if m.h.cmp == nil {
			types := make([]arrow.DataType, len(keys))
			for k, a := range keys {
				types[k] = a.DataType()
			}
			if m.h.cmp, err = newRowCmp(types, m.desc, m.nullsLast); err != nil {
				rec.Release()
				runtime.ReleaseAll(keys)
				return srcEnd, err
			}
		}
		c.rec, c.keys, c.row, c.n, c.chunk = rec, keys, 0, int(rec.NumRows()), -1
		c.nulls = c.nulls[:0]
		for _, a := range keys {
			c.nulls = append(c.nulls, a.NullN() > 0)
		}
		return srcGot, nil
	}
}

// run merges until every run has ended (then it emits the last, partial batch too) or
// one has no batch yet.
func (m *merger) run() error {
	for {
		for _, c := range m.cursors {
			if c.inHeap || c.ended {
				continue
			}
			st, err := m.load(c)
			if err != nil {
				return err
			}
			switch st {
			case srcWait:
				return nil
			case srcGot:
				heap.Push(&m.h, c)
				c.inHeap = true
			}
		}
		if m.h.Len() == 0 {
			return m.flush()
		}
		// The rows of the first run that come before every other run's next row, up to
		// a full batch.
		c := m.h.cs[0]
		var next *cursor
		if m.h.Len() > 1 {
			next = m.h.cs[1]
			if m.h.Len() > 2 && m.h.less(m.h.cs[2], next) {
				next = m.h.cs[2]
			}
		}
		start := c.row
		c.row++
		for c.row < c.n && len(m.refs)+c.row-start < m.size && (next == nil || !m.h.less(next, c)) {
			c.row++
		}
		if c.chunk < 0 {
			c.rec.Retain()
			c.chunk = int32(len(m.held))
			m.held = append(m.held, c.rec)
		}
		for r := start; r < c.row; r++ {
			m.refs = append(m.refs, gather.Ref{Chunk: c.chunk, Row: int32(r)})
		}
		if c.row == c.n {
			heap.Pop(&m.h) // c is the least: its next batch, once loaded, goes back in
			c.inHeap = false
			c.drop()
		} else {
			heap.Fix(&m.h, 0)
		}
		if len(m.refs) >= m.size {
			if err := m.flush(); err != nil {
				return err
			}
		}
	}
}

// flush emits the batch being built, if any.
func (m *merger) flush() error {
	n := len(m.refs)
	if n == 0 {
		return nil
	}
	cols := make([]arrow.Array, m.out.NumFields())
	chunks := make([]arrow.Array, len(m.held))
	for c := range cols {
		for i, rec := range m.held {
			chunks[i] = rec.Column(c)
		}
		var err error
		if cols[c], err = m.column(chunks); err != nil {
			runtime.ReleaseAll(cols[:c])
			return err
		}
	}
	rec := array.NewRecordBatch(m.out, cols, int64(n))
	runtime.ReleaseAll(cols)
	m.dropHeld()
	return m.emit(rec)
}

// column is the column of the rows of the batch being built, from chunks (the column of
// each held batch): a slice of one batch if the rows are one stretch of it, a gather by
// reference for the types gather covers, and else the concatenation of a slice per
// stretch of one batch's rows.
func (m *merger) column(chunks []arrow.Array) (arrow.Array, error) {
	refs := m.refs
	first, last := refs[0], refs[len(refs)-1]
	if first.Chunk == last.Chunk && int(last.Row-first.Row) == len(refs)-1 {
		// One stretch: refs are in order, and a batch's rows are taken in order.
		return array.NewSlice(chunks[first.Chunk], int64(first.Row), int64(last.Row)+1), nil
	}
	if t := chunks[0].DataType(); gather.Covers(t) && m.offsetsFit(chunks) {
		return gather.Column(m.ec.Mem, t, chunks, refs), nil
	}
	var parts []arrow.Array
	defer func() { runtime.ReleaseAll(parts) }()
	for i := 0; i < len(refs); {
		j := i + 1
		for j < len(refs) && refs[j].Chunk == refs[i].Chunk && refs[j].Row == refs[j-1].Row+1 {
			j++
		}
		parts = append(parts, array.NewSlice(chunks[refs[i].Chunk], int64(refs[i].Row), int64(refs[j-1].Row)+1))
		i = j
	}
	return array.Concatenate(parts, m.ec.Mem)
}

// offsetsFit reports whether the values of the rows of the batch being built in chunks
// (a string or binary column; true for others) fit 32-bit offsets (else they are
// concatenated, which fails with an error, not a wrong batch). The rows of a chunk
// are one stretch of it, so its bytes are those between its first and last row's.
func (m *merger) offsetsFit(chunks []arrow.Array) bool {
	if id := chunks[0].DataType().ID(); id != arrow.STRING && id != arrow.BINARY {
		return true
	}
	span := make([][2]int32, len(chunks))
	for i := range span {
		span[i] = [2]int32{-1, -1}
	}
	for _, r := range m.refs {
		if span[r.Chunk][0] < 0 {
			span[r.Chunk][0] = r.Row
		}
		span[r.Chunk][1] = r.Row
	}
	total := int64(0)
	for i, s := range span {
		if s[0] >= 0 {
			a := chunks[i].(array.BinaryLike)
			total += a.ValueOffset64(int(s[1])) + int64(a.ValueLen(int(s[1]))) - a.ValueOffset64(int(s[0]))
		}
	}
	return total <= maxGatherBytes
}

// maxGatherBytes is the most bytes of a string or binary column gather.Column builds
// (its offsets are 32-bit); a variable for tests.
var maxGatherBytes int64 = math.MaxInt32

// dropHeld forgets the batch being built: its rows and the batches they come from.
func (m *merger) dropHeld() {
	for _, rec := range m.held {
		rec.Release()
	}
	clear(m.held)
	m.held, m.refs = m.held[:0], m.refs[:0]
	for _, c := range m.cursors {
		c.chunk = -1
	}
}

// release frees what the merger holds.
func (m *merger) release() {
	for _, c := range m.cursors {
		c.drop()
	}
	m.dropHeld()
	m.cursors, m.held, m.refs, m.h.cs = nil, nil, nil, nil
}

// pulled adapts a run read a batch at a time (nil after its last) to a merger's source.
func pulled(next runfile.Source) func() (arrow.RecordBatch, srcState, error) {
	return func() (arrow.RecordBatch, srcState, error) {
		rec, err := next()
		switch {
		case err != nil:
			return nil, srcEnd, err
		case rec == nil:
			return nil, srcEnd, nil
		}
		return rec, srcGot, nil
	}
}
