package agg

import (
	"bytes"
	"cmp"
	"encoding/binary"
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
// comes: their keys sorted, the groups are read back a key range at a time into a table
// of their own, the rows of each range folded in in order of arrival, the changes
// emitted, and the range's groups written back. One pass over the store then serves many
// batches, and the groups go back in key order, as one table the store ingests per fold
// (state.SortedWriter): written through its memtables, they made a small table per
// memtable, and each compaction of them rewrote the store for little (uniform keys over
// ten times the cap: 26.5 s -> 18.3 s). A group with admitHits rows in one fold stays in
// memory instead, and the table sends the groups it used longest ago to the store: hot
// keys stay in memory as their set changes.
//
// The rows of a key are folded in the order they came: a key whose rows are parked is not
// in memory, so its later rows are parked too. The changes of parked rows are emitted
// when they are folded in, as a mini-batch's: a group emits at most one -U/+U pair (or +I)
// per fold however many parked rows it has.

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

// keyRef is a parked row with its key's first 16 bytes as two integers (zeros past a
// shorter key's end).
type keyRef struct {
	hi, lo uint64
	n, row int32 // the key's length, the row
}

// keyOrder is the parked rows in the order of their keys. The sort compares the keys'
// first 16 bytes as two integers and the keys themselves only when those are equal
// (comparing the keys each time took three times as long).
func (p *parked) keyOrder(refs []keyRef) []keyRef {
	refs = slices.Grow(refs[:0], len(p.ends))[:len(p.ends)]
	var w [16]byte
	for i := range refs {
		k := p.key(i)
		n := copy(w[:], k)
		clear(w[n:])
		refs[i] = keyRef{binary.BigEndian.Uint64(w[:8]), binary.BigEndian.Uint64(w[8:]), int32(len(k)), int32(i)}
	}
	slices.SortFunc(refs, func(a, b keyRef) int {
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		if a.n <= 16 && b.n <= 16 { // the keys are their first bytes: the shorter first
			return cmp.Compare(a.n, b.n)
		}
		return bytes.Compare(p.key(int(a.row)), p.key(int(b.row)))
	})
	return refs
}

func (p *parked) release() {
	for _, r := range p.recs {
		r.Release()
	}
	*p = parked{}
}

// unparkScratch is the memory of a fold of parked rows (unpark), kept for the next.
type unparkScratch struct {
	refs          []keyRef
	rank, byRange []int32
	want          [][]byte
}

// parkWait is how long rows may stay parked.
func (o *GroupByOp) parkWait() time.Duration { return max(o.MiniBatch, ParkWait) }

// The operator's share of the cap (ColdStore.TableLimit) is split: three quarters for
// parked rows (parkLimit), an eighth for the table of groups in memory (tableLimit) and
// an eighth for the groups of the key range being folded in (chunkLimit). With keys
// spread evenly few rows find their group in memory, and a larger share for parked rows
// means fewer passes over the store (five eighths took a tenth longer). Tests set
// parkBytes and tableBytes.
func (c *coldGroups) parkLimit() int64 {
	if parkBytes > 0 {
		return parkBytes
	}
	return max(c.TableLimit()*3/4, 1)
}

var parkBytes, tableBytes int64

func (c *coldGroups) tableLimit() int64 {
	if tableBytes > 0 {
		return tableBytes
	}
	return max(c.TableLimit()/8, 1)
}

func (c *coldGroups) chunkLimit() int64 { return max(c.TableLimit()/8, 1) }

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
	if p.bytes < o.cold.parkLimit() {
		o.showCold()
		return nil
	}
	return o.unpark(out)
}

