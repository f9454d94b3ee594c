package engine

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/state"
)

// partitioning says how a stage's output is spread over the next stage's subtasks.
type partitioning uint8

const (
	partForward partitioning = iota // subtask i sends to subtask i (same parallelism)
	partSplit                       // by source split: a split's batches stay together and in order
	partHash                        // by key group of the hash of the keys
	partGather                      // everything to subtask 0
)

// router is the output side of a subtask: it stamps messages with the receiver's input
// channel index and sends them, blocking while the receiver's queue is full.
type router struct {
	tc      *taskCtx
	part    partitioning
	targets []*task
	chIdx   []int // our input channel index at each target
	keys    []cexpr
	maxPar  int
	hashes  []uint64
	// sink is set instead of targets at the end of a graph.
	sink emitter
	m    *opMetrics // of the last operator: time blocked on full queues is its backpressure
	side int        // index of the edge at the receiving stage
}

func (r *router) send(target int, m message) error {
	m.ch = r.chIdx[target]
	m.side = r.side
	select {
	case r.targets[target].in <- m:
		return nil
	default:
	}
	start := time.Now()
	defer func() { r.m.backpressureNanos.Add(int64(time.Since(start))) }()
	select {
	case r.targets[target].in <- m:
		return nil
	case <-r.tc.ctx.Done():
		if m.rec != nil {
			m.rec.Release()
		}
		return r.tc.ctx.Err()
	}
}

func (r *router) broadcast(m message) error {
	for i := range r.targets {
		if err := r.send(i, m); err != nil {
			return err
		}
	}
	return nil
}

func (r *router) emit(m message) error {
	if r.sink != nil {
		return r.sink.emit(m)
	}
	switch m.kind {
	case msgWatermark, msgEnd, msgSourceDone, msgIdle:
		if m.kind == msgSourceDone && r.part == partHash {
			return nil
		}
		return r.broadcast(m)
	}
	switch r.part {
	case partForward, partGather:
		return r.send(0, m)
	case partSplit:
		return r.send(int((m.seq>>20)%uint64(len(r.targets))), m)
	}
	// partHash
	if m.kind != msgBatch {
		return nil // split order does not survive a shuffle
	}
	if len(r.targets) == 1 {
		return r.send(0, m)
	}
	return r.shuffle(m)
}

func (r *router) end() error {
	if r.sink != nil {
		return nil
	}
	return r.broadcast(message{kind: msgEnd})
}

// shuffle splits a batch by key group and sends each part to the subtask that owns it.
func (r *router) shuffle(m message) error {
	rec := m.rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	cols, err := evalColumns(r.tc.ec, r.keys, rec)
	if err != nil {
		return err
	}
	defer releaseAll(cols)
	if cap(r.hashes) < n {
		r.hashes = make([]uint64, n)
	}
	hs := r.hashes[:n]
	hashColumns(cols, hs)
	p := len(r.targets)
	idx := make([][]int32, p)
	for i, h := range hs {
		t := state.Subtask(state.KeyGroup(h, r.maxPar), r.maxPar, p)
		idx[t] = append(idx[t], int32(i))
	}
	for t, rows := range idx {
		if len(rows) == 0 {
			continue
		}
		var part arrow.RecordBatch
		if len(rows) == n {
			rec.Retain()
			part = rec
		} else {
			part, err = takeRows(r.tc.ec, rec, rows)
			if err != nil {
				return err
			}
		}
		if err := r.send(t, m.with(part)); err != nil {
			return err
		}
	}
	return nil
}

func takeRows(ec *evalCtx, rec arrow.RecordBatch, rows []int32) (arrow.RecordBatch, error) {
	ib := array.NewInt32Builder(ec.mem)
	ib.AppendValues(rows, nil)
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		t, err := compute.TakeArray(ec.ctx, c, idx)
		if err != nil {
			releaseAll(cols[:i])
			return nil, err
		}
		cols[i] = t
	}
	defer releaseAll(cols)
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(rows))), nil
}

// evalColumns evaluates expressions over a batch into arrays of its length.
func evalColumns(ec *evalCtx, es []cexpr, rec arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(es))
	for i, e := range es {
		d, err := e.Eval(ec, rec)
		if err != nil {
			releaseAll(out[:i])
			return nil, err
		}
		a, err := datumToArray(ec, d, int(rec.NumRows()))
		if err != nil {
			releaseAll(out[:i])
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}
