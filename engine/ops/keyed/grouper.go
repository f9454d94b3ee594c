package keyed

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/vec"
)

// Grouper assigns dense group ids (0, 1, 2, ...) to the distinct keys it sees, with an
// open-addressing hash table (linear probing, load factor <= 1/2). Null is a key like any
// other. It keeps the key values of each group, taken from the input a batch at a time,
// to emit them at the end.
type Grouper struct {
	mode  groupMode
	slots []uint32 // group id + 1; 0 is an empty slot
	mask  uint64
	Hash  []uint64 // per group
	ints  []int64  // per group, modeInt; width per group, modeInts
	// islots is modeInt's table: the key sits in the slot, so a probe touches one cache
	// line instead of three arrays.
	islots []intSlot
	// direct (modeInt) indexes group id + 1 by key - dbase, for keys of a span small next
	// to the table (see direct.go); 0: no group. Every group whose key is in its span is
	// in it.
	direct   []uint32
	dbase    int64
	noDirect bool // a batch's keys spanned too much: hash them all
	// klo and khi are the lowest and highest key of the groups below kupto (keyRange).
	klo, khi int64
	kupto    int
	// indexed (modeInt): the groups below it are in islots (or are the null group); the
	// ones direct grouping added after it are only in direct until index puts them in.
	indexed int
	width   int      // modeInts: words per group in ints (a null mask, then each key)
	offs    []uint32 // per group start in arena (modeBytes); len = groups+1
	arena   []byte
	null    int32 // group id of the null key (single-key modes), or -1

	keyChunks [][]arrow.Array // key columns of new groups, batch by batch
	chunkBase []uint32        // group id of the first row of each key chunk
	keyBytes  int64           // memory of keyChunks' arrays
	hbuf      []uint64
	kbuf      []byte
	newRows   []int32
}

type groupMode uint8

const (
	modeInt   groupMode = iota // one integer-backed key column
	modeStr                    // one string or binary key column
	modeInts                   // 2 to maxIntsKeys integer-like key columns: keys as int64 words
	modeBytes                  // anything else: keys encoded to bytes
)

// maxIntsKeys is the most key columns modeInts takes.
const maxIntsKeys = 4

func NewGrouper(keyTypes []arrow.DataType) *Grouper {
	return NewGrouperSized(keyTypes, 0)
}

// NewGrouperSized is NewGrouper with a hash table sized for about groups groups from the
// start (an operator that makes one table per window or slice passes the size of the last
// one: a table grown by doubling writes every group again at each step).
func NewGrouperSized(keyTypes []arrow.DataType, groups int) *Grouper {
	g := &Grouper{mode: modeBytes, null: -1, offs: []uint32{0}}
	if len(keyTypes) == 1 {
		switch id := keyTypes[0].ID(); {
		case id == arrow.STRING || id == arrow.LARGE_STRING || id == arrow.BINARY || id == arrow.LARGE_BINARY || id == arrow.FIXED_SIZE_BINARY:
			g.mode = modeStr
		case expr.IsIntKeyed(keyTypes[0]):
			g.mode = modeInt
		}
	} else if len(keyTypes) <= maxIntsKeys {
		ints := true
		for _, t := range keyTypes {
			ints = ints && expr.IsIntKeyed(t)
		}
		if ints {
			g.mode, g.width = modeInts, len(keyTypes)+1
		}
	}
	g.resize(tableSize(groups))
	return g
}

// tableSize is the hash table capacity for about groups groups: a power of two, at least
// 1024, with a fourth more groups fitting than asked for below the load factor.
func tableSize(groups int) int {
	capacity := 1024
	for capacity < 2*groups+groups/2 && capacity < 1<<30 {
		capacity *= 2
	}
	return capacity
}

type intSlot struct {
	key int64
	gid uint32 // group id + 1; 0 is an empty slot
}

func (g *Grouper) NumGroups() int { return len(g.Hash) }

