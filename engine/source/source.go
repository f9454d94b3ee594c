package source

import (
	"errors"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/gen"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// parquetSource reads a dataset's splits (file, row group). Subtasks take the next unread
// split from a shared cursor, so work stays balanced and splits are read roughly in order.
type ParquetSource struct {
	Ordinal    int
	Ds         *batch.Dataset
	Projection []int
	Prune      *Pruner
	BatchSize  int
	cursor     atomic.Int64
	Clock      *splitClock // nil without event time
}

func (s *ParquetSource) Run(tc *runtime.TaskCtx, out runtime.Emitter) error {
	job := tc.Job
	emitted := int64(math.MinInt64)
	for !job.StopSources.Load() {
		i := int(s.cursor.Add(1) - 1)
		if i >= len(s.Ds.Splits) {
			return nil
		}
		sp := s.Ds.Splits[i]
		if s.Prune == nil || !s.Prune.skip(sp) {
			chunk := 0
			err := s.Ds.ReadSplit(tc.Ctx, sp, s.Projection, tc.Ec.Mem, s.BatchSize, func(rec arrow.RecordBatch) error {
				job.Counters.RowsRead.Add(rec.NumRows())
				m := runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Seq: runtime.MakeSeq(s.Ordinal, int64(i), int64(chunk))}
				chunk++
				if s.Clock == nil {
					return out.Emit(m)
				}
				if !s.Clock.batch {
					m.Wm, m.HasWM = s.Clock.before(i)
				}
				low := s.Clock.observe(i, rec)
				if err := out.Emit(m); err != nil {
					return err
				}
				return s.Clock.emitIfAdvanced(low, &emitted, out)
			})
			if err != nil {
				if tc.Ctx.Err() != nil {
					return tc.Ctx.Err()
				}
				return err
			}
		} else {
			job.Counters.RowsRead.Add(sp.NumRows)
			job.Counters.SplitsPruned.Add(1)
		}
		job.Counters.SplitDone(sp.FileIndex)
		if err := out.Emit(runtime.Message{Kind: runtime.MsgSplitDone, Seq: runtime.MakeSeq(s.Ordinal, int64(i), 0)}); err != nil {
			return err
		}
		if s.Clock != nil {
			if err := s.Clock.emitIfAdvanced(s.Clock.done(i), &emitted, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitClock keeps the event time of a Parquet source's splits, shared by its subtasks.
//
// Each file is a watermark split: a row is judged against the largest event time of the
// rows before it in its file (earlier row groups known from their statistics, earlier
// batches of its own row group as read). The source's watermark is the lowest bound over
// all unfinished row groups — for an unread one, its smallest event time (statistics)
// minus the bound — so that it never passes data not yet read, however the parallel
// readers interleave. Which rows are late thus depends only on the files.
//
// In batch mode batches carry no split watermark and the source's watermark is the
// lowest minimum event time (statistics) over unfinished row groups, minus 1 µs: no row
// still to come is at or below it, so no row is ever late. A row group without statistics
// holds the watermark back until it is read.
type splitClock struct {
	mu      sync.Mutex
	batch   bool
	bound   int64   // max_out_of_orderness, µs
	col     int     // event-time column in the read batches
	prefix  []int64 // per split: largest event time of earlier row groups of its file
	running []int64 // per split: largest event time read so far (starts at prefix)
	low     []int64 // per split: no future watermark of it will be below this
	buf     []int64
}

func NewSplitClock(ds *batch.Dataset, statCol, readCol int, bound int64, dt arrow.DataType, batchMode bool) *splitClock {
	n := len(ds.Splits)
	c := &splitClock{batch: batchMode, bound: bound, col: readCol, prefix: make([]int64, n), running: make([]int64, n), low: make([]int64, n)}
	if batchMode {
		mul, div := expr.MicrosPer(dt)
		for i, sp := range ds.Splits {
			c.low[i] = math.MinInt64
			if st := sp.Stats[statCol]; st.Valid {
				if mn, ok := st.Min.(int64); ok {
					c.low[i] = expr.ToMicros(mn, mul, div) - 1
				}
			}
		}
		return c
	}
	mul, div := expr.MicrosPer(dt)
	fileMax := map[int]int64{}
	for i, sp := range ds.Splits {
		p, ok := fileMax[sp.FileIndex]
		if !ok {
			p = math.MinInt64
		}
		c.prefix[i], c.running[i] = p, p
		c.low[i] = math.MinInt64
		st := sp.Stats[statCol]
		if st.Valid {
			if mn, ok := st.Min.(int64); ok {
				c.low[i] = expr.ToMicros(mn, mul, div) - bound - 1
			}
			if mx, ok := st.Max.(int64); ok {
				fileMax[sp.FileIndex] = max(p, expr.ToMicros(mx, mul, div))
				continue
			}
		}
		fileMax[sp.FileIndex] = p // unknown: later row groups do not count this one
	}
	return c
}

func (c *splitClock) wmOf(maxTs int64) int64 {
	if maxTs == math.MinInt64 {
		return math.MinInt64
	}
	return maxTs - c.bound - 1
}

// before returns the watermark split i had before its next batch.
func (c *splitClock) before(i int) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wmOf(c.running[i]), true
}

// observe folds a batch of split i in and returns the source's watermark.
func (c *splitClock) observe(i int, rec arrow.RecordBatch) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batch {
		return c.lowest()
	}
	c.buf = expr.EventTimes(rec.Column(c.col), c.buf)
	for _, t := range c.buf {
		c.running[i] = max(c.running[i], t)
	}
	c.low[i] = max(c.low[i], c.wmOf(c.running[i]))
	return c.lowest()
}

// done marks split i finished and returns the source's watermark.
func (c *splitClock) done(i int) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.low[i] = math.MaxInt64
	return c.lowest()
}

func (c *splitClock) lowest() int64 {
	low := int64(math.MaxInt64)
	for _, l := range c.low {
		low = min(low, l)
	}
	return low
}

func (c *splitClock) emitIfAdvanced(low int64, emitted *int64, out runtime.Emitter) error {
	if low == math.MaxInt64 || low <= *emitted || low == math.MinInt64 {
		return nil
	}
	*emitted = low
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: low})
}

