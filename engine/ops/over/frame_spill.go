package over

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Frames beyond memory. With a backend that spills (state_backend="pebble") and a memory
// cap, the partitions' states (framePart: the rows their bounded frames may still reach,
// the running aggregates of their unbounded ones) count against the cap, as the
// operator's index of its pending rows (keyed.Spill.SetIndex: the pending rows get what
// it leaves). When they outgrow their share (half of what the keyed store leaves), the
// partitions used longest ago go to a keyed spill store, each under its key's hash and
// encoding (state.EncodeRow): the running aggregates, then the rows from the first a
// frame reaches (order value and values); the windows of bounded frames are rebuilt from
// them when the partition comes back, as after a restore. Released rows bring their
// partitions back first (those a keyed.KeyFilter of the stored hashes may hold), and the
// key table is rebuilt without the keys that have neither a partition in memory nor a
// pending row. Checkpoints write the stored partitions into the same tables, a chunk at a
// time.

// framePartChunk is the number of partitions written to the store, or decoded from it by
// a checkpoint, at a time;
// partFilterKeys the keys the first filter of stored partitions is sized for.
var (
	framePartChunk = 16 << 10
	partFilterKeys = 8 << 10
)

// spillAllParts (tests) moves every partition to the store after each release.
var spillAllParts bool

// coldParts is the keyed store of a FrameOp's partitions.
type coldParts struct {
	*keyed.ColdStore
	clock uint32   // releases seen: the use stamp of the partitions a release touches
	since int64    // rows released since the partitions were last measured
	bytes int64    // the partitions' memory at the last measure
	used  []uint32 // per key id, the release (clock) that last used its partition
	key   []byte
}

func newColdParts(tc *runtime.TaskCtx, o *FrameOp) *coldParts {
	cs := keyed.NewColdStore(tc, o.Name, "partitions")
	if cs == nil || len(o.KeyTypes) == 0 {
		return nil
	}
	for _, t := range o.KeyTypes {
		if !state.Encodable(t) {
			return nil
		}
	}
	c := &coldParts{ColdStore: cs}
	c.Filter = keyed.NewKeyFilter(partFilterKeys)
	return c
}

// limit is the memory the partitions in memory may hold: half of the tables' share (the
// pending rows get the rest).
func (c *coldParts) limit() int64 { return max(c.TableLimit()/2, 1) }

// partBytes estimates the memory of a partition's state.
func partBytes(p *framePart) int64 {
	n := int64(unsafe.Sizeof(*p)) + 8*int64(cap(p.ts))
	n += int64(len(p.vals)) * int64(24+unsafe.Sizeof(winAcc{})+unsafe.Sizeof(runAcc{}))
	for a := range p.vals {
		n += int64(unsafe.Sizeof(cell{}))*int64(cap(p.vals[a])) + 8*int64(cap(p.win[a].dq))
	}
	return n
}

// indexBytes is what the operator holds besides its pending rows: the key table, the
// pending rows' references and values, and the partitions (as last measured).
func (o *FrameOp) indexBytes() int64 {
	n := o.groups.MemBytes() + int64(cap(o.pending))*int64(unsafe.Sizeof(frameRow{})+unsafe.Sizeof(cell{})*uintptr(len(o.Aggs))) +
		8*int64(cap(o.parts))
	if c := o.cold; c != nil {
		n += c.bytes + c.Filter.MemBytes() + 4*int64(cap(c.used))
	}
	return n
}

// stamp marks partition k used by the current release.
func (c *coldParts) stamp(k uint32) {
	for int(k) >= len(c.used) {
		c.used = append(c.used, 0)
	}
	c.used[k] = c.clock
}

