package source

import (
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
)

// TextSource reads a CSV or NDJSON dataset, one split per file. Subtasks take the
// next unread file from a shared cursor, as ParquetSource does with row groups. A
// split's position is its data row within the file: a restored read opens the file
// again and skips the rows before it without decoding them.
type TextSource struct {
	Ds         *batch.TextDataset
	Projection []int
	BatchSize  int
	Clk        *Clock // nil without event time; one lane per file, shared by the subtasks
	cursor     atomic.Int64
	from       Position
	start      sync.Once
}

func (s *TextSource) Replayable() bool      { return true }
func (s *TextSource) AnnouncesSplits() bool { return false }
func (s *TextSource) Clock(int) *Clock      { return s.Clk }

// Splits hands out the files from from.Split on (the first from from.Row). Every
// subtask must pass the same from.
func (s *TextSource) Splits(_, _ int, from Position) Enumerator {
	s.start.Do(func() {
		s.cursor.Store(from.Split)
		s.from = from
	})
	return textSplits{s}
}

type textSplits struct{ s *TextSource }

func (e textSplits) Next(*ReadCtx) (Split, bool, error) {
	s := e.s
	i := s.cursor.Add(1) - 1
	if i >= int64(len(s.Ds.Files)) {
		return Split{}, false, nil
	}
	out := Split{Index: i, From: Position{Split: i}, Lane: int(i), EndsLane: true, Counted: true, File: int(i)}
	if i == s.from.Split {
		out.From.Row = s.from.Row
	}
	return out, true, nil
}

func (textSplits) Close() {}

func (s *TextSource) Open(rc *ReadCtx, sp Split) (SplitReader, error) {
	r, err := s.Ds.OpenFile(int(sp.Index), s.Projection, rc.Mem, s.BatchSize, sp.From.Row)
	if err != nil {
		return nil, err
	}
	return &textReader{r: r, split: sp.Index}, nil
}

type textReader struct {
	r     *batch.TextReader
	split int64
}

func (r *textReader) Next(rc *ReadCtx) (arrow.RecordBatch, int64, error) {
	chunk := r.r.Row()
	rec, err := r.r.Next(rc.Ctx)
	if err != nil {
		return nil, 0, err
	}
	return rec, chunk, nil
}

func (r *textReader) Position() Position { return Position{Split: r.split, Row: r.r.Row()} }
func (r *textReader) Close()             { r.r.Close() }
