package engine

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/internal/gen"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// parquetSource reads a dataset's splits (file, row group). Subtasks take the next unread
// split from a shared cursor, so work stays balanced and splits are read roughly in order.
type parquetSource struct {
	ordinal    int
	ds         *batch.Dataset
	projection []int
	prune      *pruner
	batchSize  int
	cursor     atomic.Int64
	wm         func() *watermarker
}

func (s *parquetSource) run(tc *taskCtx, out emitter) error {
	job := tc.job
	var wm *watermarker
	if s.wm != nil {
		wm = s.wm()
	}
	for !job.stopSources.Load() {
		i := int(s.cursor.Add(1) - 1)
		if i >= len(s.ds.Splits) {
			return nil
		}
		sp := s.ds.Splits[i]
		if s.prune == nil || !s.prune.skip(sp) {
			chunk := 0
			err := s.ds.ReadSplit(tc.ctx, sp, s.projection, tc.ec.mem, s.batchSize, func(rec arrow.RecordBatch) error {
				job.progress.rowsRead.Add(rec.NumRows())
				m := message{kind: msgBatch, rec: rec, seq: makeSeq(s.ordinal, i, chunk)}
				chunk++
				return emitWithWatermark(wm, m, out)
			})
			if err != nil {
				if tc.ctx.Err() != nil {
					return tc.ctx.Err()
				}
				return err
			}
		} else {
			job.progress.rowsRead.Add(sp.NumRows)
			job.progress.splitsPruned.Add(1)
		}
		job.progress.splitDone(sp.FileIndex)
		if err := out.emit(message{kind: msgSplitDone, seq: makeSeq(s.ordinal, i, 0)}); err != nil {
			return err
		}
	}
	return nil
}

// arrowSource reads an Arrow stream handed over by the caller (one subtask: a stream has
// one reader). Each input batch is cut into slices of at most batchSize rows; each slice
// is a split of its own so the stage after it can spread them over its subtasks.
type arrowSource struct {
	ordinal   int
	reader    array.RecordReader
	batchSize int
	wm        func() *watermarker
}

func (s *arrowSource) run(tc *taskCtx, out emitter) error {
	job := tc.job
	var wm *watermarker
	if s.wm != nil {
		wm = s.wm()
	}
	split := 0
	for !job.stopSources.Load() && s.reader.Next() {
		rec := s.reader.RecordBatch()
		n := rec.NumRows()
		for off := int64(0); off < n || (n == 0 && off == 0); off += int64(s.batchSize) {
			end := min(off+int64(s.batchSize), n)
			part := rec.NewSlice(off, end)
			job.progress.rowsRead.Add(end - off)
			if err := emitWithWatermark(wm, message{kind: msgBatch, rec: part, seq: makeSeq(s.ordinal, split, 0)}, out); err != nil {
				return err
			}
			if err := out.emit(message{kind: msgSplitDone, seq: makeSeq(s.ordinal, split, 0)}); err != nil {
				return err
			}
			split++
			if n == 0 {
				break
			}
		}
		if tc.ctx.Err() != nil {
			return tc.ctx.Err()
		}
	}
	if err := s.reader.Err(); err != nil && !errors.Is(err, tc.ctx.Err()) {
		return rberr.Wrap(rberr.Data, err, "reading input stream %d", s.ordinal)
	}
	return out.emit(message{kind: msgSourceDone, seq: makeSeq(s.ordinal, 0, 0), n: int64(split)})
}

// genSource runs a generator. The sequence is cut into blocks of `block` indexes; subtask
// i of p generates blocks i, i+p, i+2p, ... so every run (and every replay) produces the
// same rows in the same blocks. With a rate, each subtask paces itself so that the whole
// source produces rate rows (or events) per second of wall-clock time.
type genSource struct {
	ordinal  int
	gen      gen.Generator
	count    int64 // -1: unbounded
	rate     float64
	block    int64
	parallel int
	wm       func() *watermarker
}

func (s *genSource) run(tc *taskCtx, subtask int, out emitter) error {
	job := tc.job
	var wm *watermarker
	if s.wm != nil {
		wm = s.wm()
	}
	startWall := time.Now()
	for b := int64(subtask); !job.stopSources.Load(); b += int64(s.parallel) {
		start := b * s.block
		end := start + s.block
		if s.count >= 0 {
			if start >= s.count {
				break
			}
			end = min(end, s.count)
		}
		if s.rate > 0 {
			due := startWall.Add(time.Duration(float64(start) / s.rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-tc.ctx.Done():
					return tc.ctx.Err()
				}
			}
		}
		rec, err := s.gen.Rows(tc.ec.mem, start, end)
		if err != nil {
			return err
		}
		job.progress.rowsRead.Add(end - start)
		seq := makeSeq(s.ordinal, int(b), 0)
		if err := emitWithWatermark(wm, message{kind: msgBatch, rec: rec, seq: seq}, out); err != nil {
			return err
		}
		job.progress.splitDone(-1)
		if err := out.emit(message{kind: msgSplitDone, seq: seq}); err != nil {
			return err
		}
	}
	return nil
}