// thawParts brings back the stored partitions of the keys of rows that have none in
// memory, before their frames are computed.
func (o *FrameOp) thawParts(rows []frameRow) error {
	c := o.cold
	if c == nil {
		return nil
	}
	c.clock++
	var missing []uint32
	seen := map[uint32]bool{}
	for _, r := range rows {
		k := r.key
		c.stamp(k)
		if c.N == 0 || seen[k] || int(k) < len(o.parts) && o.parts[k] != nil {
			continue
		}
		seen[k] = true
		if c.Filter.Has(o.groups.Hash[k]) {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	cols, err := o.groups.KeysFor(o.tc.Eval.Ctx, o.KeyTypes, missing)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(cols)
	type want struct {
		key []byte
		k   uint32
	}
	ws := make([]want, len(missing))
	for i, k := range missing {
		c.key = binary.BigEndian.AppendUint64(c.key[:0], o.groups.Hash[k])
		if c.key, err = state.EncodeRow(c.key, cols, i); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
		}
		ws[i] = want{bytes.Clone(c.key), k}
	}
	slices.SortFunc(ws, func(a, b want) int { return bytes.Compare(a.key, b.key) })
	keys := make([][]byte, len(ws))
	for i := range ws {
		keys[i] = ws[i].key
	}
	var found [][]byte
	var read int64
	err = c.Store.GetKeys(keys, func(i int, v []byte) error {
		p, err := o.decodePart(v)
		if err != nil {
			return err
		}
		o.part(ws[i].k)
		o.parts[ws[i].k] = p
		found = append(found, keys[i])
		read += int64(len(keys[i]) + len(v))
		return nil
	})
	if err != nil {
		return c.Wrap(err, "reading")
	}
	if len(found) == 0 {
		return nil
	}
	c.Read(read)
	if err := c.Store.DeleteKeys(found); err != nil {
		return c.Wrap(err, "deleting")
	}
	for _, k := range found {
		c.Filter.Remove(binary.BigEndian.Uint64(k))
	}
	c.N -= len(found)
	return nil
}

// encodePart appends p's state to dst: the running aggregates of each aggregation, the
// number of rows from its head, and each row's order value and values.
func (o *FrameOp) encodePart(dst []byte, p *framePart) []byte {
	le := binary.LittleEndian
	for a := range o.Aggs {
		r := &p.run[a]
		dst = le.AppendUint64(dst, uint64(r.n))
		dst = le.AppendUint64(dst, uint64(r.si))
		dst = le.AppendUint64(dst, math.Float64bits(r.sfOrHi(&o.Aggs[a])))
		dst = le.AppendUint64(dst, uint64(r.mi))
		dst = le.AppendUint64(dst, math.Float64bits(r.mf))
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.ts)-p.head))
	for j := p.head; j < len(p.ts); j++ {
		dst = le.AppendUint64(dst, uint64(p.ts[j]))
		for a := range o.Aggs {
			c := p.vals[a][j]
			ok := byte(0)
			if c.ok {
				ok = 1
			}
			bits := uint64(c.i)
			if o.Aggs[a].Float {
				bits = math.Float64bits(c.f)
			}
			dst = le.AppendUint64(append(dst, ok), bits)
		}
	}
	return dst
}

// decodePart is the partition encodePart encoded, its bounded frames' windows rebuilt.
func (o *FrameOp) decodePart(v []byte) (*framePart, error) {
	le := binary.LittleEndian
	na := len(o.Aggs)
	damaged := rberr.New(rberr.Data, "%s: a damaged partition in the store of its partitions", o.Name)
	if len(v) < 40*na {
		return nil, damaged
	}
	p := newFramePart(na)
	p.seen = true
	for a := range o.Aggs {
		b := v[40*a:]
		p.run[a] = runAcc{n: int64(le.Uint64(b)), si: int64(le.Uint64(b[8:])),
			mi: int64(le.Uint64(b[24:])), mf: math.Float64frombits(le.Uint64(b[32:]))}
		p.run[a].setSfOrHi(&o.Aggs[a], math.Float64frombits(le.Uint64(b[16:])))
	}
	v = v[40*na:]
	m, at := binary.Uvarint(v)
	row := 8 + 9*na
	if at <= 0 || m > uint64(len(v)) || len(v)-at != int(m)*row {
		return nil, damaged
	}
	v = v[at:]
	p.ts = make([]int64, m)
	for a := range p.vals {
		p.vals[a] = make([]cell, m)
	}
	for j := range p.ts {
		b := v[j*row:]
		p.ts[j] = int64(le.Uint64(b))
		for a := range o.Aggs {
			c := cell{ok: b[8+9*a] == 1}
			bits := le.Uint64(b[9+9*a:])
			if o.Aggs[a].Float {
				c.f = math.Float64frombits(bits)
			} else {
				c.i = int64(bits)
			}
			p.vals[a][j] = c
		}
	}
	if err := p.rebuildWindows(o.Aggs); err != nil {
		return nil, err
	}
	return p, nil
}

// checkParts is called after rows rows were released: partitions over their share of
// the cap send those used longest ago to the store until half of it is left.
func (o *FrameOp) checkParts(rows int) error {
	c := o.cold
	if c == nil {
		return nil
	}
	c.since += int64(rows)
	if !spillAllParts && c.since < 4096 {
		return nil
	}
	live := 0
	for _, p := range o.parts {
		if p != nil {
			live++
		}
	}
	if !spillAllParts && c.since < int64(live)/4 {
		return nil
	}
	c.since = 0
	var keys []uint32
	c.bytes = 0
	for k, p := range o.parts {
		if p != nil {
			c.bytes += partBytes(p)
			keys = append(keys, uint32(k))
		}
	}
	limit := c.limit()
	if len(keys) == 0 || !spillAllParts && (c.bytes <= limit || c.bytes < agg.MinSpillBytes) {
		return nil
	}
	evict := len(keys)
	if !spillAllParts {
		per := float64(c.bytes) / float64(len(keys))
		evict = min(evict, int(float64(c.bytes-limit/2)/per)+1)
	}
	slices.SortFunc(keys, func(a, b uint32) int {
		if ua, ub := c.usedOf(a), c.usedOf(b); ua != ub {
			return int(ua) - int(ub)
		}
		return int(a) - int(b)
	})
	if err := o.freezeParts(keys[:evict]); err != nil {
		return err
	}
	return o.compactKeys()
}

