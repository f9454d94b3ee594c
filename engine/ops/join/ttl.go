package join

import (
	"sort"
	"time"

	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// State TTL of an unbounded regular join (HashJoinOp.TTL), as Flink's
// table.exec.state.ttl: a kept row of either side that no row of the other side has
// matched for the TTL (processing time, from when it came or last matched) is dropped
// and matches nothing more. What it was part of stays in the result: its pairs were
// appended (an inner join), and a row shown padded with nulls stays so (a later row of
// the other side finds it gone and stands alone, padded, in its turn). Expired rows are
// dropped before each input batch is joined (so the TTL is exact whatever the tick), and
// on the periodic tick, a few times per TTL, when no input comes.
//
// Cleanup is incremental: a queue holds (side, key, time) for every time a key's rows
// were kept or matched, in time order; expiry pops the entries that are older than the
// TTL and drops the expired rows of their keys. A key's rows are in arrival order and a
// match touches all of them, so their times only grow along the list and the expired
// ones are a prefix of it.

type ttlEntry struct {
	side int
	key  uint32
	at   int64 // unix ms
}

type ttlState struct {
	at     [2]map[uint32][]int64 // per side and key, each kept row's last touch (unix ms), parallel to rows
	pushed [2]map[uint32]int64   // the time of the key's last queue entry
	queue  []ttlEntry
	head   int
}

func (s *ttlState) init() {
	s.at = [2]map[uint32][]int64{{}, {}}
	s.pushed = [2]map[uint32]int64{{}, {}}
}

// ttlNow is the current time in unix ms (0 without a TTL).
func (o *HashJoinOp) ttlNow() int64 {
	if o.TTL <= 0 {
		return 0
	}
	if o.Now != nil {
		return o.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

func (s *ttlState) push(side int, k uint32, now int64) {
	if t, ok := s.pushed[side][k]; ok && t == now {
		return
	}
	s.pushed[side][k] = now
	s.queue = append(s.queue, ttlEntry{side: side, key: k, at: now})
}

// kept records a row just appended to the rows of key k on side.
func (o *HashJoinOp) kept(side int, k uint32, now int64) {
	if o.TTL <= 0 {
		return
	}
	o.ttl.at[side][k] = append(o.ttl.at[side][k], now)
	o.ttl.push(side, k, now)
}

// touch restarts the TTL of every row of key k on side (they were matched).
func (o *HashJoinOp) touch(side int, k uint32, now int64) {
	if o.TTL <= 0 {
		return
	}
	at := o.ttl.at[side][k]
	for i := range at {
		at[i] = now
	}
	o.ttl.push(side, k, now)
}

func (o *HashJoinOp) ttlMillis() int64 { return max(o.TTL.Milliseconds(), 1) }

// expire drops the rows not touched for the TTL.
func (o *HashJoinOp) expire(now int64) {
	cutoff := now - o.ttlMillis()
	s := &o.ttl
	for s.head < len(s.queue) && s.queue[s.head].at <= cutoff {
		e := s.queue[s.head]
		s.head++
		at := s.at[e.side][e.key]
		cut := sort.Search(len(at), func(i int) bool { return at[i] > cutoff })
		if cut == 0 {
			continue
		}
		rows := o.rows[e.side].get(e.key)
		for _, r := range rows[:cut] {
			o.sides[e.side].store.Drop(r)
		}
		if cut == len(rows) {
			o.rows[e.side].set(e.key, nil)
			delete(s.at[e.side], e.key)
			delete(s.pushed[e.side], e.key)
			delete(o.waiting[e.side], e.key)
			continue
		}
		// Copy the rest, so that the dropped prefix is freed.
		o.rows[e.side].set(e.key, append(rows[:0:0], rows[cut:]...))
		s.at[e.side][e.key] = append(at[:0:0], at[cut:]...)
		if w := o.waiting[e.side][e.key]; w > len(rows)-cut {
			o.waiting[e.side][e.key] = len(rows) - cut
		}
	}
	if s.head > 1024 && s.head > len(s.queue)/2 {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
}

// TickInterval implements the runtime's periodic call: with a TTL, expired rows are
// dropped on it too (when no input comes).
func (o *HashJoinOp) TickInterval() time.Duration {
	if o.TTL <= 0 {
		return 0
	}
	return max(o.TTL/4, 10*time.Millisecond)
}

// OnTick drops the rows whose TTL has passed.
func (o *HashJoinOp) OnTick(runtime.Emitter) error {
	if o.TTL > 0 {
		o.expire(o.ttlNow())
	}
	return nil
}

// restoreTTL rebuilds the expiry queue after a restore (and sorts each key's rows by
// their times: a restored key's rows may come back in another order).
func (o *HashJoinOp) restoreTTL() {
	s := &o.ttl
	s.queue, s.head = s.queue[:0], 0
	for side := 0; side < 2; side++ {
		for k, at := range s.at[side] {
			rows := o.rows[side].get(k)
			idx := make([]int, len(at))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool { return at[idx[a]] < at[idx[b]] })
			sortedRows := make([]int64, len(at))
			refs := append(rows[:0:0], rows...)
			for i, j := range idx {
				sortedRows[i] = at[j]
				refs[i] = rows[j]
			}
			s.at[side][k] = sortedRows
			o.rows[side].set(k, refs)
			for i, t := range sortedRows {
				if i == 0 || t != sortedRows[i-1] {
					s.queue = append(s.queue, ttlEntry{side: side, key: k, at: t})
				}
			}
			s.pushed[side][k] = sortedRows[len(sortedRows)-1]
		}
	}
	sort.SliceStable(s.queue, func(a, b int) bool { return s.queue[a].at < s.queue[b].at })
}