// arrowSource reads an Arrow stream handed over by the caller (one subtask: a stream has
// one reader). Each input batch is cut into slices of at most batchSize rows; each slice
// is a split of its own so the stage after it can spread them over its subtasks.
type ArrowSource struct {
	Ordinal   int
	Reader    array.RecordReader
	BatchSize int
	Wm        func() *runtime.Watermarker
	Idle      time.Duration // 0: never idle
}

func (s *ArrowSource) Run(tc *runtime.TaskCtx, out runtime.Emitter) error {
	job := tc.Job
	var wm *runtime.Watermarker
	if s.Wm != nil {
		wm = s.Wm()
	}
	// The caller's stream may block for as long as it likes (a live generator), so it is
	// read in a goroutine of its own: cancel and stop end the job at once, and a pause
	// longer than idle_timeout marks this input idle (it stops holding back event time).
	// The goroutine holds a reference to the reader and releases it once its read in
	// progress returns, which may be after the job has ended.
	batches := make(chan arrow.RecordBatch)
	quit := make(chan struct{})
	defer close(quit)
	var readErr error // written before batches is closed
	s.Reader.Retain()
	go func() {
		defer close(batches)
		defer s.Reader.Release()
		defer func() {
			if r := recover(); r != nil {
				readErr = rberr.New(rberr.Internal, "panic reading input stream %d: %v\n%s", s.Ordinal, r, debug.Stack())
			}
		}()
		for s.Reader.Next() {
			rec := s.Reader.RecordBatch()
			rec.Retain()
			select {
			case batches <- rec:
			case <-quit:
				rec.Release()
				return
			}
		}
		readErr = s.Reader.Err()
	}()
	var cur arrow.RecordBatch
	defer func() {
		if cur != nil {
			cur.Release()
		}
	}()
	// next waits for the next batch; false at the end of the stream or on stop.
	next := func() (bool, error) {
		if cur != nil {
			cur.Release()
			cur = nil
		}
		var idle <-chan time.Time
		if s.Idle > 0 {
			timer := time.NewTimer(s.Idle)
			defer timer.Stop()
			idle = timer.C
		}
		for {
			select {
			case rec, ok := <-batches:
				if !ok {
					if readErr != nil && !errors.Is(readErr, tc.Ctx.Err()) {
						if tc.Ctx.Err() != nil {
							return false, tc.Ctx.Err()
						}
						var e *rberr.Error
						if errors.As(readErr, &e) && e.Kind == rberr.Internal {
							return false, readErr // a recovered panic stays a bug, not bad data
						}
						return false, rberr.Wrap(rberr.Data, readErr, "reading input stream %d", s.Ordinal)
					}
					return false, nil
				}
				cur = rec
				return true, nil
			case <-idle:
				if err := out.Emit(runtime.Message{Kind: runtime.MsgIdle}); err != nil {
					return false, err
				}
			case <-job.Stopped:
				return false, nil
			case <-tc.Ctx.Done():
				return false, tc.Ctx.Err()
			}
		}
	}
	split := 0
	for !job.StopSources.Load() {
		more, err := next()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		rec := cur
		n := rec.NumRows()
		for off := int64(0); off < n || (n == 0 && off == 0); off += int64(s.BatchSize) {
			end := min(off+int64(s.BatchSize), n)
			part := rec.NewSlice(off, end)
			job.Counters.RowsRead.Add(end - off)
			if err := runtime.EmitWithWatermark(wm, runtime.Message{Kind: runtime.MsgBatch, Rec: part, Seq: runtime.MakeSeq(s.Ordinal, int64(split), 0)}, out); err != nil {
				return err
			}
			if err := out.Emit(runtime.Message{Kind: runtime.MsgSplitDone, Seq: runtime.MakeSeq(s.Ordinal, int64(split), 0)}); err != nil {
				return err
			}
			split++
			if n == 0 {
				break
			}
		}
		if tc.Ctx.Err() != nil {
			return tc.Ctx.Err()
		}
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgSourceDone, Seq: runtime.MakeSeq(s.Ordinal, 0, 0), N: int64(split)})
}

