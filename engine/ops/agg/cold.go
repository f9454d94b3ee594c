package agg

import (
	"encoding/binary"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// An updating group_by (changelog.go) over more groups than its memory cap holds keeps
// the least recently updated ones in a keyed spill store (state_backend="pebble"), as
// Flink keeps keyed state in RocksDB: each group under its encoded key (state.EncodeRow of
// the key columns), its value the encoded accumulator states, last update time and row
// count. The groups in memory are a cache of the hot ones:
//
//   - once the store holds groups, the rows of a batch whose groups are not in memory are
//     parked (park.go); when they are folded in, their keys are looked up in the store a
//     key range at a time, and the groups found there come back into memory; the store
//     keeps its copy (marked stored), overwritten when the group is evicted again, so
//     that a group read back is not also deleted;
//   - after the changes of a batch (or mini-batch, or key range of parked rows) are
//     emitted, when the table exceeds its limit, the groups updated longest ago go to the
//     store until half the limit is left, and the in-memory table is rebuilt from the
//     rest.
//
// A group in memory is the current one: scans of the store (checkpoints, expiry) skip the
// keys in memory. Checkpoints hold every group in ChangelogTable, whether in memory or in
// the store (read back a chunk at a time), so their format, their restores at another
// parallelism and read_savepoint are as without spilling. State expiry (TTL) scans the
// store too, and deletes the stored copies of the groups it drops from memory.

// coldChunk is the number of stored groups decoded at a time.
const coldChunk = 16 << 10

// minColdBytes is the least table an updating group_by spills from; a table with values
// out of line is measured after at least coldMeasureRows input rows (tests lower both).
// coldEvictHalf makes every eviction take half the groups (tests: groups in memory with
// stale copies in the store at checkpoints).
var (
	minColdBytes    int64 = MinSpillBytes
	coldMeasureRows int64 = 4096
	coldEvictHalf   bool
)

// coldGroups is the keyed store of an updating group_by.
type coldGroups struct {
	*keyed.ColdStore
	keyTypes []arrow.DataType
	accTypes []arrow.DataType
	clock    uint32 // batches seen: the use stamp of the groups a batch touches
	since    int64  // rows folded in since the table was last measured
	over     bool   // the last measure found the table over the cap: measure again
	evicted  int64  // groups ever written to the store
	thawed   int64  // groups ever read back from it
	key      []byte
	perGroup int64            // the table's bytes per group at its last measure
	tableMem int64            // the table's bytes at its last measure
	parked   parked           // rows waiting for their groups (park.go)
	batch    keyed.KeyedBatch // the entries of the groups being written (store)
	spare    changes          // the last key range's bookkeeping, for its memory (park.go)
	scratch  unparkScratch
	// rows ever parked, and times parked rows were folded in
	parkedRows, unparks int64
}

// newColdGroups returns the cold store of an updating group_by, or nil when its groups
// stay in memory: no cap, a backend that does not spill, a global aggregation, or a key
// type without a state encoding.
func newColdGroups(tc *runtime.TaskCtx, op string, keyTypes []arrow.DataType, aggs []Spec) *coldGroups {
	cs := keyed.NewColdStore(tc, op, "groups")
	if cs == nil || len(keyTypes) == 0 {
		return nil
	}
	for _, t := range keyTypes {
		if !state.Encodable(t) {
			return nil
		}
	}
	c := &coldGroups{ColdStore: cs, keyTypes: keyTypes}
	for _, f := range AccFields(aggs) {
		c.accTypes = append(c.accTypes, f.Type)
	}
	return c
}

// builders returns one builder per column of a stored group: keys, accumulator states,
// last update time, row count.
func (c *coldGroups) builders(mem memory.Allocator) []array.Builder {
	var bs []array.Builder
	for _, t := range c.keyTypes {
		bs = append(bs, array.NewBuilder(mem, t))
	}
	for _, t := range c.accTypes {
		bs = append(bs, array.NewBuilder(mem, t))
	}
	return append(bs, array.NewInt64Builder(mem), array.NewInt64Builder(mem))
}

// decode appends a stored group (key and value encodings) to bs (builders).
func (c *coldGroups) decode(key, val []byte, bs []array.Builder) error {
	nk := len(c.keyTypes)
	if _, err := state.DecodeRow(key, bs[:nk]); err != nil {
		return rberr.Wrap(rberr.Data, err, "%s: a group in its spill store", c.Op())
	}
	at, err := state.DecodeRow(val, bs[nk:len(bs)-2])
	if err != nil || len(val)-at != 16 {
		return rberr.New(rberr.Data, "%s: a damaged group in its spill store", c.Op())
	}
	bs[len(bs)-2].(*array.Int64Builder).Append(int64(binary.LittleEndian.Uint64(val[at:])))
	bs[len(bs)-1].(*array.Int64Builder).Append(int64(binary.LittleEndian.Uint64(val[at+8:])))
	return nil
}

// finishBuilders turns builders into key columns, accumulator columns, touched and rows.
func (c *coldGroups) finishBuilders(bs []array.Builder) (keys, accs []arrow.Array, touched, rows []int64) {
	cols := make([]arrow.Array, len(bs))
	for i, b := range bs {
		cols[i] = b.NewArray()
		b.Release()
	}
	nk, na := len(c.keyTypes), len(c.accTypes)
	touched = slices.Clone(cols[nk+na].(*array.Int64).Int64Values())
	rows = slices.Clone(cols[nk+na+1].(*array.Int64).Int64Values())
	cols[nk+na].Release()
	cols[nk+na+1].Release()
	return cols[:nk], cols[nk : nk+na], touched, rows
}

// thawKeys brings back into memory the stored groups of keys want (encoded, ascending,
// distinct, none in the table).
func (o *GroupByOp) thawKeys(want [][]byte) error {
	c := o.cold
	if c == nil || c.N == 0 || len(want) == 0 {
		return nil
	}
	bs := c.builders(o.tc.Eval.Mem)
	found := 0
	var read int64
	err := c.Store.GetKeys(want, func(i int, v []byte) error {
		found++
		read += int64(len(want[i]) + len(v))
		return c.decode(want[i], v, bs)
	})
	if err != nil {
		releaseBuilders(bs)
		return rberr.Wrap(rberr.KindOf(err), err, "%s: reading groups beyond state_memory_limit", o.Name)
	}
	if found == 0 {
		releaseBuilders(bs)
		return nil
	}
	c.thawed += int64(found)
	c.Read(read)
	k, a, touched, rows := c.finishBuilders(bs)
	defer runtime.ReleaseAll(k)
	defer runtime.ReleaseAll(a)
	ng := o.agg.NumGroups()
	if err := o.loadGroups(k, a, touched, rows); err != nil {
		return err
	}
	for g := ng; g < o.agg.NumGroups(); g++ {
		o.cl.stored[g] = true
	}
	return nil
}

func releaseBuilders(bs []array.Builder) {
	for _, b := range bs {
		b.Release()
	}
}

// loadGroups adds groups (their key and accumulator columns, last update times and row
// counts) to the table; none has a pending change.
func (o *GroupByOp) loadGroups(keys, accs []arrow.Array, touched, rows []int64) error {
	ids, err := o.agg.LoadGroups(o.tc.Eval.Ctx, keys, accs)
	if err != nil {
		return err
	}
	cl := &o.cl
	cl.grow(o.agg.NumGroups())
	for i, g := range ids {
		cl.rows[g] = rows[i]
		cl.emitted[g] = rows[i] > 0
		cl.touched[g] = touched[i]
		cl.used[g] = o.coldClock()
	}
	return nil
}

func (o *GroupByOp) coldClock() uint32 {
	if o.cold == nil {
		return 0
	}
	return o.cold.clock
}

// changesBytes is the memory of the changelog bookkeeping per group.
const changesBytes = 8 + 1 + 1 + 8 + 4

// measure is the table's memory (shown in the metrics), or ok false when a table with
// values out of line is not due for a measure: it is measured once the rows since its
// last measure reach a fourth of its groups, or when overCap found it over.
func (o *GroupByOp) measure() (mem int64, ok bool) {
	c := o.cold
	ng := o.agg.NumGroups()
	if !c.over && o.agg.VariableSize() && c.since < max(int64(ng)/4, coldMeasureRows) {
		return 0, false
	}
	c.since, c.over = 0, false
	mem = o.agg.MemBytes() + changesBytes*int64(ng)
	if ng > 0 {
		c.perGroup = mem / int64(ng)
	}
	c.tableMem = mem
	c.Show(mem + c.parked.bytes)
	return mem, true
}

// overCap says whether the table of a group_by with a spill store holds more than its
// share of the cap (a mini-batch then ends early, and freeze moves groups out).
func (o *GroupByOp) overCap() bool {
	if o.cold == nil {
		return false
	}
	mem, ok := o.measure()
	if ok && mem > o.cold.tableLimit() && mem >= minColdBytes {
		o.cold.over = true // freeze measures again, after the flush
		return true
	}
	return false
}

// freeze moves the groups updated longest ago to the store when the table exceeds the
// cap, leaving half the cap. Only between mini-batches: no group has a pending change.
func (o *GroupByOp) freeze() error {
	c := o.cold
	if c == nil || len(o.cl.list) > 0 {
		return nil
	}
	mem, ok := o.measure()
	if !ok {
		return nil
	}
	ng := o.agg.NumGroups()
	limit := c.tableLimit()
	if mem <= limit || mem < minColdBytes || ng == 0 {
		return nil
	}
	if err := c.Open(); err != nil {
		return err
	}
	per := float64(mem) / float64(ng)
	evict := min(ng, int(float64(mem-limit/2)/per)+1)
	if coldEvictHalf {
		evict = max(ng/2, 1)
	}
	// The evict groups used longest ago (of those last used in the cutoff batch, the
	// first by group id).
	stamps := slices.Clone(o.cl.used[:ng])
	slices.Sort(stamps)
	cutoff := stamps[evict-1]
	var cold, live []uint32
	for g := 0; g < ng; g++ {
		if o.cl.used[g] <= cutoff && len(cold) < evict {
			cold = append(cold, uint32(g))
		} else {
			live = append(live, uint32(g))
		}
	}
	if err := o.store(cold, nil); err != nil {
		return err
	}
	if err := o.rebuild(live); err != nil {
		return err
	}
	c.tableMem = o.agg.MemBytes() + changesBytes*int64(o.agg.NumGroups())
	o.showCold()
	return nil
}

// showCold shows the memory of the table (at its last measure) and of the parked rows in
// the metrics.
func (o *GroupByOp) showCold() { o.cold.Show(o.cold.tableMem + o.cold.parked.bytes) }

// store writes groups gids of the table to the store: through its memtables, or with sw,
// in key order through sw.
func (o *GroupByOp) store(gids []uint32, sw state.SortedWriter) error {
	c := o.cold
	keys, accs, err := o.agg.SaveGroups(o.tc.Eval.Mem, gids)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(keys)
	defer runtime.ReleaseAll(accs)
	// Through the memtables, a write of up to coldChunk groups at a time. The entries'
	// buffer is kept for the next write (a fold writes every group of its key range
	// back: allocating it afresh was a third of the bytes the group_by allocated).
	b := &c.batch
	b.Reset() // of anything a failed write left
	for i, g := range gids {
		if err := o.appendGroup(b, keys, accs, i, g); err != nil {
			return err
		}
		if sw != nil {
			continue
		}
		if err := c.Flush(b, coldChunk); err != nil {
			return err
		}
	}
	if sw != nil {
		return c.WriteSorted(b, sw)
	}
	return c.Flush(b, 0)
}

// appendGroup appends group g of the table, row i of its key and accumulator columns
// keys and accs, to b, as the store keeps it, and counts it as moved to the store.
func (o *GroupByOp) appendGroup(b *keyed.KeyedBatch, keys, accs []arrow.Array, i int, g uint32) error {
	var err error
	b.Key()
	if b.Buf, err = state.EncodeRow(b.Buf, keys, i); err == nil {
		b.Value()
		b.Buf, err = state.EncodeRow(b.Buf, accs, i)
	}
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
	}
	b.Buf = binary.LittleEndian.AppendUint64(b.Buf, uint64(o.cl.touched[g]))
	b.Buf = binary.LittleEndian.AppendUint64(b.Buf, uint64(o.cl.rows[g]))
	if !o.cl.stored[g] {
		o.cold.N++
	}
	o.cold.evicted++
	return nil
}

