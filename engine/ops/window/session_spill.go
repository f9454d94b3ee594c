package window

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Session windows beyond memory. A key's sessions are all in memory or all in a keyed
// spill store (state_backend="pebble" with state_memory_limit), as Flink keeps window
// state and timers in RocksDB. A stored key has two entries:
//
//   - its sessions, under entryPrefix, the time the first of them is due (the heap's
//     time: its end, or end+lateness once fired) in an order-keeping encoding, the key's
//     hash (the key table's) and its encoding (state.EncodeRow of the key columns): their
//     count, then for each its start, end, whether it fired and its encoded accumulator
//     states;
//   - an index entry under indexPrefix, the key's hash and encoding: the due time of its
//     sessions' entry.
//
// The sessions, the bulk of the bytes, are thus kept in the order they come due: the keys
// evicted (those used longest ago among the ones in memory, whose sessions end first) come
// due about when the ones evicted last do, so each eviction's entries mostly land after
// those stored, and a watermark reads the due ones by one scan from the front, values and
// all, where sessions stored by key would be written all over the store (each flush of
// the store overlapping all of it, to be merged by compactions) and read back by a seek
// each. Only the small index entries are spread over the store by key.
//
// When the tables outgrow their share of the cap after a batch, the keys updated longest
// ago go to the store (every session of each) until half of it is left, and the tables
// are rebuilt from the rest (compact). A batch first brings back the sessions of its
// keys that are in the store (those a keyed.KeyFilter of the stored keys' hashes may
// hold: most keys of a batch may be new or have had their sessions fired, and a lookup
// that finds nothing costs as much as one that does), through their index entries; a
// watermark first brings back, a chunk of keys at a time, those whose sessions are due,
// and fires and drops them as in memory. Checkpoints hold every session, stored or not,
// in SessionsTable, so their format, restores at another parallelism and read_savepoint
// are as without spilling.
//
// Whatever the backend, the key table is rebuilt once most of its keys have no session
// left (a stream of ever new keys would otherwise grow it without end).

const (
	entryPrefix = 'u'
	indexPrefix = 'i'
)

// entryKeyAt is where the hash starts in an entry's key (after the prefix and due time);
// decode takes an entry's key from one byte before it (entryKey[entryKeyAt-1:]), so that
// the hash and encoding are where they are in an index key.
const entryKeyAt = 9

// sessionChunk is the number of keys a watermark brings back from the store at a time;
// sessionFilterKeys the keys the first filter of stored keys is sized for.
var (
	sessionChunk      = 16 << 10
	sessionFilterKeys = 8 << 10
)

// minSessionSpillBytes is the least state session windows spill from; sessionSpillAll
// (tests) moves every key to the store after each batch and watermark, however small.
var (
	minSessionSpillBytes int64 = agg.MinSpillBytes
	sessionSpillAll      bool
)

// Bookkeeping bytes of a session in memory (its struct, its place in its key's list and
// a heap entry) and of a key with sessions (its map entry and list).
const (
	sessionBytes    = 48 + 8 + 24
	sessionKeyBytes = 64
)

// coldSessions is the keyed store of a session window aggregation.
type coldSessions struct {
	*keyed.ColdStore
	keyTypes []arrow.DataType
	accTypes []arrow.DataType
	clock    uint32 // batches seen: the use stamp of the keys a batch touches
	since    int64  // rows folded in (and sessions read back) since the tables were last measured
	spills   int    // evictions
	key      []byte
}

// newColdSessions returns the cold store of a session aggregation, or nil when its state
// stays in memory: no cap, a backend that does not spill, no keys, a key or state type
// without a state encoding, or the late-rows output (it keeps no sessions).
func newColdSessions(tc *runtime.TaskCtx, o *SessionAggOp) *coldSessions {
	cs := keyed.NewColdStore(tc, o.Name, "sessions")
	if cs == nil || len(o.KeyTypes) == 0 || o.LateOutput {
		return nil
	}
	c := &coldSessions{ColdStore: cs, keyTypes: o.KeyTypes}
	c.Filter = keyed.NewKeyFilter(sessionFilterKeys)
	for _, f := range agg.AccFields(o.Aggs) {
		c.accTypes = append(c.accTypes, f.Type)
	}
	for _, t := range append(slices.Clone(c.keyTypes), c.accTypes...) {
		if !state.Encodable(t) {
			return nil
		}
	}
	return c
}

// timeKey appends t in an encoding whose byte order is t's order.
func timeKey(dst []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t)^(1<<63))
}

