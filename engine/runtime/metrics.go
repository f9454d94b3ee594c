package runtime

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
)

// opMetrics counts what one operator of one subtask does. Reading is lock-free.
type opMetrics struct {
	stage, index, subtask int
	name                  string
	id                    string // the operator's stable id (OperatorMetrics.ID)
	recordsIn, batchesIn  atomic.Int64
	recordsOut, batchOut  atomic.Int64
	Late                  atomic.Int64
	WindowsFired          atomic.Int64
	watermark             atomic.Int64
	backpressureNanos     atomic.Int64
	gauges                func() any // a source's own metrics (Stage.Gauges)
	Spill                 SpillMetrics
}

// SpillMetrics count what an operator subtask's row stores moved to and from disk when
// the job spills (state_backend="pebble"; package keyed).
type SpillMetrics struct {
	Written  atomic.Int64 // bytes written to the spill store
	Read     atomic.Int64 // bytes read back from it
	Resident atomic.Int64 // bytes of rows held in memory now (within the memory cap)
	Index    atomic.Int64 // bytes of the operator's index of its rows (counted against the cap)
}

func newOpMetrics(stage, index, subtask int, name string) *opMetrics {
	m := &opMetrics{stage: stage, index: index, subtask: subtask, name: name}
	m.watermark.Store(math.MinInt64)
	return m
}

// countingEmitter counts an operator's output on its way to the next step.
type countingEmitter struct {
	next Emitter
	m    *opMetrics
}

func (c *countingEmitter) Emit(msg Message) error {
	switch msg.Kind {
	case MsgBatch:
		c.m.recordsOut.Add(msg.Rec.NumRows())
		c.m.batchOut.Add(1)
	case MsgWatermark:
		c.m.watermark.Store(msg.N)
	}
	return c.next.Emit(msg)
}

// registry holds every operator's metrics of a job.
type registry struct {
	mu  sync.Mutex
	ops []*opMetrics
}

func (r *registry) add(m *opMetrics) *opMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, m)
	return m
}

// OperatorMetrics is one operator's metrics summed over its parallel subtasks. Watermark
// is the lowest over the subtasks (microseconds since the epoch; MinInt64 before the
// first one). ID is the operator's stable id, the key of its state in checkpoints
// (CheckpointStats.StateBytes); empty for a source's own reading step.
type OperatorMetrics struct {
	Stage             int    `json:"stage"`
	Index             int    `json:"index"`
	Operator          string `json:"operator"`
	ID                string `json:"id,omitempty"`
	Parallelism       int    `json:"parallelism"`
	RecordsIn         int64  `json:"records_in"`
	BatchesIn         int64  `json:"batches_in"`
	RecordsOut        int64  `json:"records_out"`
	BatchesOut        int64  `json:"batches_out"`
	LateRecords       int64  `json:"late_records"`
	WindowsFired      int64  `json:"windows_fired"`
	Watermark         int64  `json:"watermark"`
	BackpressureNanos int64  `json:"backpressure_ns"`
	// Spilled, SpillRead and SpillResident sum the subtasks' SpillMetrics (zero when the
	// job does not spill).
	Spilled       int64 `json:"spilled_bytes"`
	SpillRead     int64 `json:"spill_read_bytes"`
	SpillResident int64 `json:"spill_resident_bytes"`
	SpillIndex    int64 `json:"spill_index_bytes"`
	// Source is a source's own metrics (a Kafka read: its partitions' offsets and lag),
	// or nil.
	Source any `json:"source,omitempty"`
}

func (r *registry) snapshot() []OperatorMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	byOp := map[[2]int]*OperatorMetrics{}
	for _, m := range r.ops {
		k := [2]int{m.stage, m.index}
		o := byOp[k]
		if o == nil {
			o = &OperatorMetrics{Stage: m.stage, Index: m.index, Operator: m.name, ID: m.id, Watermark: math.MaxInt64}
			byOp[k] = o
		}
		o.Parallelism++
		o.RecordsIn += m.recordsIn.Load()
		o.BatchesIn += m.batchesIn.Load()
		o.RecordsOut += m.recordsOut.Load()
		o.BatchesOut += m.batchOut.Load()
		o.LateRecords += m.Late.Load()
		o.WindowsFired += m.WindowsFired.Load()
		o.BackpressureNanos += m.backpressureNanos.Load()
		o.Spilled += m.Spill.Written.Load()
		o.SpillRead += m.Spill.Read.Load()
		o.SpillResident += m.Spill.Resident.Load()
		o.SpillIndex += m.Spill.Index.Load()
		o.Watermark = min(o.Watermark, m.watermark.Load())
		if o.Source == nil && m.gauges != nil {
			o.Source = m.gauges() // once per stage: the subtasks share the source
		}
	}
	out := make([]OperatorMetrics, 0, len(byOp))
	for _, o := range byOp {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stage != out[j].Stage {
			return out[i].Stage < out[j].Stage
		}
		return out[i].Index < out[j].Index
	})
	return out
}