// resize moves the hash table to one of the given capacity (a power of two), taken from
// the pool of freed tables, and gives the old one to the pool.
func (g *Grouper) resize(capacity int) {
	if g.mode == modeInt {
		old := g.islots
		g.islots = intSlots.get(capacity)
		g.mask = uint64(capacity - 1)
		defer intSlots.put(old)
		for _, e := range old {
			if e.gid == 0 {
				continue
			}
			i := expr.Mix64(uint64(e.key)) & g.mask
			for g.islots[i].gid != 0 {
				i = (i + 1) & g.mask
			}
			g.islots[i] = e
		}
		return
	}
	defer slots32.put(g.slots)
	g.slots = slots32.get(capacity)
	g.mask = uint64(capacity - 1)
	for gid, h := range g.Hash {
		i := h & g.mask
		for g.slots[i] != 0 {
			i = (i + 1) & g.mask
		}
		g.slots[i] = uint32(gid) + 1
	}
}

// Consume assigns a group id to every row of keys, writing them to ids (len = rows).
func (g *Grouper) Consume(ctx context.Context, keys []arrow.Array, ids []uint32) error {
	return g.ConsumeHashed(ctx, keys, nil, ids)
}

// ConsumeHashed is Consume with the rows' key hashes already known: hs[i] must be the hash
// expr.HashColumns gives row i of keys (as a pre-aggregation computes it once and the
// hash exchange carries it). With hs nil the hashes are computed here.
func (g *Grouper) ConsumeHashed(ctx context.Context, keys []arrow.Array, hs []uint64, ids []uint32) error {
	n := len(ids)
	g.ensureTable()
	g.newRows = g.newRows[:0]
	if g.mode == modeInt {
		g.consumeInt(keys[0], ids)
		if len(g.newRows) == 0 {
			return nil
		}
		return g.keepKeys(ctx, keys)
	}
	if hs == nil {
		if cap(g.hbuf) < n {
			g.hbuf = make([]uint64, n)
		}
		hs = g.hbuf[:n]
		expr.HashColumns(keys, hs)
	}
	switch g.mode {
	case modeStr:
		g.consumeStr(keys[0], hs, ids)
	case modeInts:
		g.consumeInts(keys, hs, ids)
	default:
		g.consumeBytes(keys, hs, ids)
	}
	if len(g.newRows) == 0 {
		return nil
	}
	return g.keepKeys(ctx, keys)
}

func (g *Grouper) add(h uint64, row int) uint32 {
	gid := uint32(len(g.Hash))
	g.Hash = vec.Append(g.Hash, h)
	g.newRows = vec.Append(g.newRows, int32(row))
	return gid
}

func (g *Grouper) place(slot uint64, gid uint32) {
	g.slots[slot] = gid + 1
	if len(g.Hash)*2 > len(g.slots) {
		g.resize(len(g.slots) * 2)
	}
}

func (g *Grouper) nullGroup(h uint64, row int) uint32 {
	if g.null < 0 {
		g.null = int32(g.add(h, row))
		if g.mode == modeInt {
			g.ints = vec.Append(g.ints, 0)
		} else {
			g.offs = vec.Append(g.offs, uint32(len(g.arena)))
		}
	}
	return uint32(g.null)
}

// consumeInt groups one integer-like key. It hashes the keys itself even when their
// hashes are known: the hash is a multiply and a few shifts, cheaper than reading it.
func (g *Grouper) consumeInt(col arrow.Array, ids []uint32) {
	nulls := col.NullN() > 0
	var vals []int64
	get := expr.Int64Getter(col)
	if a, ok := col.(*array.Int64); ok {
		vals = a.Int64Values()
		if !nulls && g.directFor(vals[:len(ids)]) {
			g.consumeDirect(vals[:len(ids)], ids)
			return
		}
	}
	last, lastID := int64(0), NoGroup // the previous row's key and group: runs of a key (input
	// sorted or clustered by it, as order lines by order) skip the table
	for row := range ids {
		if nulls && col.IsNull(row) {
			ids[row] = g.nullGroup(expr.NullHash, row)
			continue
		}
		var v int64
		if vals != nil {
			v = vals[row]
		} else {
			v = get(row)
		}
		if v == last && lastID != NoGroup {
			ids[row] = lastID
			continue
		}
		if g.indexed < len(g.ints) {
			g.index()
		}
		h := expr.Mix64(uint64(v))
		slot := h & g.mask
		for {
			e := &g.islots[slot]
			if e.gid == 0 {
				gid := g.add(h, row)
				g.ints = vec.Append(g.ints, v)
				g.indexed = len(g.ints)
				e.key, e.gid = v, gid+1
				ids[row] = gid
				if i := uint64(v - g.dbase); i < uint64(len(g.direct)) {
					g.direct[i] = gid + 1
				}
				if len(g.Hash)*2 > len(g.islots) {
					g.resize(len(g.islots) * 2)
				}
				break
			}
			if e.key == v {
				ids[row] = e.gid - 1
				break
			}
			slot = (slot + 1) & g.mask
		}
		last, lastID = v, ids[row]
	}
}

