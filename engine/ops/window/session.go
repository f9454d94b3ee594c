package window

import (
	"container/heap"
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// SessionAggOp aggregates rows into session windows per key: a row at time t opens the
// window [t, t+gap); windows of one key that overlap merge (with their accumulators). A
// session fires when the watermark passes its end, and is dropped allowed_lateness later.
type SessionAggOp struct {
	runtime.BaseOp
	Name       string
	Keys       []expr.Expr
	KeyTypes   []arrow.DataType
	Aggs       []agg.Spec
	Schema     *arrow.Schema
	Gap        int64
	Lateness   int64
	TimeIdx    int
	TimeType   arrow.DataType
	LateOutput bool
	BatchSize  int
	WindowTime bool // the output has window_time after window_end (expr.WindowColumns)

	tc       *runtime.TaskCtx
	wm       int64
	keyAgg   *agg.Table  // groups keys only (no aggregations): key -> key id
	state    *agg.Table  // accumulators indexed by session id (its grouper is unused)
	sessions keySessions // per key id, sorted by start
	free     []uint32    // session ids to reuse
	nextID   uint32
	ends     sessionHeap
	ts       []int64
	touched  []*session // fired sessions that late rows updated since the last emission
	cold     *coldSessions
	used     []uint32 // per key id, the batch (cold.clock) that last touched it
}

type session struct {
	start, end int64
	id         uint32
	key        uint32
	fired      bool
	dead       bool
	touched    bool
}

func (o *SessionAggOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.wm = math.MinInt64
	o.keyAgg = agg.NewTable(o.Name, o.Keys, o.KeyTypes, nil)
	o.state = agg.NewTable(o.Name, nil, nil, o.Aggs)
	o.sessions = keySessions{}
	o.cold = newColdSessions(tc, o)
	return nil
}

func (o *SessionAggOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *SessionAggOp) newID() uint32 {
	if n := len(o.free); n > 0 {
		id := o.free[n-1]
		o.free = o.free[:n-1]
		return id
	}
	o.nextID++
	return o.nextID - 1
}

func (o *SessionAggOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	keyIDs, err := o.keyAgg.Consume(o.tc.Eval, rec, m.Seq)
	if err != nil {
		return err
	}
	keyIDs = append([]uint32(nil), keyIDs...)
	if o.cold != nil {
		o.cold.clock++
		if err := o.thawBatch(keyIDs); err != nil {
			return err
		}
	}
	o.ts = expr.EventTimes(rec.Column(o.TimeIdx), o.ts)
	ids := make([]uint32, 0, n)
	rows := make([]int32, 0, n)
	var lateRows []int32
	lateWM := o.wm
	if m.HasWM && m.WM > lateWM {
		lateWM = m.WM
	}
	alias := map[uint32]uint32{} // session ids merged away in this batch -> the survivor
	var merged []uint32          // their ids, reusable once this batch is done
	defer func() { o.free = append(o.free, merged...) }()
	// done frees the merged ids before checkCap, which may renumber the sessions.
	done := func(rows int) error {
		o.free, merged = append(o.free, merged...), nil
		return o.checkCap(rows)
	}
	for i, t := range o.ts {
		if t == math.MinInt64 {
			lateRows = append(lateRows, int32(i))
			continue
		}
		k := keyIDs[i]
		lo, hi := t, t+o.Gap
		list := o.sessions.of(k)
		// Sessions overlapping [lo, hi) merge with the new row. A key's sessions never
		// overlap and are sorted by start, so their ends are sorted too: the overlapping
		// ones are list[a:b].
		a := 0
		if len(list) > 8 {
			a = sort.Search(len(list), func(i int) bool { return list[i].end > lo })
		}
		for a < len(list) && list[a].end <= lo {
			a++
		}
		b := a
		for b < len(list) && list[b].start < hi {
			b++
		}
		// Lateness is judged on the row's own window, not on what it would merge with, so
		// that it does not depend on which other rows happen to have arrived.
		if hi-1+o.Lateness <= lateWM {
			lateRows = append(lateRows, int32(i))
			continue
		}
		var target *session
		push := true // the session's end or state changed: a heap entry for it
		if a == b {
			target = &session{start: lo, end: hi, id: o.newID(), key: k}
			list = append(list, nil)
			copy(list[a+1:], list[a:])
			list[a] = target
		} else {
			target = list[a]
			end, fired := target.end, target.fired
			mlo, mhi := min(lo, target.start), max(hi, list[b-1].end)
			for _, s := range list[a+1 : b] {
				o.mergeInto(target, s)
				alias[s.id] = target.id
				merged = append(merged, s.id)
			}
			list = append(list[:a+1], list[b:]...)
			target.start, target.end = mlo, mhi
			push = mhi != end || target.fired != fired
		}
		o.sessions.set(k, list)
		o.stamp(k)
		if push {
			heap.Push(&o.ends, sessionRef{end: target.end, s: target})
		}
		if target.fired && !target.touched {
			target.touched = true
			o.touched = append(o.touched, target)
		}
		ids = append(ids, target.id)
		rows = append(rows, int32(i))
	}
	// Rows assigned before a later merge in this batch follow their session's survivor.
	for i, id := range ids {
		for {
			to, ok := alias[id]
			if !ok {
				break
			}
			id = to
		}
		ids[i] = id
	}
	if err := countLate(o.tc, rec, m.Seq, lateRows, o.LateOutput, out); err != nil {
		return err
	}
	if o.LateOutput || len(rows) == 0 {
		return done(0)
	}
	sub := rec
	if len(rows) != n {
		if sub, err = runtime.TakeRows(o.tc.Eval, rec, rows); err != nil {
			return err
		}
		defer sub.Release()
	}
	if err := o.state.Update(o.tc.Eval, sub, ids, m.Seq); err != nil {
		return err
	}
	if err := o.emitTouched(out); err != nil {
		return err
	}
	return done(len(rows))
}

func (o *SessionAggOp) mergeInto(dst, src *session) {
	for _, a := range o.state.Accs() {
		a.Merge(dst.id, src.id)
		a.Reset(src.id)
	}
	dst.fired = dst.fired && src.fired
	src.dead = true
}

func (o *SessionAggOp) release(s *session) {
	for _, a := range o.state.Accs() {
		a.Reset(s.id)
	}
	o.free = append(o.free, s.id)
}

func removeSession(list []*session, s *session) []*session {
	for i, x := range list {
		if x == s {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// emitTouched re-emits fired sessions that late rows updated (and that were not merged
// away meanwhile).
func (o *SessionAggOp) emitTouched(out runtime.Emitter) error {
	var upd []*session
	for _, s := range o.touched {
		if s.fired && s.touched && !s.dead {
			upd = append(upd, s)
		}
		s.touched = false
	}
	o.touched = o.touched[:0]
	return o.emitSessions(upd, out)
}

func (o *SessionAggOp) emitSessions(ss []*session, out runtime.Emitter) error {
	if len(ss) == 0 || o.LateOutput {
		return nil
	}
	sort.Slice(ss, func(a, b int) bool {
		if ss[a].end != ss[b].end {
			return ss[a].end < ss[b].end
		}
		return ss[a].key < ss[b].key
	})
	mem := o.tc.Eval.Mem
	keyIDs := make([]uint32, len(ss))
	ids := make([]uint32, len(ss))
	starts := make([]int64, len(ss))
	ends := make([]int64, len(ss))
	for i, s := range ss {
		keyIDs[i], ids[i], starts[i], ends[i] = s.key, s.id, s.start, s.end
	}
	cols, err := o.keyAgg.KeyColumns(mem, keyIDs)
	if err != nil {
		return err
	}
	wcols, err := expr.WindowColumns(o.tc.Eval, o.TimeType, starts, ends, o.WindowTime)
	if err != nil {
		runtime.ReleaseAll(cols)
		return err
	}
	cols = append(cols, wcols...)
	aggs, err := o.state.AggColumns(mem, ids)
	if err != nil {
		runtime.ReleaseAll(cols)
		return err
	}
	cols = append(cols, aggs...)
	rec := array.NewRecordBatch(o.Schema, cols, int64(len(ss)))
	runtime.ReleaseAll(cols)
	o.tc.Metrics.WindowsFired.Add(int64(len(ss)))
	return runtime.EmitSliced(rec, o.BatchSize, out)
}

func (o *SessionAggOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	if err := o.fireDue(wm, out); err != nil {
		return err
	}
	// The stored keys whose timers are due, a chunk at a time.
	for {
		more, err := o.thawDue(wm)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if err := o.fireDue(wm, out); err != nil {
			return err
		}
		if err := o.checkCap(0); err != nil {
			return err
		}
	}
	if err := o.checkCap(0); err != nil {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

// fireDue fires the sessions in memory whose end the watermark wm has reached, and drops
// those whose lateness is over.
func (o *SessionAggOp) fireDue(wm int64, out runtime.Emitter) error {
	var fire, drop []*session
	for len(o.ends) > 0 && o.ends[0].end-1 <= wm {
		ref := heap.Pop(&o.ends).(sessionRef)
		s := ref.s
		if s.dead {
			continue // merged away or already dropped
		}
		if ref.cleanup {
			if ref.end == s.end+o.Lateness {
				s.dead = true
				drop = append(drop, s)
			}
			continue // else the session grew: a later entry handles it
		}
		if ref.end != s.end {
			continue
		}
		if !s.fired {
			s.fired = true
			s.touched = false
			fire = append(fire, s)
		}
		if o.Lateness == 0 || wm == runtime.WatermarkMax {
			s.dead = true
			drop = append(drop, s)
		} else {
			heap.Push(&o.ends, sessionRef{end: s.end + o.Lateness, s: s, cleanup: true})
		}
	}
	err := o.emitSessions(fire, out)
	for _, s := range drop { // only after their results are out
		o.drop(s)
	}
	return err
}

// drop forgets a session whose allowed lateness is over.
func (o *SessionAggOp) drop(s *session) {
	o.sessions.set(s.key, removeSession(o.sessions.of(s.key), s))
	o.release(s)
}

func (o *SessionAggOp) Close() {
	if o.keyAgg != nil {
		o.keyAgg.Release()
		o.state.Release()
	}
	if o.cold != nil {
		o.cold.Close()
	}
}

// keySessions are the sessions of each key id in memory, sorted by start.
type keySessions struct {
	lists [][]*session // by key id; nil: none in memory
	n     int          // keys with sessions
}

func (ks *keySessions) of(k uint32) []*session {
	if int(k) < len(ks.lists) {
		return ks.lists[k]
	}
	return nil
}

// set makes list key k's sessions (an empty list: none).
func (ks *keySessions) set(k uint32, list []*session) {
	for int(k) >= len(ks.lists) {
		ks.lists = append(ks.lists, nil)
	}
	switch had := ks.lists[k] != nil; {
	case len(list) == 0:
		if had {
			ks.n--
		}
		list = nil
	case !had:
		ks.n++
	}
	ks.lists[k] = list
}

// has reports whether key k has sessions in memory.
func (ks *keySessions) has(k uint32) bool { return int(k) < len(ks.lists) && ks.lists[k] != nil }

// keys are the key ids with sessions, ascending.
func (ks *keySessions) keys() []uint32 {
	out := make([]uint32, 0, ks.n)
	for k, l := range ks.lists {
		if l != nil {
			out = append(out, uint32(k))
		}
	}
	return out
}

// sessionRef is a heap entry: a session to look at when the watermark reaches end-1.
type sessionRef struct {
	end     int64
	s       *session
	cleanup bool
}

type sessionHeap []sessionRef

func (h sessionHeap) Len() int           { return len(h) }
func (h sessionHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h sessionHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sessionHeap) Push(x any)        { *h = append(*h, x.(sessionRef)) }
func (h *sessionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