// liveSessions is the number of sessions in memory (ids in use).
func (o *SessionAggOp) liveSessions() int { return int(o.nextID) - len(o.free) }

// memBytes is the memory of the tables, the bookkeeping of the sessions in memory and
// the filter of the stored keys.
func (o *SessionAggOp) memBytes() int64 {
	n := o.keyAgg.MemBytes() + o.state.MemBytes() + sessionBytes*int64(o.liveSessions()) + sessionKeyBytes*int64(o.sessions.n) + 24*int64(cap(o.sessions.lists))
	if o.cold != nil {
		n += o.cold.Filter.MemBytes()
	}
	return n
}

// stamp marks key k used by the current batch.
func (o *SessionAggOp) stamp(k uint32) {
	if o.cold == nil {
		return
	}
	for int(k) >= len(o.used) {
		o.used = append(o.used, 0)
	}
	o.used[k] = o.cold.clock
}

// checkCap is called after rows rows were folded in (or sessions fired): tables over
// their share of the cap send the keys used longest ago to the store until half of it
// is left. Without a store, the tables are rebuilt once most keys have no session.
func (o *SessionAggOp) checkCap(rows int) error {
	c := o.cold
	if c == nil {
		return o.maybeCompact()
	}
	c.since += int64(rows)
	live := o.liveSessions()
	if !sessionSpillAll && o.state.VariableSize() && c.since < max(int64(live)/4, 4096) {
		return o.maybeCompact()
	}
	c.since = 0
	mem := o.memBytes()
	c.Show(mem)
	limit := c.TableLimit()
	if o.sessions.n == 0 || !sessionSpillAll && (mem <= limit || mem < minSessionSpillBytes) {
		return o.maybeCompact()
	}
	keys := o.sessions.keys()
	evict := len(keys)
	if !sessionSpillAll {
		per := float64(mem) / float64(len(keys))
		evict = min(evict, int(float64(mem-limit/2)/per)+1)
	}
	sort.Slice(keys, func(a, b int) bool {
		ua, ub := o.usedOf(keys[a]), o.usedOf(keys[b])
		if ua != ub {
			return ua < ub
		}
		return keys[a] < keys[b]
	})
	if err := o.evict(keys[:evict]); err != nil {
		return err
	}
	if err := o.compact(); err != nil {
		return err
	}
	c.Show(o.memBytes())
	return nil
}

func (o *SessionAggOp) usedOf(k uint32) uint32 {
	if int(k) < len(o.used) {
		return o.used[k]
	}
	return 0
}

// maybeCompact rebuilds the tables once most of the key table's keys have no session
// in memory, or most session ids are free.
func (o *SessionAggOp) maybeCompact() error {
	const least = 4096
	if o.keyAgg.NumGroups() > 2*o.sessions.n+least || int(o.nextID) > 2*o.liveSessions()+least {
		return o.compact()
	}
	return nil
}

// evict writes the sessions of keys to the store and forgets them in memory.
func (o *SessionAggOp) evict(keys []uint32) error {
	c := o.cold
	if err := c.Open(); err != nil {
		return err
	}
	mem := o.tc.Eval.Mem
	var ids []uint32
	for _, k := range keys {
		for _, s := range o.sessions.of(k) {
			ids = append(ids, s.id)
		}
	}
	keyCols, err := o.keyAgg.KeyColumns(mem, keys)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(keyCols)
	_, accs, err := o.state.SaveGroups(mem, ids)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(accs)
	// The sessions' entries in one table of their own, ingested (evicted keys' sessions
	// come due about when the last ones evicted do, so the table seldom overlaps the
	// store's others); the index entries up to sessionChunk keys a write.
	var b, entries keyed.KeyedBatch
	hashes := o.keyAgg.Hashes()
	at := 0 // the first session of key i in ids and accs
	for i, k := range keys {
		c.Filter.Add(hashes[k])
		c.key = binary.BigEndian.AppendUint64(c.key[:0], hashes[k])
		if c.key, err = state.EncodeRow(c.key, keyCols, i); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
		}
		list := o.sessions.of(k)
		due := int64(math.MaxInt64)
		for _, s := range list {
			due = min(due, o.dueAt(s))
		}
		e := &entries
		e.Key()
		e.Buf = append(timeKey(append(e.Buf, entryPrefix), due), c.key...)
		e.Value()
		e.Buf = binary.AppendUvarint(e.Buf, uint64(len(list)))
		for j, s := range list {
			e.Buf = binary.LittleEndian.AppendUint64(e.Buf, uint64(s.start))
			e.Buf = binary.LittleEndian.AppendUint64(e.Buf, uint64(s.end))
			fired := byte(0)
			if s.fired {
				fired = 1
			}
			e.Buf = append(e.Buf, fired)
			if e.Buf, err = state.EncodeRow(e.Buf, accs, at+j); err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
			}
		}
		at += len(list)
		b.Key()
		b.Buf = append(append(b.Buf, indexPrefix), c.key...)
		b.Value()
		b.Buf = timeKey(b.Buf, due)
		if err := c.Flush(&b, 2*sessionChunk); err != nil {
			return err
		}
	}
	if err := c.Flush(&b, 0); err != nil {
		return err
	}
	sw, err := c.Store.PutSorted()
	if err != nil {
		return c.Wrap(err, "writing")
	}
	defer sw.Abort()
	if err := c.WriteSorted(&entries, sw); err != nil {
		return err
	}
	if err := sw.Finish(); err != nil {
		return c.Wrap(err, "writing")
	}
	for _, k := range keys {
		for _, s := range o.sessions.of(k) {
			s.dead = true
			o.release(s)
		}
		o.sessions.set(k, nil)
	}
	c.N += len(keys)
	c.spills++
	return c.Refilter([]byte{indexPrefix}, []byte{indexPrefix + 1}, 1)
}