// rebuild replaces the table with one holding only groups live (a hash table cannot drop
// groups), carrying their bookkeeping.
func (o *GroupByOp) rebuild(live []uint32) error {
	fresh := o.newTable()
	var next changes
	next.expired = o.cl.expired
	if len(live) > 0 {
		mem := o.tc.Eval.Mem
		keys, accs, err := o.agg.SaveGroups(mem, live)
		if err != nil {
			fresh.Release()
			return err
		}
		ids, err := fresh.LoadGroups(o.tc.Eval.Ctx, keys, accs)
		runtime.ReleaseAll(keys)
		runtime.ReleaseAll(accs)
		if err != nil {
			fresh.Release()
			return err
		}
		next.grow(fresh.NumGroups())
		c := &o.cl
		for i, g := range ids {
			next.touched[g] = c.touched[live[i]]
			next.rows[g] = c.rows[live[i]]
			next.emitted[g] = c.emitted[live[i]]
			next.used[g] = c.used[live[i]]
			next.stored[g] = c.stored[live[i]]
		}
	}
	o.agg.Release()
	o.agg = fresh
	o.cl = next
	return nil
}

// forget deletes the stored copies of groups gids, which leave the table for good.
func (o *GroupByOp) forget(gids []uint32) error {
	c := o.cold
	if c == nil || c.Store == nil {
		return nil
	}
	var copies []uint32
	for _, g := range gids {
		if o.cl.stored[g] {
			copies = append(copies, g)
		}
	}
	if len(copies) == 0 {
		return nil
	}
	keys, err := o.agg.KeyColumns(o.tc.Eval.Mem, copies)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(keys)
	for i := range copies {
		if c.key, err = state.EncodeRow(c.key[:0], keys, i); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
		}
		if err := c.Store.DeleteKey(c.key); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: expiring groups beyond state_memory_limit", o.Name)
		}
	}
	c.N -= len(copies)
	return nil
}