// bytesOf returns the bytes of value i of a string or binary column (modeStr's types).
func bytesOf(col arrow.Array) func(int) []byte {
	switch a := col.(type) {
	case *array.String:
		return func(i int) []byte { return unsafeBytes(a.Value(i)) }
	case *array.LargeString:
		return func(i int) []byte { return unsafeBytes(a.Value(i)) }
	case *array.Binary:
		return a.Value
	case *array.LargeBinary:
		return a.Value
	case *array.FixedSizeBinary:
		return a.Value
	}
	return nil
}

func (g *Grouper) consumeStr(col arrow.Array, hs []uint64, ids []uint32) {
	value := bytesOf(col)
	nulls := col.NullN() > 0
	for row, h := range hs {
		if nulls && col.IsNull(row) {
			ids[row] = g.nullGroup(h, row)
			continue
		}
		ids[row] = g.findBytes(h, value(row), row)
	}
}

// unsafeBytes views a string's bytes without copying; the caller must not modify them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (g *Grouper) findBytes(h uint64, key []byte, row int) uint32 {
	slot := h & g.mask
	for {
		s := g.slots[slot]
		if s == 0 {
			gid := g.add(h, row)
			g.arena = vec.AppendAll(g.arena, key...)
			g.offs = vec.Append(g.offs, uint32(len(g.arena)))
			g.place(slot, gid)
			return gid
		}
		gid := s - 1
		if g.Hash[gid] == h && int32(gid) != g.null && bytes.Equal(g.arena[g.offs[gid]:g.offs[gid+1]], key) {
			return gid
		}
		slot = (slot + 1) & g.mask
	}
}

// intKeys reads the rows of 2 to maxIntsKeys integer-like key columns as int64 words:
// a mask of the null columns, then each column's value (0 where null).
type intKeys struct {
	cols  [maxIntsKeys]arrow.Array // a copy: the caller's slice does not escape
	n     int
	vals  [maxIntsKeys][]int64 // a column's values when it is int64
	get   [maxIntsKeys]func(int) int64
	nulls bool
}

func (k *intKeys) init(cols []arrow.Array) {
	k.n = copy(k.cols[:], cols)
	for c, col := range cols {
		if a, ok := col.(*array.Int64); ok {
			k.vals[c] = a.Int64Values()
		} else {
			k.get[c] = expr.Int64Getter(col)
		}
		k.nulls = k.nulls || col.NullN() > 0
	}
}

// row writes row i's words to key (len = columns+1).
func (k *intKeys) row(i int, key []int64) {
	var mask int64
	for c, col := range k.cols[:k.n] {
		if k.nulls && col.IsNull(i) {
			mask |= 1 << c
			key[c+1] = 0
			continue
		}
		if v := k.vals[c]; v != nil {
			key[c+1] = v[i]
		} else {
			key[c+1] = k.get[c](i)
		}
	}
	key[0] = mask
}

func (g *Grouper) consumeInts(keys []arrow.Array, hs []uint64, ids []uint32) {
	var k intKeys // on the stack: keys do not escape
	k.init(keys)
	var buf [maxIntsKeys + 1]int64
	key := buf[:g.width]
	for row, h := range hs {
		k.row(row, key)
		ids[row] = g.findInts(h, key, row)
	}
}

