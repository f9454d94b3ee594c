package runtime

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/internal/gather"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// partitioning says how a stage's output is spread over the next stage's subtasks.
type partitioning uint8

const (
	partForward   partitioning = iota // subtask i sends to subtask i (same parallelism)
	PartSplit                         // by source split: a split's batches stay together and in order
	PartHash                          // by key group of the hash of the keys
	PartGather                        // everything to subtask 0
	PartBroadcast                     // every batch to every subtask (the small side of a broadcast join)
)

// router is the output side of a subtask: it stamps messages with the receiver's input
// channel index and sends them on that channel, blocking while it is full. Control
// messages (watermarks, idleness, control, end) go to every receiver.
type router struct {
	tc      *TaskCtx
	part    partitioning
	targets []*task
	chIdx   []int // our input channel index at each target
	keys    []expr.Expr
	hashed  bool // batches marked with KeyHashMeta carry their key hashes (Edge.Hashed)
	maxPar  int
	hashes  []uint64
	rows    [][]int32 // per target, the rows of the batch being split (reused)
	owner   []int32   // per key group, its target
	// sink is set instead of targets at the end of a graph.
	sink Emitter
	m    *opMetrics // of the last operator: time blocked on full queues is its backpressure
	side int        // index of the edge at the receiving stage
	also []*router  // further outgoing edges of a fanned-out stage (see fanout.go)
}

func (r *router) send(target int, m Message) error {
	m.ch = r.chIdx[target]
	m.Side = r.side
	t := r.targets[target]
	in := t.ins[m.ch].ch
	if m.Rec != nil {
		m.bytes = batchBytes(m.Rec)
		ch := m.ch
		if err := r.tc.Job.Budget.acquire(r.tc.Ctx, m.bytes, func() bool { return t.starved(ch) }); err != nil {
			m.Rec.Release()
			return err
		}
	}
	select {
	case in <- m:
		t.wake()
		return nil
	default:
	}
	start := time.Now()
	defer func() { r.m.backpressureNanos.Add(int64(time.Since(start))) }()
	select {
	case in <- m:
		t.wake()
		return nil
	case <-r.tc.Ctx.Done():
		if m.Rec != nil {
			m.Rec.Release()
		}
		r.tc.Job.Budget.release(m.bytes)
		return r.tc.Ctx.Err()
	}
}

func (r *router) broadcast(m Message) error {
	for i := range r.targets {
		if err := r.send(i, m); err != nil {
			return err
		}
	}
	return nil
}

func (r *router) Emit(m Message) error {
	if len(r.also) > 0 {
		return r.fanOut(m)
	}
	return r.emit(m)
}

func (r *router) emit(m Message) error {
	if r.sink != nil {
		return r.sink.Emit(m)
	}
	switch m.Kind {
	case MsgWatermark, msgEnd, MsgSourceDone, MsgIdle, MsgControl:
		if m.Kind == MsgSourceDone && (r.part == PartHash || r.part == PartBroadcast) {
			return nil
		}
		return r.broadcast(m)
	}
	switch r.part {
	case partForward, PartGather:
		return r.send(0, m)
	case PartBroadcast:
		if m.Kind != MsgBatch {
			return nil // split order does not survive either
		}
		last := len(r.targets) - 1
		for i := range r.targets {
			if i < last {
				m.Rec.Retain() // one reference per receiver
			}
			if err := r.send(i, m); err != nil {
				if i < last {
					m.Rec.Release() // the reference meant for the last receiver
				}
				return err
			}
		}
		return nil
	case PartSplit:
		return r.send(int((m.Seq.Source+m.Seq.Split)%uint64(len(r.targets))), m)
	}
	// partHash
	if m.Kind != MsgBatch {
		return nil // split order does not survive a shuffle
	}
	if len(r.targets) == 1 {
		return r.send(0, m)
	}
	return r.shuffle(m)
}

func (r *router) end() error {
	for _, o := range r.also {
		if err := o.end(); err != nil {
			return err
		}
	}
	if r.sink != nil {
		return nil
	}
	return r.broadcast(Message{Kind: msgEnd})
}

