package agg

import (
	"bytes"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Once an updating group_by keeps groups in its spill store (cold.go), looking up each
// batch's missing groups there would read most of the store per batch: with many more
// groups than the cap holds, a batch misses thousands of groups, spread over every block
// of the store. Instead, the rows whose groups are not in memory are parked (a row takes
// a fifth of the memory of a group read back), and folded in once they fill their share
// of the cap, or have waited ParkWait, or a barrier, tick of expiry or the end of the input
// comes: their keys sorted, the groups are read back a key range at a time (a chunk the
// table has room for), the rows of each range folded in order of arrival, the changes
// emitted and the groups updated longest ago moved back to the store. One pass over the
// store then serves many batches.
//
// The rows of a key are folded in the order they came: a key whose rows are parked is not
// in memory, so its later rows are parked too. The changes of parked rows are emitted
// when they are folded in, as a mini-batch's: a group emits at most one -U/+U pair (or +I)
// per chunk however many parked rows it has.

// ParkWait is the longest rows wait parked (unless the mini-batch interval is longer:
// then they wait as long as the mini-batch).
const ParkWait = time.Second

// parked is the rows of an updating group_by waiting for their groups.
type parked struct {
	recs  []arrow.RecordBatch // the rows, by input batch, in order
	seqs  []runtime.Seq
	keys  []byte  // each row's encoded key, in order
	ends  []int32 // where each row's key ends in keys
	bytes int64   // the rows' memory, keys included
	since time.Time
}

func (p *parked) key(i int) []byte {
	at := int32(0)
	if i > 0 {
		at = p.ends[i-1]
	}
	return p.keys[at:p.ends[i]]
}

func (p *parked) release() {
	for _, r := range p.recs {
		r.Release()
	}
	*p = parked{}
}

// parkWait is how long rows may stay parked.
func (o *GroupByOp) parkWait() time.Duration { return max(o.MiniBatch, ParkWait) }

// parkLimit is the memory parked rows may take: three quarters of the table's share of
// the cap (the table has the rest, tableLimit: with keys spread evenly, few rows find
// their group in memory, and a larger share for the rows means fewer passes over the
// store: a fifth less time than half and half). Tests set parkBytes.
func (c *coldGroups) parkLimit() int64 {
	if parkBytes > 0 {
		return parkBytes
	}
	return max(c.TableLimit()*3/4, 1)
}

var parkBytes int64

// tableLimit is the memory the table of groups may take.
func (c *coldGroups) tableLimit() int64 { return max(c.TableLimit()-c.parkLimit(), 1) }

// park folds the rows of a batch (with key columns keys) whose groups are in memory and
// parks the others, folding the parked rows in once they fill their share of the cap.
func (o *GroupByOp) park(rec arrow.RecordBatch, keys []arrow.Array, seq runtime.Seq, out runtime.Emitter) error {
	n := int(rec.NumRows())
	ids := make([]uint32, n)
	o.agg.groups.Lookup(keys, ids)
	var hot, cold []int32
	for r, id := range ids {
		if id == keyed.NoGroup {
			cold = append(cold, int32(r))
		} else {
			hot = append(hot, int32(r))
		}
	}
	if len(hot) > 0 {
		if len(cold) == 0 {
			if err := o.foldFlush(rec, keys, seq, out); err != nil {
				return err
			}
		} else if err := o.foldRows(rec, hot, seq, func(sub arrow.RecordBatch, keys []arrow.Array) error {
			return o.foldFlush(sub, keys, seq, out)
		}); err != nil {
			return err
		}
	}
	if len(cold) == 0 {
		return nil
	}
	p := &o.cold.parked
	part, err := runtime.TakeRows(o.tc.Eval, rec, cold)
	if err != nil {
		return err
	}
	at := len(p.keys)
	for _, r := range cold {
		if p.keys, err = state.EncodeRow(p.keys, keys, int(r)); err != nil {
			part.Release()
			return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
		}
		p.ends = append(p.ends, int32(len(p.keys)))
	}
	if len(p.recs) == 0 {
		p.since = o.now()
	}
	p.recs = append(p.recs, part)
	p.seqs = append(p.seqs, seq)
	o.cold.parkedRows += int64(len(cold))
	p.bytes += keyed.RecordBytes(part) + int64(len(p.keys)-at) + 4*int64(len(cold))
	o.showCold()
	if p.bytes < o.cold.parkLimit() {
		return nil
	}
	return o.unpark(out)
}

// unparkDue folds the parked rows in when they have waited long enough.
func (o *GroupByOp) unparkDue(out runtime.Emitter) error {
	if o.cold == nil || len(o.cold.parked.recs) == 0 || o.now().Sub(o.cold.parked.since) < o.parkWait() {
		return nil
	}
	return o.unpark(out)
}

// unpark folds the parked rows into their groups, a key range at a time: the range's
// groups read back from the store in one ordered pass, its rows folded in their order of
// arrival, the changes emitted and the table brought back within its limit.
func (o *GroupByOp) unpark(out runtime.Emitter) error {
	c := o.cold
	if c == nil || len(c.parked.recs) == 0 {
		return nil
	}
	p := c.parked
	c.parked = parked{}
	defer p.release()
	c.unparks++
	// The distinct keys in order, and each row's place among them.
	rows := len(p.ends)
	order := make([]int32, rows)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(p.key(int(a)), p.key(int(b))) })
	rank := make([]int32, rows)
	var want [][]byte
	for j, i := range order {
		if k := p.key(int(i)); j == 0 || !bytes.Equal(k, want[len(want)-1]) {
			want = append(want, k)
		}
		rank[i] = int32(len(want) - 1)
	}
	// A chunk of groups takes at most half the table's limit.
	per := c.perGroup
	if per <= 0 {
		per = 256
	}
	chunk := max(int(c.tableLimit()/2/per), 1024)
	if minColdBytes == 0 {
		chunk = len(want) // tests: every group spills anyway
	}
	for lo := 0; lo < len(want); lo += chunk {
		hi := min(lo+chunk, len(want))
		if err := o.thawKeys(want[lo:hi]); err != nil {
			return err
		}
		first := 0
		for i, part := range p.recs {
			n := int(part.NumRows())
			var take []int32
			for r := range n {
				if k := rank[first+r]; int(k) >= lo && int(k) < hi {
					take = append(take, int32(r))
				}
			}
			first += n
			if len(take) == 0 {
				continue
			}
			err := o.foldRows(part, take, p.seqs[i], func(sub arrow.RecordBatch, keys []arrow.Array) error {
				return o.fold(sub, keys, p.seqs[i])
			})
			if err != nil {
				return err
			}
		}
		if err := o.flushFreeze(out); err != nil {
			return err
		}
	}
	o.showCold()
	return nil
}

// foldRows calls fold with rows take of rec and their key columns.
func (o *GroupByOp) foldRows(rec arrow.RecordBatch, take []int32, seq runtime.Seq, fold func(arrow.RecordBatch, []arrow.Array) error) error {
	sub := rec
	if len(take) < int(rec.NumRows()) {
		var err error
		if sub, err = runtime.TakeRows(o.tc.Eval, rec, take); err != nil {
			return err
		}
		defer sub.Release()
	}
	keys, err := runtime.EvalColumns(o.tc.Eval, o.agg.keys, sub)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
	}
	defer runtime.ReleaseAll(keys)
	return fold(sub, keys)
}