// unparkDue folds the parked rows in, on a tick, once the first has waited half of
// parkWait: ticks come at least every half of it (the mini-batch's, or TickInterval's),
// so no row waits longer than parkWait.
func (o *GroupByOp) unparkDue(out runtime.Emitter) error {
	if o.cold == nil || len(o.cold.parked.recs) == 0 || o.now().Sub(o.cold.parked.since) < o.parkWait()/2 {
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
	defer func() {
		// The next rows' keys go to the same memory.
		keys, ends := p.keys[:0], p.ends[:0]
		p.release()
		if len(c.parked.recs) == 0 {
			c.parked.keys, c.parked.ends = keys, ends
		}
	}()
	c.unparks++
	// The distinct keys in order, and each row's place among them.
	rows := len(p.ends)
	sc := &c.scratch
	sc.refs = p.keyOrder(sc.refs)
	order := sc.refs
	sc.rank = slices.Grow(sc.rank[:0], rows)[:rows]
	rank := sc.rank
	want := sc.want[:0]
	defer func() { sc.want = want[:0]; clear(want) }() // no hold on the keys after
	for j, r := range order {
		i := r.row
		if k := p.key(int(i)); j == 0 || !bytes.Equal(k, want[len(want)-1]) {
			want = append(want, k)
		}
		rank[i] = int32(len(want) - 1)
	}
	per := c.perGroup
	if per <= 0 {
		per = 256
	}
	chunk := max(int(c.chunkLimit()/per), 1024)
	if minColdBytes == 0 {
		chunk = len(want) // tests: every group spills anyway
	}
	// The rows of each key range, in order of arrival (a counting sort by range).
	ranges := (len(want) + chunk - 1) / chunk
	start := make([]int32, ranges+1) // (a few dozen)
	for _, k := range rank {
		start[int(k)/chunk+1]++
	}
	for i := range ranges {
		start[i+1] += start[i]
	}
	sc.byRange = slices.Grow(sc.byRange[:0], rows)[:rows]
	byRange := sc.byRange
	fill := slices.Clone(start[:ranges])
	for r, k := range rank {
		byRange[fill[int(k)/chunk]] = int32(r)
		fill[int(k)/chunk]++
	}
	sw, err := c.Store.PutSorted()
	if err != nil {
		return c.Wrap(err, "writing")
	}
	defer sw.Abort()
	for i, lo := 0, 0; lo < len(want); i, lo = i+1, lo+chunk {
		hi := min(lo+chunk, len(want))
		if err := o.foldThrough(&p, byRange[start[i]:start[i+1]], want[lo:hi], sw, out); err != nil {
			return err
		}
	}
	if err := sw.Finish(); err != nil {
		return c.Wrap(err, "writing")
	}
	if err := o.freeze(); err != nil { // hot groups joined the table
		return err
	}
	o.showCold()
	return nil
}

// foldThrough folds parked rows rows (their places among the parked rows, ascending)
// into their groups, of keys want, in a table of their own: the stored groups read back,
// the rows folded in batch by batch, the changes emitted, and every group of the range
// written back to the store through sw, in key order. The table in memory is left as it
// was.
func (o *GroupByOp) foldThrough(p *parked, rows []int32, want [][]byte, sw state.SortedWriter, out runtime.Emitter) error {
	hot, hotCl := o.agg, o.cl
	o.agg, o.cl = o.newTable(), o.cold.spare.reuse(hotCl.expired)
	defer func() {
		o.agg.Release()
		for _, b := range o.cl.before {
			b.Release()
		}
		o.cold.spare = o.cl // its memory serves the next key range
		o.agg, o.cl = hot, hotCl
	}()
	if err := o.thawKeys(want); err != nil {
		return err
	}
	first := int32(0)
	take := make([]int32, 0, len(rows))
	for i, part := range p.recs {
		if len(rows) == 0 {
			break
		}
		n := int32(part.NumRows())
		take = take[:0]
		for len(rows) > 0 && rows[0] < first+n {
			take = append(take, rows[0]-first)
			rows = rows[1:]
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
	if err := o.flush(out); err != nil {
		return err
	}
	// Groups with admitHits rows or more are hot: they join the table in memory (which
	// then sends the groups used longest ago to the store); the others go back to the
	// store.
	ng := o.agg.NumGroups()
	var admit, back []uint32
	for g := range uint32(ng) {
		if o.cl.hits[g] >= admitHits {
			admit = append(admit, g)
		} else {
			back = append(back, g)
		}
	}
	if len(back) > 0 {
		if err := o.store(back, sw); err != nil {
			return err
		}
	}
	if len(admit) == 0 {
		return nil
	}
	keys, accs, err := o.agg.SaveGroups(o.tc.Eval.Mem, admit)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(keys)
	defer runtime.ReleaseAll(accs)
	ids, err := hot.LoadGroups(o.tc.Eval.Ctx, keys, accs)
	if err != nil {
		return err
	}
	hotCl.grow(hot.NumGroups())
	for i, g := range ids {
		a := admit[i]
		hotCl.rows[g] = o.cl.rows[a]
		hotCl.emitted[g] = o.cl.emitted[a]
		hotCl.touched[g] = o.cl.touched[a]
		hotCl.used[g] = o.cold.clock
		hotCl.stored[g] = o.cl.stored[a]
	}
	o.cold.over = true // measure the table again
	return nil
}

// admitHits is the rows a parked group must have had in one fold for it to stay in
// memory: a key that common is likely to come again soon.
const admitHits = 4

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