// scanCold calls fn with the stored groups, coldChunk at a time, decoded into key and
// accumulator columns (released after fn), last update times and row counts, with the
// encoded key of each (fn may keep those). fn runs during the scan and must not call the
// store.
func (o *GroupByOp) scanCold(fn func(keys, accs []arrow.Array, touched, rows []int64, enc [][]byte) error) error {
	c := o.cold
	if c == nil || c.N == 0 {
		return nil
	}
	var bs []array.Builder
	var enc [][]byte
	give := func() error {
		k, a, touched, rows := c.finishBuilders(bs)
		bs = nil
		e := enc
		enc = nil
		// Skip the groups in memory: their stored copies are out of date.
		ids := make([]uint32, len(rows))
		o.agg.groups.Lookup(k, ids)
		var keep []int32
		for i, id := range ids {
			if id == keyed.NoGroup {
				keep = append(keep, int32(i))
			}
		}
		if len(keep) < len(ids) {
			cols := append(append([]arrow.Array{}, k...), a...)
			rec := array.NewRecordBatch(o.stateSchema(), cols, int64(len(ids)))
			runtime.ReleaseAll(cols)
			kept, err := runtime.TakeRows(o.tc.Eval, rec, keep)
			rec.Release()
			if err != nil {
				return err
			}
			taken := slices.Clone(kept.Columns())
			for _, col := range taken {
				col.Retain()
			}
			kept.Release()
			k, a = taken[:len(k)], taken[len(k):]
			t2, r2, e2 := make([]int64, len(keep)), make([]int64, len(keep)), make([][]byte, len(keep))
			for j, i := range keep {
				t2[j], r2[j], e2[j] = touched[i], rows[i], e[i]
			}
			touched, rows, e = t2, r2, e2
		}
		defer runtime.ReleaseAll(k)
		defer runtime.ReleaseAll(a)
		if len(rows) == 0 {
			return nil
		}
		return fn(k, a, touched, rows, e)
	}
	err := c.Store.ScanKeys(func(key, val []byte) error {
		if bs == nil {
			bs = c.builders(o.tc.Eval.Mem)
		}
		if err := c.decode(key, val, bs); err != nil {
			return err
		}
		enc = append(enc, slices.Clone(key))
		if len(enc) == coldChunk {
			return give()
		}
		return nil
	})
	if err == nil && len(enc) > 0 {
		return give()
	}
	if bs != nil {
		releaseBuilders(bs)
	}
	return err
}

// saveCold writes the stored groups to ChangelogTable, a chunk at a time.
func (o *GroupByOp) saveCold(b state.Backend) error {
	return o.scanCold(func(keys, accs []arrow.Array, touched, rows []int64, _ [][]byte) error {
		mem := o.tc.Eval.Mem
		n := len(rows)
		tc := keyed.Int64Column(mem, touched)
		defer tc.Release()
		rc := keyed.Int64Column(mem, rows)
		defer rc.Release()
		w := keyed.NewStateWriter(o.tc.Eval, o.Name, ChangelogTable, o.changelogStateSchema())
		cols := append(append(append([]arrow.Array{}, keys...), accs...), tc, rc)
		if err := w.AddColumns(cols, n, keyed.KeyGroups(keys, n, o.tc.MaxParallelism())); err != nil {
			w.Release()
			return err
		}
		return w.Write(b)
	})
}