// shuffle splits a batch by key group and sends each part to the subtask that owns it.
func (r *router) shuffle(m Message) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	var hs []uint64
	if r.hashed && CarriesKeyHashes(rec.Schema()) {
		hc, ok := rec.Column(int(rec.NumCols()) - 1).(*array.Uint64)
		if !ok {
			return rberr.New(rberr.Internal, "a hashed exchange got a batch without its key hash column")
		}
		hs = hc.Uint64Values()
	} else {
		cols, err := EvalColumns(r.tc.Eval, r.keys, rec)
		if err != nil {
			return err
		}
		if cap(r.hashes) < n {
			r.hashes = make([]uint64, n)
		}
		hs = r.hashes[:n]
		expr.HashColumns(cols, hs)
		ReleaseAll(cols)
	}
	p := len(r.targets)
	if len(r.owner) != r.maxPar || len(r.rows) != p {
		r.owner = make([]int32, r.maxPar)
		for kg := range r.owner {
			r.owner[kg] = int32(state.Subtask(kg, r.maxPar, p))
		}
		r.rows = make([][]int32, p)
	}
	for t := range r.rows {
		r.rows[t] = slices.Grow(r.rows[t][:0], n/p+n/8)
	}
	for i, h := range hs {
		t := r.owner[state.KeyGroup(h, r.maxPar)]
		r.rows[t] = append(r.rows[t], int32(i))
	}
	for t, rows := range r.rows {
		if len(rows) == 0 {
			continue
		}
		var part arrow.RecordBatch
		if len(rows) == n {
			rec.Retain()
			part = rec
		} else {
			var err error
			if part, err = TakeRows(r.tc.Eval, rec, rows); err != nil {
				return err
			}
		}
		if err := r.send(t, m.With(part)); err != nil {
			return err
		}
	}
	return nil
}

// KeyHashMeta is the schema metadata key of batches whose last column holds their rows'
// key hashes (see Edge.Hashed).
const KeyHashMeta = "riverbed.key_hash"

// CarriesKeyHashes reports whether batches of schema s carry their key hashes in their
// last column.
func CarriesKeyHashes(s *arrow.Schema) bool {
	return s.HasMetadata() && s.Metadata().FindKey(KeyHashMeta) >= 0
}

// TakeRows is the batch of the given rows of rec (valid indexes, any order).
func TakeRows(ec *expr.EvalCtx, rec arrow.RecordBatch, rows []int32) (arrow.RecordBatch, error) {
	cols, err := TakeColumns(ec, rec, rows)
	if err != nil {
		return nil, err
	}
	defer ReleaseAll(cols)
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(rows))), nil
}

// TakeColumns is the columns of the given rows of rec (valid indexes, any order): each
// gathered in one pass (gather.Rows), or by arrow's take for a type it does not cover
// (nested types, large strings).
func TakeColumns(ec *expr.EvalCtx, rec arrow.RecordBatch, rows []int32) ([]arrow.Array, error) {
	return TakeArrays(ec, rec.Columns(), rows)
}

// TakeArrays is TakeColumns over columns of one length.
func TakeArrays(ec *expr.EvalCtx, columns []arrow.Array, rows []int32) ([]arrow.Array, error) {
	cols := make([]arrow.Array, len(columns))
	take := gather.Rows
	if len(rows) >= 8*gather.Stretches(rows) {
		// Mostly whole stretches of rows (a filter keeping most of them): copied a
		// stretch at a time.
		take = gather.RunRows
	}
	var idx arrow.Array
	defer func() {
		if idx != nil {
			idx.Release()
		}
	}()
	for i, c := range columns {
		if gather.Covers(c.DataType()) {
			cols[i] = take(ec.Mem, c, rows)
			continue
		}
		if idx == nil {
			ib := array.NewInt32Builder(ec.Mem)
			ib.AppendValues(rows, nil)
			idx = ib.NewArray()
			ib.Release()
		}
		t, err := compute.TakeArray(ec.Ctx, c, idx)
		if err != nil {
			ReleaseAll(cols[:i])
			return nil, err
		}
		cols[i] = t
	}
	return cols, nil
}

// KeptRows evaluates a filter's predicate over rec and appends to rows the rows where it
// is true (not false, not null).
func KeptRows(ec *expr.EvalCtx, pred expr.Expr, rec arrow.RecordBatch, rows []int32) ([]int32, error) {
	d, err := pred.Eval(ec, rec)
	if err != nil {
		return rows, err
	}
	mask, err := expr.DatumToArray(ec, d, int(rec.NumRows()))
	if err != nil {
		return rows, err
	}
	defer mask.Release()
	return gather.Kept(mask.(*array.Boolean), rows), nil
}

