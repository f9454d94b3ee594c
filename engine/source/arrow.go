package source

import (
	"errors"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ArrowSource reads an Arrow stream handed over by the caller (one subtask: a stream has
// one reader). Each record batch of the stream (a chunk) is cut into slices of at most
// BatchSize rows; each slice is a split of its own, so the stage after it can spread them
// over its subtasks. A position is the slice number, the chunk and the row in it.
//
// An in-memory table (Table) is replayable: its chunks are the same on every read, so
// reading from a position skips the chunks before it. A live stream (a RecordBatchReader
// over a Python generator) is not: it is read in a goroutine of its own and may go idle.
type ArrowSource struct {
	Ordinal   int // for error messages
	Reader    array.RecordReader
	BatchSize int
	Table     bool          // an in-memory table (replayable)
	Clk       func() *Clock // nil without event time (or in batch mode)
}

func (s *ArrowSource) Replayable() bool      { return s.Table }
func (s *ArrowSource) AnnouncesSplits() bool { return true }

func (s *ArrowSource) Clock(int) *Clock {
	if s.Clk == nil {
		return nil
	}
	return s.Clk()
}

func (s *ArrowSource) Splits(_, _ int, from Position) Enumerator {
	s.Reader.Retain()
	return &arrowSplits{s: s, from: from, split: from.Split, chunk: -1}
}

// arrowSplits reads the stream and slices its chunks into splits.
type arrowSplits struct {
	s      *ArrowSource
	from   Position
	cur    arrow.RecordBatch
	chunk  int64 // index of cur in the stream
	row    int64 // next row of cur
	split  int64 // next split number
	sliced bool  // cur gave at least one split (an empty chunk gives one empty split)
}

func (e *arrowSplits) Next(*ReadCtx) (Split, bool, error) {
	for {
		if e.cur != nil {
			n := e.cur.NumRows()
			if e.row < n || (n == 0 && !e.sliced) {
				end := min(e.row+int64(e.s.BatchSize), n)
				sp := Split{Index: e.split, From: Position{Split: e.split, Chunk: e.chunk, Row: e.row}, data: e.cur.NewSlice(e.row, end)}
				e.split++
				e.row = end
				e.sliced = true
				return sp, true, nil
			}
			e.cur.Release()
			e.cur = nil
		}
		if !e.s.Reader.Next() {
			if err := e.s.Reader.Err(); err != nil && !errors.Is(err, io.EOF) {
				var re *rberr.Error
				if errors.As(err, &re) && re.Kind == rberr.Internal {
					return Split{}, false, err // a recovered panic stays a bug, not bad data
				}
				return Split{}, false, rberr.Wrap(rberr.Data, pythonReason(err), "reading input stream %d", e.s.Ordinal)
			}
			return Split{}, false, nil
		}
		e.chunk++
		if e.chunk < e.from.Chunk {
			continue // before the position: already read
		}
		e.cur = e.s.Reader.RecordBatch()
		e.cur.Retain()
		e.row, e.sliced = 0, false
		if e.chunk == e.from.Chunk && e.from.Row > 0 {
			e.row, e.sliced = e.from.Row, true
		}
	}
}

func (e *arrowSplits) Close() {
	if e.cur != nil {
		e.cur.Release()
		e.cur = nil
	}
	e.s.Reader.Release()
}

func (s *ArrowSource) Open(_ *ReadCtx, sp Split) (SplitReader, error) {
	return &sliceReader{rec: sp.data, pos: sp.From}, nil
}

// sliceReader returns a split's one slice.
type sliceReader struct {
	rec arrow.RecordBatch
	pos Position
}

func (r *sliceReader) Next(*ReadCtx) (arrow.RecordBatch, int64, error) {
	if r.rec == nil {
		return nil, 0, io.EOF
	}
	rec, chunk := r.rec, r.pos.Row
	r.rec = nil
	r.pos.Row += rec.NumRows()
	return rec, chunk, nil
}

func (r *sliceReader) Position() Position {
	// After the slice the stream goes on with the next split.
	if r.rec == nil {
		return Position{Split: r.pos.Split + 1, Chunk: r.pos.Chunk, Row: r.pos.Row}
	}
	return r.pos
}

func (r *sliceReader) Close() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

// pythonReason is the reason a Python stream gave for failing, without what pyarrow's
// export adds around it ("invalid argument: Unknown error: ...", and a whole Python
// traceback as " Detail: Python exception: ..."): the Python layer keeps the exception
// itself as the job error's cause.
func pythonReason(err error) error {
	msg := err.Error()
	i := strings.Index(msg, " Detail: Python exception:")
	if i < 0 {
		return err
	}
	msg = strings.TrimSuffix(strings.TrimSpace(msg[:i]), ".")
	msg = strings.TrimPrefix(msg, "invalid argument: ")
	return errors.New(strings.TrimPrefix(msg, "Unknown error: "))
}