// findInts is the group of modeInts words key (hash h), added as row's when new (row >= 0),
// or NoGroup (row < 0).
func (g *Grouper) findInts(h uint64, key []int64, row int) uint32 {
	w := g.width
	slot := h & g.mask
	for {
		s := g.slots[slot]
		if s == 0 {
			if row < 0 {
				return NoGroup
			}
			gid := g.add(h, row)
			g.ints = vec.AppendAll(g.ints, key...)
			g.place(slot, gid)
			return gid
		}
		gid := s - 1
		if g.Hash[gid] == h && slices.Equal(g.ints[int(gid)*w:int(gid)*w+w], key) {
			return gid
		}
		slot = (slot + 1) & g.mask
	}
}

func (g *Grouper) consumeBytes(keys []arrow.Array, hs []uint64, ids []uint32) {
	for row, h := range hs {
		k := g.kbuf[:0]
		for _, c := range keys {
			k = expr.AppendKey(k, c, row)
		}
		g.kbuf = k
		ids[row] = g.findBytes(h, k, row)
	}
}

// keepKeys takes the key values of the rows that opened new groups in this batch.
func (g *Grouper) keepKeys(ctx context.Context, keys []arrow.Array) error {
	mem := compute.GetAllocator(ctx)
	ib := array.NewInt32Builder(mem)
	ib.AppendValues(g.newRows, nil)
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	chunk := make([]arrow.Array, len(keys))
	for i, k := range keys {
		t, err := compute.TakeArray(ctx, k, idx)
		if err != nil {
			for _, c := range chunk[:i] {
				c.Release()
			}
			return err
		}
		chunk[i] = t
	}
	g.chunkBase = append(g.chunkBase, uint32(len(g.Hash)-len(g.newRows)))
	g.keyChunks = append(g.keyChunks, chunk)
	for _, c := range chunk {
		g.keyBytes += dataBytes(c.Data()) + arrayOverhead
	}
	return nil
}

// arrayOverhead estimates the Go memory of an Arrow array besides its buffers (the
// array, its data and buffer objects).
const arrayOverhead = 512

// MemBytes estimates the memory the grouper takes: its hash table, the per-group hashes
// and key bytes, and the key columns it keeps. It is O(1), for spilling operators to
// count their index against their memory cap (Spill.SetIndex).
func (g *Grouper) MemBytes() int64 {
	n := int64(cap(g.slots))*4 + int64(cap(g.islots))*16 + int64(cap(g.Hash))*8 + int64(cap(g.ints))*8 + int64(cap(g.direct))*4
	n += int64(cap(g.offs))*4 + int64(cap(g.arena)) + int64(cap(g.chunkBase))*4 + int64(cap(g.keyChunks))*24
	return n + g.keyBytes + int64(cap(g.hbuf))*8 + int64(cap(g.kbuf)) + int64(cap(g.newRows))*4
}