// EvalColumns evaluates expressions over a batch into arrays of its length (their shared
// subexpressions, expr.Share, once).
func EvalColumns(ec *expr.EvalCtx, es []expr.Expr, rec arrow.RecordBatch) ([]arrow.Array, error) {
	if ec.StartSharing() {
		defer ec.EndSharing()
	}
	out := make([]arrow.Array, len(es))
	for i, e := range es {
		d, err := e.Eval(ec, rec)
		if err != nil {
			ReleaseAll(out[:i])
			return nil, err
		}
		a, err := expr.DatumToArray(ec, d, int(rec.NumRows()))
		if err != nil {
			ReleaseAll(out[:i])
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

func ReleaseAll(as []arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}

// budget bounds the bytes of batches queued in a job's channels (between operators and in
// its unread results). A sender acquires a batch's bytes before it queues it and the
// receiver gives them back; a sender waits while the budget is spent, unless the queue it
// sends to is empty (for a task's input channels: unless the task has nothing to read, see
// task.starved), so that a receiver always gets one batch, whatever its size, and a job
// cannot deadlock on its budget.
type budget struct {
	Mu    sync.Mutex
	Used  int64
	limit int64
	wake  chan struct{} // closed (and replaced) whenever bytes are given back
	// waiting counts senders blocked in acquire. A receiver that takes a message without
	// bytes (a watermark, a marker) may still have emptied the queue such a sender waits
	// for, so it wakes them too.
	waiting int
}

// DefaultBufferBytes is the buffer budget of a job whose plan does not set buffer_bytes.
const DefaultBufferBytes = 64 << 20

func newBudget(limit int64) *budget {
	if limit <= 0 {
		limit = DefaultBufferBytes
	}
	return &budget{limit: limit, wake: make(chan struct{})}
}

func (b *budget) acquire(ctx context.Context, n int64, empty func() bool) error {
	if b == nil || n <= 0 {
		return nil
	}
	for {
		b.Mu.Lock()
		if b.Used+n <= b.limit || empty() {
			b.Used += n
			b.Mu.Unlock()
			return nil
		}
		w := b.wake
		b.waiting++
		b.Mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
		}
		b.Mu.Lock()
		b.waiting--
		b.Mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// release gives back n bytes, and wakes waiting senders. Every message taken from a queue
// is released, with or without bytes: taking it may have emptied the queue a sender waits
// for.
func (b *budget) release(n int64) {
	if b == nil || n < 0 {
		return
	}
	b.Mu.Lock()
	if n == 0 && b.waiting == 0 {
		b.Mu.Unlock()
		return
	}
	b.Used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.Mu.Unlock()
}

// batchBytes estimates the memory a batch holds: the parts of its buffers that its rows
// use (a slice of a large batch counts only its own rows).
func batchBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	length, off := int64(d.Len()), int64(d.Offset())
	bufs := d.Buffers()
	var n int64
	if len(bufs) > 0 && bufs[0] != nil {
		n += (length + 7) / 8
	}
	switch d.DataType().ID() {
	case arrow.STRING, arrow.BINARY:
		n += 4 * (length + 1)
		if len(bufs) > 1 && bufs[1] != nil && length > 0 {
			offs := arrow.Int32Traits.CastFromBytes(bufs[1].Bytes())
			if int64(len(offs)) > off+length {
				n += int64(offs[off+length]) - int64(offs[off])
			}
		}
		return n
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		n += 8 * (length + 1)
		if len(bufs) > 1 && bufs[1] != nil && length > 0 {
			offs := arrow.Int64Traits.CastFromBytes(bufs[1].Bytes())
			if int64(len(offs)) > off+length {
				n += offs[off+length] - offs[off]
			}
		}
		return n
	}
	if fw, ok := d.DataType().(arrow.FixedWidthDataType); ok && d.DataType().ID() != arrow.DICTIONARY {
		n += (int64(fw.BitWidth())*length + 7) / 8
	} else {
		for _, b := range bufs[min(1, len(bufs)):] {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
			n += dataBytes(dict)
		}
	}
	return n
}
