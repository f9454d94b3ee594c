package source

import (
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/internal/gather"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ParquetSource reads a dataset's splits, one per (file, row group). Subtasks take the
// next unread split from a shared cursor, so work stays balanced and splits are read
// roughly in order. A split's position is its row within the row group.
type ParquetSource struct {
	Ds         *batch.Dataset
	Projection []int
	Prune      *Pruner // nil: read every split
	Filter     *Filter // nil: every row of the splits read
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
	pr := &parquetReader{r: r, pos: Position{Split: sp.Index}, skip: sp.From.Row}
	if f := s.Filter; f != nil {
		pr.filtered = true
		eval := func(cols []arrow.Array, n int) (*array.Boolean, error) {
			rec := array.NewRecordBatch(f.ReadSchema, cols, int64(n))
			defer rec.Release()
			d, err := f.Pred.Eval(rc.Eval, rec)
			if err != nil {
				return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", f.Name)
			}
			mask, err := expr.DatumToArray(rc.Eval, d, n)
			if err != nil {
				return nil, err
			}
			return mask.(*array.Boolean), nil
		}
		rf := &batch.RowFilter{
			Reads: f.Reads,
			Out:   f.Out,
			From:  sp.From.Row, // the rows before it were read before a restore
			Keep: func(cols []arrow.Array, n int, rows []int32) ([]int32, error) {
				mask, err := eval(cols, n)
				if err != nil {
					return rows, err
				}
				defer mask.Release()
				return gather.Kept(mask, rows), nil
			},
			Gather: func(cols []arrow.Array, rows []int32) ([]arrow.Array, error) {
				return runtime.TakeArrays(rc.Eval, cols, rows)
			},
		}
		if len(f.Reads) == 1 {
			// Expressions are deterministic: a row's answer depends only on its value.
			rf.KeepValues = func(vals arrow.Array) ([]bool, error) {
				mask, err := eval([]arrow.Array{vals}, vals.Len())
				if err != nil {
					return nil, err
				}
				defer mask.Release()
				keep := make([]bool, mask.Len())
				for i := range keep {
					keep[i] = mask.IsValid(i) && mask.Value(i)
				}
				return keep, nil
			}
		}
		r.SetFilter(rf)
	}
	return pr, nil
}

// Filter is a filter fused into a Parquet scan: the scan returns the rows for which Pred
// is true, of the columns Out. It decodes the columns Pred reads first, then the others
// only at the rows kept (batch.RowFilter), instead of a filter copying the rows it keeps
// out of whole batches. Only a scan without event time takes one: its watermark would
// see only the rows kept.
type Filter struct {
	Name       string        // the filter's, for errors
	Pred       expr.Expr     // over ReadSchema
	Reads      []int         // the columns (of the scan's) Pred reads, in ReadSchema's order
	ReadSchema *arrow.Schema // their fields
	Out        []int         // the columns (of the scan's) the scan returns
}

// parquetReader reads a row group from a row: batches keep the boundaries of a read
// from its start (a multiple of the batch size), rows before the position are dropped.
type parquetReader struct {
	r        *batch.SplitReader
	pos      Position
	skip     int64 // rows still to drop
	filtered bool  // under a fused filter (which drops the rows before the position)
	read     int64 // under a fused filter: rows read (from the position on) not yet counted
}

// TakeRead returns the rows read since the last call, under a fused filter (the rows
// returned, else).
func (r *parquetReader) TakeRead(returned int64) int64 {
	if !r.filtered {
		return returned
	}
	n := r.read
	r.read = 0
	return n
}

func (r *parquetReader) Next(*ReadCtx) (arrow.RecordBatch, int64, error) {
	for {
		rec, err := r.r.Next()
		if err != nil {
			return nil, 0, err
		}
		if r.filtered {
			chunk := max(r.pos.Row, r.skip) // the filter dropped the rows before skip
			r.pos.Row = r.r.Consumed()
			r.read += max(0, r.pos.Row-chunk)
			if rec.NumRows() == 0 {
				rec.Release()
				continue
			}
			return rec, chunk, nil
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
