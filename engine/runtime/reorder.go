package runtime

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
)

// reorderOp restores source order (source ordinal, split, chunk) after parallel reading,
// so that an unshuffled pipeline returns rows in the order of its inputs, as a DataFrame
// library would. It buffers at most the splits that are in flight ahead of the oldest one.
type reorderOp struct {
	BaseOp
	ordinals []int       // source ordinals feeding this operator, ascending
	counts   map[int]int // splits per ordinal; -1 until a msgSourceDone tells
	pos      int         // index into ordinals
	split    int
	buffered map[Seq][]Message
	done     map[Seq]bool
	pending  int64 // a watermark held back until the batches before it are emitted
}

func NewReorderOp(ordinals []int, counts map[int]int) *reorderOp {
	c := map[int]int{}
	for k, v := range counts {
		c[k] = v
	}
	sort.Ints(ordinals)
	return &reorderOp{ordinals: ordinals, counts: c, buffered: map[Seq][]Message{}, done: map[Seq]bool{}, pending: math.MinInt64}
}

// ProcessWatermark holds a watermark back while batches that arrived before it are still
// buffered: emitting it first would make them late downstream.
func (o *reorderOp) ProcessWatermark(wm int64, out Emitter) error {
	o.pending = max(o.pending, wm)
	return o.releaseWatermark(out)
}

func (o *reorderOp) releaseWatermark(out Emitter) error {
	if len(o.buffered) > 0 || o.pending == math.MinInt64 {
		return nil
	}
	wm := o.pending
	o.pending = math.MinInt64
	return out.Emit(Message{Kind: MsgWatermark, N: wm})
}

func (o *reorderOp) current() (Seq, bool) {
	if o.pos >= len(o.ordinals) {
		return Seq{}, false
	}
	return MakeSeq(o.ordinals[o.pos], int64(o.split), 0), true
}

func (o *reorderOp) ProcessBatch(m Message, out Emitter) error {
	if cur, ok := o.current(); ok && SplitOf(m.Seq) == cur {
		return out.Emit(m)
	}
	s := SplitOf(m.Seq)
	o.buffered[s] = append(o.buffered[s], m)
	return nil
}

func (o *reorderOp) ProcessMarker(m Message, out Emitter) error {
	switch m.Kind {
	case MsgSplitDone:
		o.done[SplitOf(m.Seq)] = true
	case MsgSourceDone:
		o.counts[int(m.Seq.Source)] = int(m.N)
	}
	if err := o.advance(out); err != nil {
		return err
	}
	return o.releaseWatermark(out)
}

// advance moves past every completed split, flushing the batches buffered for the next.
func (o *reorderOp) advance(out Emitter) error {
	for {
		if o.pos < len(o.ordinals) {
			if c, ok := o.counts[o.ordinals[o.pos]]; ok && c >= 0 && o.split >= c {
				o.pos++
				o.split = 0
				if err := o.flushCurrent(out); err != nil {
					return err
				}
				continue
			}
		}
		cur, ok := o.current()
		if !ok || !o.done[cur] {
			return nil
		}
		delete(o.done, cur)
		if err := out.Emit(Message{Kind: MsgSplitDone, Seq: cur}); err != nil {
			return err
		}
		o.split++
		if err := o.flushCurrent(out); err != nil {
			return err
		}
	}
}

func (o *reorderOp) flushCurrent(out Emitter) error {
	cur, ok := o.current()
	if !ok {
		return nil
	}
	ms := o.buffered[cur]
	delete(o.buffered, cur)
	for i, m := range ms {
		if err := out.Emit(m); err != nil {
			for _, rest := range ms[i+1:] {
				rest.Rec.Release()
			}
			return err
		}
	}
	return nil
}

// ProcessControl emits every buffered batch before a checkpoint barrier passes: rows that
// came before the barrier must leave before it (a restore does not read them again), so
// source order is kept only between barriers.
func (o *reorderOp) ProcessControl(m Message, out Emitter) error {
	if _, ok := m.Ctl.(Barrier); ok {
		if err := o.Finish(out); err != nil {
			return err
		}
	}
	return out.Emit(m)
}

func (o *reorderOp) Finish(out Emitter) error {
	// Everything has arrived; emit what is left in order (only after a source stopped early).
	keys := make([]Seq, 0, len(o.buffered))
	for k := range o.buffered {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
	for _, k := range keys {
		for _, m := range o.buffered[k] {
			if err := out.Emit(m); err != nil {
				return err
			}
		}
		delete(o.buffered, k)
	}
	return o.releaseWatermark(out)
}

func (o *reorderOp) Close() {
	for _, ms := range o.buffered {
		for _, m := range ms {
			m.Rec.Release()
		}
	}
	o.buffered = nil
}

// EmitSliced emits rec in slices of at most batchSize rows; it consumes rec.
func EmitSliced(rec arrow.RecordBatch, batchSize int, out Emitter) error {
	defer rec.Release()
	n := rec.NumRows()
	for off := int64(0); off < n; off += int64(batchSize) {
		end := min(off+int64(batchSize), n)
		if err := out.Emit(Message{Kind: MsgBatch, Rec: rec.NewSlice(off, end), Seq: SeqUnordered}); err != nil {
			return err
		}
	}
	return nil
}
