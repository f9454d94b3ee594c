package source

import (
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
)

// Clock keeps a source's event time, the same way for every source. Event time is
// tracked per watermark lane: a run of rows read in order, whose watermark is the largest
// event time read in it so far minus the bound, minus 1 µs (Flink's bounded
// out-of-orderness). A Parquet source has one lane per row group, primed with the
// largest event time of the earlier row groups of its file (statistics), and one clock
// shared by its subtasks; a generator or an Arrow input has one lane per subtask.
//
// The source's watermark is the lowest bound over its unfinished lanes (a lane not yet
// read holds it back by its statistics' minimum, if known), so it never passes rows not
// yet read, however parallel readers interleave.
//
// In streaming mode each batch carries its lane's watermark from before it (Task stamps
// it), by which operators judge lateness: which rows are late depends only on the order of
// rows within each lane. In batch mode nothing is tracked or stamped and the watermark
// only rises to bounds no row still to come is at or below (Parquet row-group minimums,
// a generator's next event time), so no row is late.
type Clock struct {
	mu      sync.Mutex
	stamp   bool    // streaming: track event times and stamp batches
	bound   int64   // max_out_of_orderness, µs
	col     int     // event-time column in the read batches
	running []int64 // per lane: largest event time read so far
	low     []int64 // per lane: no future watermark of it will be below this
	idle    []bool  // per lane: idle (setIdle), not holding the watermark back
	buf     []int64
}

// NewClock is a streaming clock with lanes lanes, for the event-time column col of the
// read batches (max_out_of_orderness bound, µs).
func NewClock(lanes, col int, bound int64) *Clock {
	c := &Clock{stamp: true, bound: bound, col: col, running: make([]int64, lanes), low: make([]int64, lanes), idle: make([]bool, lanes)}
	for i := range c.low {
		c.running[i], c.low[i] = math.MinInt64, math.MinInt64
	}
	return c
}

// NewBatchClock is a batch-mode clock with lanes lanes: it only rises to the safe bounds
// given with each split (Split.Safe).
func NewBatchClock(lanes int) *Clock {
	c := NewClock(lanes, 0, 0)
	c.stamp = false
	return c
}

// NewParquetClock is the clock of a Parquet source, one lane per split: statCol indexes
// the event-time column in the dataset's statistics, readCol in the read batches, dt is
// its type.
func NewParquetClock(ds *batch.Dataset, statCol, readCol int, bound int64, dt arrow.DataType, batchMode bool) *Clock {
	n := len(ds.Splits)
	mul, div := expr.MicrosPer(dt)
	if batchMode {
		c := NewBatchClock(n)
		for i, sp := range ds.Splits {
			if st := sp.Stats[statCol]; st.Valid {
				if mn, ok := st.Min.(int64); ok {
					c.low[i] = expr.ToMicros(mn, mul, div) - 1
				}
			}
		}
		return c
	}
	c := NewClock(n, readCol, bound)
	fileMax := map[int]int64{}
	for i, sp := range ds.Splits {
		p, ok := fileMax[sp.FileIndex]
		if !ok {
			p = math.MinInt64
		}
		c.running[i] = p
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

func (c *Clock) wmOf(maxTs int64) int64 {
	if maxTs == math.MinInt64 {
		return math.MinInt64
	}
	return maxTs - c.bound - 1
}

// before returns the watermark of lane before its next batch.
func (c *Clock) before(lane int) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wmOf(c.running[lane])
}

// observe folds a batch of lane in and returns the source's watermark.
func (c *Clock) observe(lane int, rec arrow.RecordBatch) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stamp {
		return c.lowest()
	}
	c.buf = expr.EventTimes(rec.Column(c.col), c.buf)
	for _, t := range c.buf {
		c.running[lane] = max(c.running[lane], t)
	}
	c.low[lane] = max(c.low[lane], c.wmOf(c.running[lane]))
	return c.lowest()
}

// runningOf is the largest event time lane has read (math.MinInt64: none).
func (c *Clock) runningOf(lane int) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running[lane]
}

// prime starts lane from event time maxTs, the largest it had read at a checkpoint.
func (c *Clock) prime(lane int, maxTs int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stamp {
		return
	}
	c.running[lane] = max(c.running[lane], maxTs)
	c.low[lane] = max(c.low[lane], c.wmOf(c.running[lane]))
}

// splitDone notes the end of a split and returns the source's watermark.
func (c *Clock) splitDone(sp Split) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sp.EndsLane {
		c.low[sp.Lane] = math.MaxInt64
	} else if sp.HasSafe {
		c.low[sp.Lane] = max(c.low[sp.Lane], sp.Safe)
	}
	return c.lowest()
}

// lowest is the source's watermark: the lowest bound of its lanes, or, when every lane
// is idle or ended and some are idle, the highest watermark of the idle ones (no lane
// moves it on any more; a task's inputs do the same when all are idle, so one subtask
// reading several partitions advances as several subtasks reading one each do).
func (c *Clock) lowest() int64 {
	low := int64(math.MaxInt64)
	for _, l := range c.low {
		low = min(low, l)
	}
	if low == math.MaxInt64 {
		flush := int64(math.MinInt64)
		for i, idle := range c.idle {
			if idle {
				flush = max(flush, c.wmOf(c.running[i]))
			}
		}
		if flush != math.MinInt64 {
			return flush
		}
	}
	return low
}
