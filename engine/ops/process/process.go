package process

import (
	"encoding/binary"
	"math"
	"sort"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// StateSpec declares one piece of per-key state, as a Flink state descriptor: its name,
// its Arrow type (a list type for list state, a map type for map state) and its time to
// live (0: never expires).
type StateSpec struct {
	Name string
	Type arrow.DataType
	TTL  time.Duration
	// UpdateOnRead restarts the TTL when the state is read (Flink's OnReadAndWrite), not
	// only when it is written (OnCreateAndWrite).
	UpdateOnRead bool
}

// Timer domains as they cross to the host.
const (
	DomainEvent      int8 = 0
	DomainProcessing int8 = 1
)

// ProcessOp runs a keyed process function. Elements wait until the watermark passes
// their event time; each watermark then hands over, in one call per round, the released
// elements of every key (grouped by key, each key's in event-time then input order), the
// event-time timers the watermark has passed, and the state of those keys. An element at
// time t comes before a timer at t (the watermark had not passed t when it arrived). The
// function returns state updates and timer changes; timers it registers for times the
// watermark has passed fire in a further round. Processing-time timers fire from a
// periodic tick. Rows behind the watermark on arrival are late: dropped and counted.
// Without an event-time column elements are handed over as they arrive.
//
// Times cross to the host in milliseconds since the epoch (as Flink's): an element's
// timestamp is its event time floored to the millisecond, and a timer at T fires once
// every element with a timestamp <= T has been processed.
type ProcessOp struct {
	runtime.BaseOp
	Name     string
	Udf      int64
	Keys     []expr.Expr
	KeyTypes []arrow.DataType
	KeyNames []string
	TimeIdx  int // event-time column of the input; -1: none
	InSchema *arrow.Schema
	Main     *arrow.Schema   // the function's main output
	Sides    []*arrow.Schema // its side outputs, in declaration order
	State    []StateSpec
	Batch    int
	// Clock gives processing time (timers, TTL); nil: the wall clock.
	Clock state.Clock
	// Tick is how often processing-time timers are checked (0: 50ms).
	Tick time.Duration

	tc        *runtime.TaskCtx
	groups    *keyed.Grouper
	groupKG   []int          // key group per group id
	stateRefs []keyed.RowRef // per group id: its state row in states (Chunk -1: none)
	states    keyed.RowStore // user state columns, then one expiry column per state
	timers    *state.Timers
	pending   []pendingRow
	rows      keyed.RowStore // elements waiting for the watermark
	wm        int64
	ts        []int64
	calls     int           // calls that wrote state (compaction runs every 16)
	schema    *arrow.Schema // what the operator emits
}

type pendingRow struct {
	ts  int64       // event time (µs); MinInt64 without event time
	seq runtime.Seq // input position: batch, then row
	key uint32
	ref keyed.RowRef
}

// dueTimer is a timer handed to the function.
type dueTimer struct {
	key    uint32
	ts     int64 // ms
	domain int8
}

// ColOutput is the column that tells, in the operator's output when the function has
// side outputs, which output a row belongs to (0: the main output, i+1: side output i).
const ColOutput = "__rb_output"

// SideColumn is the name, in the operator's output, of column name of side output i.
func SideColumn(i int, name string) string { return "__rb_side" + itoa(i) + "_" + name }

func itoa(i int) string {
	b := []byte{}
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// OutSchema is what a process operator emits: the main output's columns, and, if it has
// side outputs, every side output's columns (SideColumn) and ColOutput.
func OutSchema(main *arrow.Schema, sides []*arrow.Schema) *arrow.Schema {
	if len(sides) == 0 {
		return main
	}
	fs := append([]arrow.Field{}, main.Fields()...)
	for i, s := range sides {
		for _, f := range s.Fields() {
			fs = append(fs, arrow.Field{Name: SideColumn(i, f.Name), Type: f.Type, Nullable: true})
		}
	}
	fs = append(fs, arrow.Field{Name: ColOutput, Type: arrow.PrimitiveTypes.Int32})
	return arrow.NewSchema(fs, nil)
}

func (o *ProcessOp) stateSchema() *arrow.Schema {
	fs := make([]arrow.Field, 0, 2*len(o.State))
	for _, s := range o.State {
		fs = append(fs, arrow.Field{Name: s.Name, Type: s.Type, Nullable: true})
	}
	for _, s := range o.State {
		fs = append(fs, arrow.Field{Name: "__rb_expires_" + s.Name, Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

func (o *ProcessOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.groups = keyed.NewGrouper(o.KeyTypes)
	sp := keyed.NewSpill(tc, o.Name)
	sp.SetIndex(o.indexBytes)
	o.rows.Init(o.InSchema, sp)
	o.states.Init(o.stateSchema(), sp)
	lo, hi := state.Range(tc.Subtask(), tc.MaxParallelism(), tc.Parallelism())
	o.timers = state.NewTimers(lo, hi)
	o.wm = math.MinInt64
	o.schema = OutSchema(o.Main, o.Sides)
	if o.Clock == nil {
		o.Clock = state.SystemClock{}
	}
	return nil
}

// indexBytes estimates the memory of the operator's index of its rows (counted against the
// memory cap with spilling): the keys, each key's key group and state row, the elements
// waiting for the watermark, and the timers.
func (o *ProcessOp) indexBytes() int64 {
	n := o.groups.MemBytes() + int64(cap(o.groupKG))*8 + int64(cap(o.stateRefs))*int64(unsafe.Sizeof(keyed.RowRef{})) +
		int64(cap(o.pending))*int64(unsafe.Sizeof(pendingRow{})) + int64(cap(o.ts))*8
	if o.timers != nil {
		n += o.timers.MemBytes()
	}
	return n
}

func (o *ProcessOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

// consume assigns every row of rec its key's group id (new keys get their key group).
func (o *ProcessOp) consume(rec arrow.RecordBatch) ([]uint32, error) {
	cols, err := runtime.EvalColumns(o.tc.Eval, o.Keys, rec)
	if err != nil {
		return nil, err
	}
	defer runtime.ReleaseAll(cols)
	return o.consumeKeys(cols, int(rec.NumRows()))
}

func (o *ProcessOp) consumeKeys(cols []arrow.Array, n int) ([]uint32, error) {
	ids := make([]uint32, n)
	before := o.groups.NumGroups()
	if err := o.groups.Consume(o.tc.Eval.Ctx, cols, ids); err != nil {
		return nil, err
	}
	if o.groups.NumGroups() > before {
		kgs := keyed.KeyGroups(cols, n, o.tc.MaxParallelism())
		for len(o.groupKG) < o.groups.NumGroups() {
			o.groupKG = append(o.groupKG, -1)
			o.stateRefs = append(o.stateRefs, keyed.RowRef{Chunk: -1})
		}
		for i, id := range ids {
			if o.groupKG[id] < 0 {
				o.groupKG[id] = kgs[i]
			}
		}
	}
	return ids, nil
}

func (o *ProcessOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	ids, err := o.consume(rec)
	if err != nil {
		return err
	}
	chunk, err := o.rows.Add(rec)
	if err != nil {
		return err
	}
	if o.TimeIdx < 0 {
		els := make([]pendingRow, n)
		for i := range els {
			els[i] = pendingRow{ts: math.MinInt64, seq: m.Seq, key: ids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}}
		}
		sort.SliceStable(els, func(a, b int) bool { return els[a].key < els[b].key })
		return o.run(els, nil, o.wm, o.wm, out)
	}
	o.ts = expr.EventTimes(rec.Column(o.TimeIdx), o.ts)
	lateWM := runtime.LateWatermark(o.wm, m)
	kept := 0
	for i, t := range o.ts {
		if t == math.MinInt64 || t <= lateWM {
			o.tc.Metrics.Late.Add(1)
			continue
		}
		o.pending = append(o.pending, pendingRow{ts: t, seq: m.Seq, key: ids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}})
		kept++
	}
	o.rows.Live[chunk] = kept
	if kept == 0 {
		o.rows.Live[chunk] = 1
		o.rows.Drop(keyed.RowRef{Chunk: chunk})
	}
	return nil
}

// dueMs is the latest timer time (ms) that watermark wm (µs) has passed: every element
// with a timestamp (floored to ms) at or before it has been released.
func dueMs(wm int64) int64 {
	if wm == math.MaxInt64 || wm == math.MinInt64 {
		return wm
	}
	return floorDiv(wm-999, 1000)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// toMs converts an event time in µs to ms (MinInt64 and MaxInt64 stay).
func toMs(us int64) int64 {
	if us == math.MinInt64 || us == math.MaxInt64 {
		return us
	}
	return floorDiv(us, 1000)
}

// maxRounds bounds the rounds of one watermark or tick: a function whose timers keep
// registering timers that are already due would otherwise never let time advance.
const maxRounds = 1 << 20

func (o *ProcessOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	prev := o.wm
	o.wm = wm
	var released []pendingRow
	if len(o.pending) > 0 {
		keep := o.pending[:0]
		for _, r := range o.pending {
			if r.ts <= wm {
				released = append(released, r)
			} else {
				keep = append(keep, r)
			}
		}
		o.pending = keep
		o.sortElements(released)
		if err := o.rows.Err(); err != nil { // a row compared could not be read back
			return err
		}
	}
	if err := o.fire(state.EventTime, dueMs(wm), released, prev, wm, out); err != nil {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

// fire hands over released elements and the timers of domain d due at upTo (ms), then
// fires, round after round, timers that are due meanwhile.
func (o *ProcessOp) fire(d state.TimeDomain, upTo int64, released []pendingRow, elemWM, wm int64, out runtime.Emitter) error {
	for round := 0; ; round++ {
		if round == maxRounds {
			return rberr.New(rberr.UserFunction, "%s: timers keep registering timers that are already due (%d rounds at one time)", o.Name, maxRounds)
		}
		due := o.popTimers(d, upTo)
		if len(released) == 0 && len(due) == 0 {
			return nil
		}
		if err := o.runChunked(released, due, elemWM, wm, out); err != nil {
			return err
		}
		released = nil
	}
}

// runChunked hands over released elements (sorted by key) and due timers in calls of at
// most about Batch elements each, cut between keys (keys are independent).
func (o *ProcessOp) runChunked(released []pendingRow, due []dueTimer, elemWM, wm int64, out runtime.Emitter) error {
	if len(released) <= o.batch() {
		return o.run(released, due, elemWM, wm, out)
	}
	byKey := map[uint32][]dueTimer{}
	for _, t := range due {
		byKey[t.key] = append(byKey[t.key], t)
	}
	var part []dueTimer
	start := 0
	for i := 0; i <= len(released); i++ {
		if i < len(released) && (i == start || released[i].key == released[i-1].key || i-start < o.batch()) {
			if i == start || released[i].key != released[i-1].key {
				part = append(part, byKey[released[i].key]...)
				delete(byKey, released[i].key)
			}
			continue
		}
		if err := o.run(released[start:i], part, elemWM, wm, out); err != nil {
			return err
		}
		part, start = nil, i
		if i < len(released) {
			part = append(part, byKey[released[i].key]...)
			delete(byKey, released[i].key)
		}
	}
	// Timers of keys without released elements.
	var rest []dueTimer
	for _, t := range due {
		if _, ok := byKey[t.key]; ok {
			rest = append(rest, t)
		}
	}
	if len(rest) > 0 {
		return o.run(nil, rest, elemWM, wm, out)
	}
	return nil
}

func (o *ProcessOp) popTimers(d state.TimeDomain, upTo int64) []dueTimer {
	ts := o.timers.Pop(d, upTo, nil)
	if len(ts) == 0 {
		return nil
	}
	due := make([]dueTimer, len(ts))
	for i, t := range ts {
		due[i] = dueTimer{key: binary.BigEndian.Uint32(t.Key), ts: t.Timestamp, domain: int8(d)}
	}
	return due
}

func (o *ProcessOp) sortElements(els []pendingRow) {
	sort.Slice(els, func(a, b int) bool {
		x, y := els[a], els[b]
		if x.key != y.key {
			return x.key < y.key
		}
		if x.ts != y.ts {
			return x.ts < y.ts
		}
		if x.seq != y.seq {
			return x.seq.Less(y.seq)
		}
		if x.seq == runtime.SeqUnordered && x.ref.Chunk != y.ref.Chunk { // rows without input order: by their columns
			if c := o.rows.CompareRows(x.ref, y.ref); c != 0 {
				return c < 0
			}
		}
		return x.ref.Row < y.ref.Row
	})
}

// TickInterval implements the runtime's ticker: processing-time timers are checked this
// often.
func (o *ProcessOp) TickInterval() time.Duration {
	if o.Tick > 0 {
		return o.Tick
	}
	return 50 * time.Millisecond
}

// OnTick fires the processing-time timers the wall clock has passed.
func (o *ProcessOp) OnTick(out runtime.Emitter) error {
	now := o.Clock.NowMillis()
	if t, ok := o.timers.Next(state.ProcessingTime); !ok || t > now {
		return nil
	}
	return o.fire(state.ProcessingTime, now, nil, o.wm, o.wm, out)
}

func (o *ProcessOp) timerOf(key uint32, ts int64) state.Timer {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], key)
	return state.Timer{KeyGroup: o.groupKG[key], Key: k[:], Timestamp: ts}
}

func (o *ProcessOp) Close() {
	o.rows.Release()
	o.states.Release()
	if o.groups != nil {
		o.groups.Free()
	}
}

var _ runtime.KeyedState = (*ProcessOp)(nil)
