package source

import (
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
)

// ParquetSource reads a dataset's splits, one per (file, row group). Subtasks take the
// next unread split from a shared cursor, so work stays balanced and splits are read
// roughly in order. A split's position is its row within the row group.
type ParquetSource struct {
	Ds         *batch.Dataset
	Projection []int
	Prune      *Pruner // nil: read every split
	BatchSize  int
	Clk        *Clock // nil without event time; shared by the subtasks
	cursor     atomic.Int64
	from       Position
	start      sync.Once // the first subtask sets the cursor and from
}

func (s *ParquetSource) Replayable() bool      { return true }
func (s *ParquetSource) AnnouncesSplits() bool { return false }
func (s *ParquetSource) Clock(int) *Clock      { return s.Clk }

// Splits hands out the splits from from.Split on (the first from from.Row) from the
// cursor the subtasks share. Every subtask must pass the same from.
func (s *ParquetSource) Splits(_, _ int, from Position) Enumerator {
	s.start.Do(func() {
		s.cursor.Store(from.Split)
		s.from = from
	})
	return parquetSplits{s}
}

type parquetSplits struct{ s *ParquetSource }

func (e parquetSplits) Next(*ReadCtx) (Split, bool, error) {
	s := e.s
	i := s.cursor.Add(1) - 1
	if i >= int64(len(s.Ds.Splits)) {
		return Split{}, false, nil
	}
	sp := s.Ds.Splits[i]
	out := Split{Index: i, From: Position{Split: i}, Lane: int(i), EndsLane: true, Counted: true, File: sp.FileIndex}
	if i == s.from.Split {
		out.From.Row = s.from.Row
	}
	if s.Prune != nil && s.Prune.skip(sp) {
		out.Pruned, out.Rows = true, sp.NumRows-out.From.Row
	}
	return out, true, nil
}

func (parquetSplits) Close() {}

func (s *ParquetSource) Open(rc *ReadCtx, sp Split) (SplitReader, error) {
	r, err := s.Ds.OpenSplit(rc.Ctx, s.Ds.Splits[sp.Index], s.Projection, rc.Mem, s.BatchSize)
	if err != nil {
		return nil, err
	}
	return &parquetReader{r: r, pos: Position{Split: sp.Index}, skip: sp.From.Row}, nil
}

// parquetReader reads a row group from a row: batches keep the boundaries of a read
// from its start (a multiple of the batch size), rows before the position are dropped.
type parquetReader struct {
	r    *batch.SplitReader
	pos  Position
	skip int64 // rows still to drop
}

func (r *parquetReader) Next(*ReadCtx) (arrow.RecordBatch, int64, error) {
	for {
		rec, err := r.r.Next()
		if err != nil {
			return nil, 0, err
		}
		n := rec.NumRows()
		if r.skip >= n && n > 0 {
			r.skip -= n
			r.pos.Row += n
			rec.Release()
			continue
		}
		if r.skip > 0 {
			part := rec.NewSlice(r.skip, n)
			rec.Release()
			rec, r.pos.Row, r.skip = part, r.pos.Row+r.skip, 0
		}
		chunk := r.pos.Row
		r.pos.Row += rec.NumRows()
		return rec, chunk, nil
	}
}

func (r *parquetReader) Position() Position { return r.pos }
func (r *parquetReader) Close()             { r.r.Close() }