// KeysFor returns the key columns of the given groups, in that order.
func (g *Grouper) KeysFor(ctx context.Context, types []arrow.DataType, gids []uint32) ([]arrow.Array, error) {
	mem := compute.GetAllocator(ctx)
	if len(types) == 0 {
		return nil, nil // a global aggregation has no key columns
	}
	if gids == nil {
		return g.keyArrays(mem, types)
	}
	// Each requested group's chunk and row in it, the rows grouped by chunk (a counting
	// sort) and taken from each chunk in one call; the parts concatenated are in chunk
	// order, then put in the requested order (no need when the groups come in id order).
	nc := len(g.chunkBase)
	chunkOf := make([]int32, len(gids))
	start := make([]int32, nc+1)
	c := 0
	for i, gid := range gids {
		if c >= nc || gid < g.chunkBase[c] || (c+1 < nc && gid >= g.chunkBase[c+1]) {
			c = sort.Search(nc, func(j int) bool { return g.chunkBase[j] > gid }) - 1
		}
		chunkOf[i] = int32(c)
		start[c+1]++
	}
	for c := range nc {
		start[c+1] += start[c]
	}
	rows := make([]int32, len(gids))  // by chunk, each chunk's in request order
	order := make([]int32, len(gids)) // each requested group's place in rows
	fill := slices.Clone(start[:nc])
	for i, gid := range gids {
		c := chunkOf[i]
		rows[fill[c]] = int32(gid - g.chunkBase[c])
		order[i] = fill[c]
		fill[c]++
	}
	idxAll := array.NewInt32Data(array.NewData(arrow.PrimitiveTypes.Int32, len(rows),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(rows))}, nil, 0, 0))
	defer idxAll.Release()
	var parts [][]arrow.Array
	release := func() {
		for _, p := range parts {
			runtime.ReleaseAll(p)
		}
	}
	for c := range nc {
		if start[c] == start[c+1] {
			continue
		}
		idx := array.NewSlice(idxAll, int64(start[c]), int64(start[c+1]))
		cols := make([]arrow.Array, len(types))
		for k := range types {
			t, err := compute.TakeArray(ctx, g.keyChunks[c][k], idx)
			if err != nil {
				idx.Release()
				release()
				runtime.ReleaseAll(cols[:k])
				return nil, err
			}
			cols[k] = t
		}
		idx.Release()
		parts = append(parts, cols)
	}
	out := make([]arrow.Array, len(types))
	for k, t := range types {
		switch len(parts) {
		case 0:
			out[k] = array.MakeArrayOfNull(mem, t, 0)
		case 1:
			out[k] = parts[0][k]
			out[k].Retain()
		default:
			cs := make([]arrow.Array, len(parts))
			for j := range parts {
				cs[j] = parts[j][k]
			}
			cat, err := array.Concatenate(cs, mem)
			if err != nil {
				release()
				runtime.ReleaseAll(out[:k])
				return nil, err
			}
			out[k] = cat
		}
	}
	release()
	if isIdentity(order) {
		return out, nil
	}
	ib := array.NewInt32Builder(mem)
	ib.AppendValues(order, nil)
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	for k := range out {
		t, err := compute.TakeArray(ctx, out[k], idx)
		out[k].Release()
		if err != nil {
			runtime.ReleaseAll(out[k+1:])
			return nil, err
		}
		out[k] = t
	}
	return out, nil
}

func isIdentity(order []int32) bool {
	for i, v := range order {
		if int32(i) != v {
			return false
		}
	}
	return true
}