// dueAt is the time of s's heap entry: its end, or once fired the end of its lateness.
func (o *SessionAggOp) dueAt(s *session) int64 {
	if s.fired {
		return s.end + o.Lateness
	}
	return s.end
}

// compact rebuilds the key table, the accumulators and the heap from the sessions in
// memory (hash tables and accumulator arrays do not shrink), renumbering keys and
// sessions.
func (o *SessionAggOp) compact() error {
	mem := o.tc.Eval.Mem
	keys := o.sessions.keys()
	keyAgg := agg.NewTable(o.Name, o.Keys, o.KeyTypes, nil)
	st := agg.NewTable(o.Name, nil, nil, o.Aggs)
	fail := func(err error) error {
		keyAgg.Release()
		st.Release()
		return err
	}
	var newKeys []uint32
	if len(keys) > 0 {
		cols, err := o.keyAgg.KeyColumns(mem, keys)
		if err != nil {
			return fail(err)
		}
		newKeys, err = keyAgg.ConsumeKeys(o.tc.Eval.Ctx, cols, len(keys))
		runtime.ReleaseAll(cols)
		if err != nil {
			return fail(err)
		}
	}
	var ids []uint32
	for _, k := range keys {
		for _, s := range o.sessions.of(k) {
			ids = append(ids, s.id)
		}
	}
	if len(ids) > 0 {
		_, accs, err := o.state.SaveGroups(mem, ids)
		if err != nil {
			return fail(err)
		}
		seq := make([]uint32, len(ids))
		for i := range seq {
			seq[i] = uint32(i)
		}
		err = st.LoadAccs(seq, accs)
		runtime.ReleaseAll(accs)
		if err != nil {
			return fail(err)
		}
	}
	var sessions keySessions
	var used []uint32
	if o.cold != nil {
		used = make([]uint32, len(keys))
	}
	o.ends = o.ends[:0]
	next := uint32(0)
	for i, k := range keys {
		list := o.sessions.of(k)
		nk := newKeys[i]
		for _, s := range list {
			s.key, s.id = nk, next
			next++
			o.ends = append(o.ends, sessionRef{end: o.dueAt(s), s: s, cleanup: s.fired})
		}
		sessions.set(nk, list)
		if used != nil {
			used[nk] = o.usedOf(k)
		}
	}
	heap.Init(&o.ends)
	o.keyAgg.Release()
	o.state.Release()
	o.keyAgg, o.state, o.sessions, o.used = keyAgg, st, sessions, used
	o.free, o.nextID = nil, next
	return nil
}