// genSource runs a generator. The sequence is cut into blocks of `block` indexes; subtask
// i of p generates blocks i, i+p, i+2p, ... so every run (and every replay) produces the
// same rows in the same blocks. With a rate, each subtask paces itself so that the whole
// source produces rate rows (or events) per second of wall-clock time.
type GenSource struct {
	Ordinal  int
	Gen      gen.Generator
	Count    int64 // -1: unbounded
	Rate     float64
	Block    int64
	Parallel int
	Wm       func() *runtime.Watermarker
	// safe, in batch mode when the event-time column is the generator's clock, gives the
	// watermark that the event time of index i allows (no row from i on is at or below it).
	Safe func(i int64) int64
}

func (s *GenSource) Run(tc *runtime.TaskCtx, subtask int, out runtime.Emitter) error {
	job := tc.Job
	var wm *runtime.Watermarker
	if s.Wm != nil {
		wm = s.Wm()
	}
	startWall := time.Now()
	for b := int64(subtask); !job.StopSources.Load(); b += int64(s.Parallel) {
		start := b * s.Block
		end := start + s.Block
		if s.Count >= 0 {
			if start >= s.Count {
				break
			}
			end = min(end, s.Count)
		}
		if s.Rate > 0 {
			due := startWall.Add(time.Duration(float64(start) / s.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-job.Stopped:
					return nil
				case <-tc.Ctx.Done():
					return tc.Ctx.Err()
				}
			}
		}
		rec, err := s.Gen.Rows(tc.Ec.Mem, start, end)
		if err != nil {
			return err
		}
		job.Counters.RowsRead.Add(end - start)
		seq := runtime.MakeSeq(s.Ordinal, b, 0)
		if err := runtime.EmitWithWatermark(wm, runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Seq: seq}, out); err != nil {
			return err
		}
		job.Counters.SplitDone(-1)
		if err := out.Emit(runtime.Message{Kind: runtime.MsgSplitDone, Seq: seq}); err != nil {
			return err
		}
		if next := end + int64(s.Parallel-1)*s.Block; s.Safe != nil && (s.Count < 0 || next < s.Count) {
			// This subtask's next row is at index next (its next block).
			if err := out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: s.Safe(next)}); err != nil {
				return err
			}
		}
	}
	return nil
}