func (c *coldParts) usedOf(k uint32) uint32 {
	if int(k) < len(c.used) {
		return c.used[k]
	}
	return 0
}

// freezeParts writes the partitions of keys to the store and forgets them in memory.
func (o *FrameOp) freezeParts(keys []uint32) error {
	c := o.cold
	if err := c.Open(); err != nil {
		return err
	}
	cols, err := o.groups.KeysFor(o.tc.Eval.Ctx, o.KeyTypes, keys)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(cols)
	var b keyed.KeyedBatch
	for i, k := range keys {
		h := o.groups.Hash[k]
		b.Key()
		b.Buf = binary.BigEndian.AppendUint64(b.Buf, h)
		if b.Buf, err = state.EncodeRow(b.Buf, cols, i); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
		}
		b.Value()
		b.Buf = o.encodePart(b.Buf, o.parts[k])
		c.Filter.Add(h)
		if err := c.Flush(&b, framePartChunk); err != nil {
			return err
		}
	}
	if err := c.Flush(&b, 0); err != nil {
		return err
	}
	for _, k := range keys {
		o.parts[k] = nil
	}
	c.N += len(keys)
	return c.Refilter(nil, nil, 0)
}

// compactKeys rebuilds the key table with only the keys that have a partition in memory
// or a pending row (a hash table cannot drop keys), renumbering them.
func (o *FrameOp) compactKeys() error {
	ng := o.groups.NumGroups()
	keep := make([]bool, ng)
	for k, p := range o.parts {
		keep[k] = p != nil
	}
	for _, r := range o.pending {
		keep[r.key] = true
	}
	var live []uint32
	for k, ok := range keep {
		if ok {
			live = append(live, uint32(k))
		}
	}
	if ng < 2*len(live)+4096 && !spillAllParts {
		return nil
	}
	ctx := o.tc.Eval.Ctx
	g := keyed.NewGrouper(o.KeyTypes)
	ids := make([]uint32, len(live))
	if len(live) > 0 {
		cols, err := o.groups.KeysFor(ctx, o.KeyTypes, live)
		if err != nil {
			g.Free()
			return err
		}
		err = g.Consume(ctx, cols, ids)
		runtime.ReleaseAll(cols)
		if err != nil {
			g.Free()
			return err
		}
	}
	to := make([]uint32, ng)
	parts := make([]*framePart, len(live))
	used := make([]uint32, len(live))
	for i, k := range live {
		to[k] = ids[i]
		if int(k) < len(o.parts) {
			parts[ids[i]] = o.parts[k]
		}
		used[ids[i]] = o.cold.usedOf(k)
	}
	for i := range o.pending {
		o.pending[i].key = to[o.pending[i].key]
	}
	o.groups.Free()
	o.groups, o.parts, o.cold.used = g, parts, used
	return nil
}

// saveColdParts writes the stored partitions to FrameRowsTable and FrameRunTable, a chunk
// at a time, with write (SaveState's).
func (o *FrameOp) saveColdParts(write func(keys []arrow.Array, parts []*framePart) error) error {
	c := o.cold
	if c == nil || c.N == 0 {
		return nil
	}
	mem := o.tc.Eval.Mem
	var bs []array.Builder
	var parts []*framePart
	flush := func() error {
		cols := make([]arrow.Array, len(bs))
		for i, b := range bs {
			cols[i] = b.NewArray()
			b.Release()
		}
		bs = nil
		defer runtime.ReleaseAll(cols)
		ps := parts
		parts = nil
		return write(cols, ps)
	}
	err := c.Store.ScanKeys(func(k, v []byte) error {
		if bs == nil {
			for _, t := range o.KeyTypes {
				bs = append(bs, array.NewBuilder(mem, t))
			}
		}
		if len(k) < 8 {
			return rberr.New(rberr.Data, "%s: a damaged key in the store of its partitions", o.Name)
		}
		if _, err := state.DecodeRow(k[8:], bs); err != nil {
			return rberr.Wrap(rberr.Data, err, "%s: a partition's key in the store of its partitions", o.Name)
		}
		p, err := o.decodePart(v)
		if err != nil {
			return err
		}
		if parts = append(parts, p); len(parts) == framePartChunk {
			return flush()
		}
		return nil
	})
	if err == nil && len(parts) > 0 {
		return flush()
	}
	for _, b := range bs {
		b.Release()
	}
	return err
}