// thawBatch brings back the stored sessions of the keys of a batch (their ids) that have
// none in memory.
func (o *SessionAggOp) thawBatch(keyIDs []uint32) error {
	c := o.cold
	if c == nil || c.N == 0 {
		return nil
	}
	var missing []uint32
	seen := map[uint32]bool{}
	hashes := o.keyAgg.Hashes()
	for _, k := range keyIDs {
		if !o.sessions.has(k) && !seen[k] {
			seen[k] = true
			if c.Filter.Has(hashes[k]) {
				missing = append(missing, k)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	cols, err := o.keyAgg.KeyColumns(o.tc.Eval.Mem, missing)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(cols)
	index := make([][]byte, len(missing))
	for i, k := range missing {
		c.key = binary.BigEndian.AppendUint64(append(c.key[:0], indexPrefix), hashes[k])
		if c.key, err = state.EncodeRow(c.key, cols, i); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
		}
		index[i] = bytes.Clone(c.key)
	}
	slices.SortFunc(index, bytes.Compare)
	// The index entries found give the keys of the sessions' entries.
	var entries [][]byte
	err = c.Store.GetKeys(index, func(i int, v []byte) error {
		if len(v) != 8 {
			return rberr.New(rberr.Data, "%s: a damaged index entry in the store of its sessions", o.Name)
		}
		entries = append(entries, append(append([]byte{entryPrefix}, v...), index[i][1:]...))
		return nil
	})
	if err != nil {
		return c.Wrap(err, "reading the index of")
	}
	if len(entries) == 0 {
		return nil
	}
	slices.SortFunc(entries, bytes.Compare)
	bs := c.builders(o)
	var found [][]byte
	var read int64
	err = c.Store.GetKeys(entries, func(i int, v []byte) error {
		found = append(found, entries[i])
		read += int64(len(entries[i]) + len(v))
		return c.decode(entries[i][entryKeyAt-1:], v, bs)
	})
	if err != nil {
		releaseBuilders(bs)
		return c.Wrap(err, "reading")
	}
	if len(found) != len(entries) {
		releaseBuilders(bs)
		return rberr.New(rberr.Data, "%s: %d index entries without their sessions in the store of its sessions", o.Name, len(entries)-len(found))
	}
	return o.thaw(bs, found, read, false)
}

// errEnough ends a scan of entries that found a chunk of keys.
var errEnough = errors.New("enough entries")

// thawDue brings back the sessions of up to sessionChunk keys whose sessions are due at
// watermark wm, in one scan of the front of the store, and reports whether any was due.
func (o *SessionAggOp) thawDue(wm int64) (bool, error) {
	c := o.cold
	if c == nil || c.N == 0 {
		return false, nil
	}
	lo := []byte{entryPrefix}
	hi := []byte{entryPrefix + 1}
	if wm < math.MaxInt64-1 {
		hi = timeKey([]byte{entryPrefix}, wm+2) // due when its time-1 <= wm
	}
	bs := c.builders(o)
	var found [][]byte
	var read int64
	err := c.Store.ScanRange(lo, hi, func(k, v []byte) error {
		if len(k) < entryKeyAt+8 {
			return rberr.New(rberr.Data, "%s: a damaged entry in the store of its sessions", o.Name)
		}
		found = append(found, bytes.Clone(k))
		read += int64(len(k) + len(v))
		if err := c.decode(k[entryKeyAt-1:], v, bs); err != nil {
			return err
		}
		if len(found) == sessionChunk {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		releaseBuilders(bs)
		return false, c.Wrap(err, "reading")
	}
	if len(found) == 0 {
		releaseBuilders(bs)
		return false, nil
	}
	// The entries read are all those up to the last one: one range deletion, which later
	// scans pass over at once.
	if err := c.Store.DeleteRange(lo, append(bytes.Clone(found[len(found)-1]), 0)); err != nil {
		releaseBuilders(bs)
		return false, c.Wrap(err, "deleting")
	}
	return true, o.thaw(bs, found, read, true)
}

// builders returns one builder per column of decoded sessions: keys, start, end,
// fired, accumulator states.
func (c *coldSessions) builders(o *SessionAggOp) []array.Builder {
	mem := o.tc.Eval.Mem
	var bs []array.Builder
	for _, t := range c.keyTypes {
		bs = append(bs, array.NewBuilder(mem, t))
	}
	bs = append(bs, array.NewInt64Builder(mem), array.NewInt64Builder(mem), array.NewBooleanBuilder(mem))
	for _, t := range c.accTypes {
		bs = append(bs, array.NewBuilder(mem, t))
	}
	return bs
}

// decode appends the sessions stored with value val to bs (builders); key holds the key's
// hash at [1:9] and its encoding from 9 on (an index key, or an entry's key from
// entryKeyAt-1).
func (c *coldSessions) decode(key, val []byte, bs []array.Builder) error {
	nk := len(c.keyTypes)
	damaged := rberr.New(rberr.Data, "%s: damaged sessions in the store of its sessions", c.Op())
	n, at := binary.Uvarint(val)
	if at <= 0 || n == 0 || n > uint64(len(val)) || len(key) < 9 {
		return damaged
	}
	for range n {
		if _, err := state.DecodeRow(key[9:], bs[:nk]); err != nil {
			return rberr.Wrap(rberr.Data, err, "%s: a session's key in the store of its sessions", c.Op())
		}
		if len(val)-at < 17 {
			return damaged
		}
		bs[nk].(*array.Int64Builder).Append(int64(binary.LittleEndian.Uint64(val[at:])))
		bs[nk+1].(*array.Int64Builder).Append(int64(binary.LittleEndian.Uint64(val[at+8:])))
		bs[nk+2].(*array.BooleanBuilder).Append(val[at+16] == 1)
		at += 17
		m, err := state.DecodeRow(val[at:], bs[nk+3:])
		if err != nil {
			return rberr.Wrap(rberr.Data, err, "%s: a session's state in the store of its sessions", c.Op())
		}
		at += m
	}
	if at != len(val) {
		return damaged
	}
	return nil
}

// finish turns builders into the columns of SessionsTable: keys, bounds, accumulator
// states (and the bounds as int64s).
func (c *coldSessions) finish(bs []array.Builder) (cols []arrow.Array, starts, ends []int64, fired []bool) {
	cols = make([]arrow.Array, len(bs))
	for i, b := range bs {
		cols[i] = b.NewArray()
		b.Release()
	}
	nk := len(c.keyTypes)
	starts = slices.Clone(cols[nk].(*array.Int64).Int64Values())
	ends = slices.Clone(cols[nk+1].(*array.Int64).Int64Values())
	fb := cols[nk+2].(*array.Boolean)
	fired = make([]bool, fb.Len())
	for i := range fired {
		fired[i] = fb.Value(i)
	}
	return cols, starts, ends, fired
}

// thaw brings back into memory the sessions decoded into bs from the entries found (their
// keys), read bytes in all, and deletes their index entries and, unless deleted, the
// entries from the store.
func (o *SessionAggOp) thaw(bs []array.Builder, found [][]byte, read int64, deleted bool) error {
	c := o.cold
	c.Read(read)
	cols, starts, ends, fired := c.finish(bs)
	defer runtime.ReleaseAll(cols)
	nk := len(c.keyTypes)
	keyIDs, err := o.addSessions(cols[:nk], starts, ends, fired, cols[nk+3:])
	if err != nil {
		return err
	}
	for _, k := range keyIDs {
		o.stamp(k)
	}
	var dels [][]byte
	if !deleted {
		dels = found
	}
	for _, k := range found {
		dels = append(dels, append([]byte{indexPrefix}, k[entryKeyAt:]...))
	}
	if err := c.Store.DeleteKeys(dels); err != nil {
		return c.Wrap(err, "deleting")
	}
	for _, k := range found {
		c.Filter.Remove(binary.BigEndian.Uint64(k[entryKeyAt:]))
	}
	c.N -= len(found)
	c.since += int64(len(starts)) // sessions back in memory count as rows folded in
	return nil
}

func releaseBuilders(bs []array.Builder) {
	for _, b := range bs {
		b.Release()
	}
}

// saveCold writes the stored sessions to SessionsTable, a chunk at a time.
func (o *SessionAggOp) saveCold(b state.Backend) error {
	c := o.cold
	if c == nil || c.N == 0 {
		return nil
	}
	nk := len(c.keyTypes)
	var bs []array.Builder
	keys := 0
	write := func() error {
		cols, starts, ends, fired := c.finish(bs)
		bs, keys = nil, 0
		defer runtime.ReleaseAll(cols)
		n := len(starts)
		out := append(append(append([]arrow.Array{}, cols[:nk]...), boundColumns(o.tc, starts, ends, fired)...), cols[nk+3:]...)
		defer runtime.ReleaseAll(out[nk : nk+3])
		w := keyed.NewStateWriter(o.tc.Eval, o.Name, SessionsTable, stateSchema(o.Schema, o.KeyTypes, o.Aggs))
		if err := w.AddColumns(out, n, keyed.KeyGroups(cols[:nk], n, o.tc.MaxParallelism())); err != nil {
			w.Release()
			return err
		}
		return w.Write(b)
	}
	err := c.Store.ScanRange([]byte{entryPrefix}, []byte{entryPrefix + 1}, func(k, v []byte) error {
		if bs == nil {
			bs = c.builders(o)
		}
		if len(k) < entryKeyAt+8 {
			return rberr.New(rberr.Data, "%s: a damaged entry in the store of its sessions", o.Name)
		}
		if err := c.decode(k[entryKeyAt-1:], v, bs); err != nil {
			return err
		}
		if keys++; keys == sessionChunk {
			return write()
		}
		return nil
	})
	if err == nil && bs != nil {
		return write()
	}
	if bs != nil {
		releaseBuilders(bs)
	}
	return err
}