// keyArrays returns the key columns of all groups, in group id order.
func (g *Grouper) keyArrays(mem memory.Allocator, types []arrow.DataType) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(types))
	for i, t := range types {
		if len(g.keyChunks) == 0 {
			out[i] = array.MakeArrayOfNull(mem, t, 0)
			continue
		}
		parts := make([]arrow.Array, len(g.keyChunks))
		for j, c := range g.keyChunks {
			parts[j] = c[i]
		}
		a, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// Free is Release for a grouper that is done with: its hash table goes to the pool of
// freed tables for the next grouper to take (memory already touched, where a new one
// would page-fault at its first write to every page). A grouper used after Free gets a
// table again, with its groups (not their key values, which Release dropped).
func (g *Grouper) Free() {
	g.Release()
	intSlots.put(g.islots)
	slots32.put(g.slots)
	g.islots, g.slots, g.direct = nil, nil, nil
}

// ensureTable gives a grouper used after Free a table again, with its groups.
func (g *Grouper) ensureTable() {
	if g.islots != nil || g.slots != nil {
		return
	}
	capacity := tableSize(len(g.Hash))
	if g.mode != modeInt {
		g.resize(capacity)
		return
	}
	g.islots = intSlots.get(capacity)
	g.mask = uint64(capacity - 1)
	g.indexed = 0
	g.index()
}

// index puts the groups that direct grouping added into the hash table (modeInt), before
// anything reads it or adds to it.
func (g *Grouper) index() {
	if need := tableSize(len(g.Hash)); need > len(g.islots) {
		g.resize(need)
	}
	for gid := g.indexed; gid < len(g.ints); gid++ {
		if int32(gid) == g.null {
			continue
		}
		v := g.ints[gid]
		i := expr.Mix64(uint64(v)) & g.mask
		for g.islots[i].gid != 0 {
			i = (i + 1) & g.mask
		}
		g.islots[i] = intSlot{key: v, gid: uint32(gid) + 1}
	}
	g.indexed = len(g.ints)
}

func (g *Grouper) Release() {
	for _, c := range g.keyChunks {
		for _, a := range c {
			a.Release()
		}
	}
	g.keyChunks = nil
	g.keyBytes = 0
}

// Reset forgets every group (ids start again at 0), keeping the hash table's memory.
func (g *Grouper) Reset() {
	g.Release()
	clear(g.slots)
	clear(g.islots)
	clear(g.direct)
	g.Hash, g.ints, g.offs, g.arena = g.Hash[:0], g.ints[:0], g.offs[:1], g.arena[:0]
	g.chunkBase = g.chunkBase[:0]
	g.null, g.indexed, g.kupto = -1, 0, 0
}

// NoGroup is the id Lookup gives a key the grouper has not seen.
const NoGroup = ^uint32(0)

// Lookup writes the group id of each row's key to ids (len = rows), or NoGroup where the
// key has no group; it adds none (a join probing the side it has built). A null key gets
// the null group if there is one.
func (g *Grouper) Lookup(keys []arrow.Array, ids []uint32) {
	g.ensureTable()
	n := len(ids)
	nullID := NoGroup
	if g.null >= 0 {
		nullID = uint32(g.null)
	}
	if g.mode == modeInt {
		col := keys[0]
		nulls := col.NullN() > 0
		get := expr.Int64Getter(col)
		var vals []int64
		if a, ok := col.(*array.Int64); ok {
			vals = a.Int64Values()
		}
		last, lastID, have := int64(0), NoGroup, false // runs of a key skip the table
		for row := range ids {
			if nulls && col.IsNull(row) {
				ids[row] = nullID
				continue
			}
			var v int64
			if vals != nil {
				v = vals[row]
			} else {
				v = get(row)
			}
			if have && v == last {
				ids[row] = lastID
				continue
			}
			if i := uint64(v - g.dbase); i < uint64(len(g.direct)) {
				ids[row] = g.direct[i] - 1 // 0 - 1 is NoGroup
				continue
			}
			if g.indexed < len(g.ints) {
				g.index()
			}
			slot := expr.Mix64(uint64(v)) & g.mask
			ids[row] = NoGroup
			for {
				e := &g.islots[slot]
				if e.gid == 0 {
					break
				}
				if e.key == v {
					ids[row] = e.gid - 1
					break
				}
				slot = (slot + 1) & g.mask
			}
			last, lastID, have = v, ids[row], true
		}
		return
	}
	if cap(g.hbuf) < n {
		g.hbuf = make([]uint64, n)
	}
	hs := g.hbuf[:n]
	expr.HashColumns(keys, hs)
	if g.mode == modeInts {
		var k intKeys
		k.init(keys)
		var buf [maxIntsKeys + 1]int64
		key := buf[:g.width]
		for row, h := range hs {
			k.row(row, key)
			ids[row] = g.findInts(h, key, -1)
		}
		return
	}
	var value func(int) []byte
	if g.mode == modeStr {
		value = bytesOf(keys[0])
	}
	for row, h := range hs {
		var key []byte
		if value != nil {
			if keys[0].IsNull(row) {
				ids[row] = nullID
				continue
			}
			key = value(row)
		} else {
			k := g.kbuf[:0]
			for _, c := range keys {
				k = expr.AppendKey(k, c, row)
			}
			g.kbuf = k
			key = k
		}
		ids[row] = g.find(h, key)
	}
}

// find is the group of a key's bytes, or NoGroup.
func (g *Grouper) find(h uint64, key []byte) uint32 {
	for slot := h & g.mask; ; slot = (slot + 1) & g.mask {
		s := g.slots[slot]
		if s == 0 {
			return NoGroup
		}
		gid := s - 1
		if g.Hash[gid] == h && int32(gid) != g.null && bytes.Equal(g.arena[g.offs[gid]:g.offs[gid+1]], key) {
			return gid
		}
	}
}
