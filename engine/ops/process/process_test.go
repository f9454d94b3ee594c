package process_test

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/process"
	"github.com/riverbed-engine/riverbed/engine/ops/udf"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// The operator is tested with a host written in Go that speaks the call protocol of
// wire.go as the Python per-element adapter does (elements and due timers of each key
// in time order, timers it registers for due times fired in between), running Flink's
// fraud detector; outputs are compared with a plain-Go reference of Flink's logic.

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

var inSchema = arrow.NewSchema([]arrow.Field{
	{Name: "account", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "ts", Type: tsType},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
}, nil)

var outSchema = arrow.NewSchema([]arrow.Field{
	{Name: "account", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "at", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "kind", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var fraudState = []process.StateSpec{
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "timer", Type: arrow.PrimitiveTypes.Int64},
}

const minute = 60_000 // ms

type tx struct {
	account any
	ts      int64 // µs
	amount  float64
	order   int
}

// stream: batches of transactions with disordered times, each stamped with the current
// watermark, and a watermark every other batch.
func stream(seed int64, batches int) ([]opstest.Step, []tx, []int64) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var txs []tx
	var stamps []int64
	wm := int64(math.MinInt64)
	order := 0
	amounts := []float64{0.5, 0.99, 600, 501, 50, 1, 500}
	for b := 0; b < batches; b++ {
		n := 1 + rng.Intn(10)
		var rows [][]any
		for i := 0; i < n; i++ {
			var acct any = int64(rng.Intn(6))
			if rng.Intn(15) == 0 {
				acct = nil
			}
			ms := int64(b*20_000 + rng.Intn(60_000) - 30_000)
			t := tx{account: acct, ts: ms * 1000, amount: amounts[rng.Intn(len(amounts))], order: order}
			if rng.Intn(4) == 0 { // sub-millisecond times: the ms floor decides against timers
				t.ts += int64(rng.Intn(1000))
			}
			order++
			txs = append(txs, t)
			stamps = append(stamps, wm)
			rows = append(rows, []any{t.account, t.ts, t.amount})
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0), WM: wm, HasWM: true})
		if b%2 == 1 {
			wm = int64(b*20_000-30_000) * 1000
			steps = append(steps, opstest.Step{WM: wm})
		}
	}
	return steps, txs, stamps
}

func floorMs(us int64) int64 {
	q := us / 1000
	if us%1000 != 0 && us < 0 {
		q--
	}
	return q
}

// refFraud is Flink's fraud detector per account in event-time order: rows behind their
// batch's watermark are dropped; a timer at T fires before an element whose ms timestamp
// is after T; at the end every timer fires.
func refFraud(txs []tx, stamps []int64) []string {
	by := map[any][]tx{}
	for i, t := range txs {
		if t.ts <= stamps[i] {
			continue
		}
		by[t.account] = append(by[t.account], t)
	}
	var out []string
	for acct, ts := range by {
		sort.SliceStable(ts, func(a, b int) bool {
			if ts[a].ts != ts[b].ts {
				return ts[a].ts < ts[b].ts
			}
			return ts[a].order < ts[b].order
		})
		flag := false
		timer := int64(math.MinInt64) // the pending timer, if any
		fire := func() {
			out = append(out, opstest.Row(acct, timer, "timer"))
			flag, timer = false, math.MinInt64
		}
		for _, t := range ts {
			ms := floorMs(t.ts)
			if timer != math.MinInt64 && timer < ms {
				fire()
			}
			if flag {
				if t.amount > 500 {
					out = append(out, opstest.Row(acct, ms, "alert"))
				}
				flag, timer = false, math.MinInt64
			}
			if t.amount < 1 {
				flag, timer = true, ms+minute
			}
		}
		if timer != math.MinInt64 {
			fire()
		}
	}
	return out
}

// -- a Go host speaking the call protocol ----------------------------------------------

func listValues(rec arrow.RecordBatch, name string) arrow.Array {
	l := rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.List)
	return l.ListValues()
}

type timerHeap []int64

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type change struct {
	key      int32
	ts       int64
	register bool
}

// fraudHost runs the fraud detector over one call.
func fraudHost(calls *int) udf.UDFCaller {
	return func(_ int64, call arrow.RecordBatch) (arrow.RecordBatch, error) {
		*calls++
		mem := memory.DefaultAllocator
		elems := listValues(call, "elements").(*array.Struct)
		amount := elems.Field(2).(*array.Float64)
		ekey := listValues(call, "element_key").(*array.Int32)
		ets := listValues(call, "element_ts").(*array.Int64)
		keys := listValues(call, "keys").(*array.Struct).Field(0)
		st := listValues(call, "state").(*array.Struct)
		flagIn, timerIn := st.Field(0).(*array.Boolean), st.Field(1).(*array.Int64)
		tkey := listValues(call, "timer_key").(*array.Int32)
		tts := listValues(call, "timer_ts").(*array.Int64)
		due := call.Column(call.Schema().FieldIndices("watermark")[0]).(*array.Int64).Value(0)

		ob := array.NewRecordBuilder(mem, outSchema)
		defer ob.Release()
		flagB, timerB := array.NewBooleanBuilder(mem), array.NewInt64Builder(mem)
		defer flagB.Release()
		defer timerB.Release()
		var changes []change
		e, t := 0, 0
		for k := 0; k < keys.Len(); k++ {
			acct := opstest.Value(keys, k)
			flag := flagIn.IsValid(k) && flagIn.Value(k)
			timerSt, hasTimer := timerIn.Value(k), timerIn.IsValid(k)
			h := &timerHeap{}
			in := map[int64]bool{}
			for ; t < tkey.Len() && int(tkey.Value(t)) == k; t++ {
				heap.Push(h, tts.Value(t))
				in[tts.Value(t)] = true
			}
			register := func(ts int64) {
				if ts <= due {
					if !in[ts] {
						heap.Push(h, ts)
						in[ts] = true
					}
					return
				}
				changes = append(changes, change{int32(k), ts, true})
			}
			del := func(ts int64) {
				if in[ts] {
					delete(in, ts)
					return
				}
				changes = append(changes, change{int32(k), ts, false})
			}
			out := func(at int64, kind string) {
				if acct == nil {
					ob.Field(0).AppendNull()
				} else {
					ob.Field(0).(*array.Int64Builder).Append(acct.(int64))
				}
				ob.Field(1).(*array.Int64Builder).Append(at)
				ob.Field(2).(*array.StringBuilder).Append(kind)
			}
			for {
				hasEl := e < ekey.Len() && int(ekey.Value(e)) == k
				if h.Len() > 0 && (!hasEl || (*h)[0] < ets.Value(e)) {
					ts := heap.Pop(h).(int64)
					if !in[ts] {
						continue
					}
					delete(in, ts)
					out(ts, "timer") // on_timer
					flag, hasTimer = false, false
					continue
				}
				if !hasEl {
					break
				}
				ts := ets.Value(e)
				a := amount.Value(e)
				if flag { // process_element
					if a > 500 {
						out(ts, "alert")
					}
					if hasTimer {
						del(timerSt)
					}
					flag, hasTimer = false, false
				}
				if a < 1 {
					flag = true
					timerSt, hasTimer = ts+minute, true
					register(timerSt)
				}
				e++
			}
			if flag {
				flagB.Append(true)
			} else {
				flagB.AppendNull()
			}
			if hasTimer {
				timerB.Append(timerSt)
			} else {
				timerB.AppendNull()
			}
		}
		// The result.
		orec := ob.NewRecordBatch()
		defer orec.Release()
		flags, timers := flagB.NewArray(), timerB.NewArray()
		defer flags.Release()
		defer timers.Release()
		ck, ct, cd, cr := array.NewInt32Builder(mem), array.NewInt64Builder(mem), array.NewInt8Builder(mem), array.NewBooleanBuilder(mem)
		for _, c := range changes {
			ck.Append(c.key)
			ct.Append(c.ts)
			cd.Append(process.DomainEvent)
			cr.Append(c.register)
		}
		return result(mem, map[string]arrow.Array{
			"output": structArr(outSchema.Fields(), orec.Columns()),
			"state":  structArr([]arrow.Field{{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, {Name: "timer", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, []arrow.Array{flags, timers}),
		}, ck, ct, cd, cr), nil
	}
}

func structArr(fields []arrow.Field, cols []arrow.Array) arrow.Array {
	s, err := array.NewStructArrayWithFields(cols, fields)
	if err != nil {
		panic(err)
	}
	return s
}

// result packs lists into a one-row batch (taking ownership of arrays and builders).
func result(mem memory.Allocator, lists map[string]arrow.Array, ck *array.Int32Builder, ct *array.Int64Builder, cd *array.Int8Builder, cr *array.BooleanBuilder) arrow.RecordBatch {
	for name, b := range map[string]array.Builder{"timer_key": ck, "timer_ts": ct, "timer_domain": cd, "timer_register": cr} {
		lists[name] = b.NewArray()
		b.Release()
	}
	var fields []arrow.Field
	var cols []arrow.Array
	names := make([]string, 0, len(lists))
	for n := range lists {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := lists[n]
		lb := array.NewListBuilder(mem, v.DataType())
		lb.Append(true)
		for i := 0; i < v.Len(); i++ {
			appendValue(lb.ValueBuilder(), v, i)
		}
		a := lb.NewArray()
		lb.Release()
		v.Release()
		fields = append(fields, arrow.Field{Name: n, Type: a.DataType(), Nullable: true})
		cols = append(cols, a)
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 1)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func appendValue(b array.Builder, v arrow.Array, i int) {
	if sb, ok := b.(*array.StructBuilder); ok {
		s := v.(*array.Struct)
		sb.Append(true)
		for f := 0; f < s.NumField(); f++ {
			appendValue(sb.FieldBuilder(f), s.Field(f), i)
		}
		return
	}
	if v.IsNull(i) {
		b.AppendNull()
		return
	}
	switch a := v.(type) {
	case *array.Int64:
		b.(*array.Int64Builder).Append(a.Value(i))
	case *array.Int32:
		b.(*array.Int32Builder).Append(a.Value(i))
	case *array.Int8:
		b.(*array.Int8Builder).Append(a.Value(i))
	case *array.Boolean:
		b.(*array.BooleanBuilder).Append(a.Value(i))
	case *array.String:
		b.(*array.StringBuilder).Append(a.Value(i))
	default:
		panic(fmt.Sprintf("appendValue: %T", v))
	}
}

func newFraud() runtime.Operator {
	keys := []expr.Expr{opstest.Col(inSchema, "account")}
	return &process.ProcessOp{Name: "process", Udf: 1, Keys: keys, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
		KeyNames: []string{"account"}, TimeIdx: 1, InSchema: inSchema, Main: outSchema, State: fraudState}
}

func TestFraudDetector(t *testing.T) {
	calls := 0
	udf.SetUDFCaller(fraudHost(&calls))
	steps, txs, stamps := stream(7, 60)
	defer opstest.Release(steps)
	want := refFraud(txs, stamps)
	alerts := 0
	for _, r := range want {
		if len(r) > 0 && r[len(r)-7:] == `"alert"` {
			alerts++
		}
	}
	if alerts == 0 || len(want) < 10 {
		t.Fatalf("the stream plants too few patterns: %d rows, %d alerts", len(want), alerts)
	}
	op := opstest.Op{New: newFraud, Keys: opstest.KeysOf([]expr.Expr{opstest.Col(inSchema, "account")})}
	opstest.RunAll(t, op, steps, 9, want)
	if calls == 0 {
		t.Fatal("the host was never called")
	}
}

// TestOneCallPerBatch: the host is called once per batch and per watermark that releases
// something (plus a round for timers that became due in a call), never per row.
func TestOneCallPerBatch(t *testing.T) {
	calls := 0
	udf.SetUDFCaller(fraudHost(&calls))
	steps, _, _ := stream(3, 40)
	defer opstest.Release(steps)
	rows := 0
	for _, s := range steps {
		if s.Rec != nil {
			rows += int(s.Rec.NumRows())
		}
	}
	opstest.Run(t, opstest.Op{New: newFraud, Keys: opstest.KeysOf([]expr.Expr{opstest.Col(inSchema, "account")})}, steps,
		[]opstest.Phase{{Parallel: 1, Until: len(steps)}}, state.MemoryBackend)
	if calls > len(steps)+2 || calls >= rows {
		t.Fatalf("%d calls for %d steps and %d rows", calls, len(steps), rows)
	}
}

// ttlHost counts elements per key in value state "n" and outputs the count it saw.
func ttlHost(_ int64, call arrow.RecordBatch) (arrow.RecordBatch, error) {
	mem := memory.DefaultAllocator
	ekey := listValues(call, "element_key").(*array.Int32)
	keys := listValues(call, "keys").(*array.Struct).Field(0).(*array.Int64)
	n := listValues(call, "state").(*array.Struct).Field(0).(*array.Int64)
	counts := make([]int64, keys.Len())
	for k := range counts {
		if n.IsValid(k) {
			counts[k] = n.Value(k)
		}
	}
	ob := array.NewRecordBuilder(mem, outSchema)
	defer ob.Release()
	for e := 0; e < ekey.Len(); e++ {
		k := ekey.Value(e)
		counts[k]++
		ob.Field(0).(*array.Int64Builder).Append(keys.Value(int(k)))
		ob.Field(1).(*array.Int64Builder).Append(counts[k])
		ob.Field(2).(*array.StringBuilder).Append("count")
	}
	nb := array.NewInt64Builder(mem)
	nb.AppendValues(counts, nil)
	orec := ob.NewRecordBatch()
	defer orec.Release()
	return result(mem, map[string]arrow.Array{
		"output": structArr(outSchema.Fields(), orec.Columns()),
		"state":  structArr([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, []arrow.Array{nb.NewArray()}),
	}, array.NewInt32Builder(mem), array.NewInt64Builder(mem), array.NewInt8Builder(mem), array.NewBooleanBuilder(mem)), nil
}

// TestTTL: state not written for its TTL (in processing time) reads as empty.
func TestTTL(t *testing.T) {
	udf.SetUDFCaller(ttlHost)
	clock := &state.ManualClock{Ms: 1_000}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tc := runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 128)
	op := &process.ProcessOp{Name: "process", Udf: 1, Keys: []expr.Expr{opstest.Col(inSchema, "account")},
		KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64}, KeyNames: []string{"account"}, TimeIdx: -1,
		InSchema: inSchema, Main: outSchema, State: []process.StateSpec{{Name: "n", Type: arrow.PrimitiveTypes.Int64, TTL: 10 * time.Second}},
		Clock: clock}
	if err := op.Open(tc); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	var got []string
	emit := emitter(func(m runtime.Message) {
		if m.Kind == runtime.MsgBatch {
			got = append(got, opstest.Rows(m.Rec)...)
			m.Rec.Release()
		}
	})
	feed := func(accts ...int64) {
		rows := make([][]any, len(accts))
		for i, a := range accts {
			rows[i] = []any{a, int64(0), 1.0}
		}
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: opstest.Batch(inSchema, rows)}, emit); err != nil {
			t.Fatal(err)
		}
	}
	feed(1, 1, 2)    // t=1s: 1 -> 2, 2 -> 1
	clock.Ms = 9_000 // 8s later: key 1 written again, key 2 not
	feed(1)          // 1 -> 3 (written at 9s)
	clock.Ms = 12_000
	feed(1, 2) // key 1 alive (expires at 19s); key 2 expired at 11s: starts again at 1
	clock.Ms = 30_000
	feed(1) // expired at 22s
	want := []string{
		opstest.Row(int64(1), int64(1), "count"), opstest.Row(int64(1), int64(2), "count"), opstest.Row(int64(2), int64(1), "count"),
		opstest.Row(int64(1), int64(3), "count"),
		opstest.Row(int64(1), int64(4), "count"), opstest.Row(int64(2), int64(1), "count"),
		opstest.Row(int64(1), int64(1), "count"),
	}
	sort.Strings(got)
	sort.Strings(want)
	opstest.Equal(t, got, want)
}

type emitter func(runtime.Message)

func (e emitter) Emit(m runtime.Message) error { e(m); return nil }

// TestChunkedCalls: a watermark that releases more elements than a batch hands them over
// in several calls, cut between keys; the result is the same.
func TestChunkedCalls(t *testing.T) {
	calls := 0
	udf.SetUDFCaller(fraudHost(&calls))
	steps, txs, stamps := stream(7, 60)
	defer opstest.Release(steps)
	small := func() runtime.Operator {
		o := newFraud().(*process.ProcessOp)
		o.Batch = 3
		return o
	}
	got := opstest.Run(t, opstest.Op{New: small, Keys: opstest.KeysOf([]expr.Expr{opstest.Col(inSchema, "account")})}, steps,
		[]opstest.Phase{{Parallel: 2, Until: len(steps)}}, state.MemoryBackend)
	want := refFraud(txs, stamps)
	sort.Strings(want)
	opstest.Equal(t, got, want)
	if calls <= len(steps) {
		t.Fatalf("%d calls: the releases were not cut into several calls", calls)
	}
}

// procHost registers a processing-time timer 100 ms after the wall clock for every element
// and outputs every timer that fires (with the clock it saw).
func procHost(_ int64, call arrow.RecordBatch) (arrow.RecordBatch, error) {
	mem := memory.DefaultAllocator
	ekey := listValues(call, "element_key").(*array.Int32)
	keys := listValues(call, "keys").(*array.Struct).Field(0).(*array.Int64)
	tkey := listValues(call, "timer_key").(*array.Int32)
	tts := listValues(call, "timer_ts").(*array.Int64)
	tdom := listValues(call, "timer_domain").(*array.Int8)
	now := call.Column(call.Schema().FieldIndices("processing_time")[0]).(*array.Int64).Value(0)
	ob := array.NewRecordBuilder(mem, outSchema)
	defer ob.Release()
	ck, ct, cd, cr := array.NewInt32Builder(mem), array.NewInt64Builder(mem), array.NewInt8Builder(mem), array.NewBooleanBuilder(mem)
	for e := 0; e < ekey.Len(); e++ {
		ck.Append(ekey.Value(e))
		ct.Append(now + 100)
		cd.Append(process.DomainProcessing)
		cr.Append(true)
	}
	for i := 0; i < tkey.Len(); i++ {
		if tdom.Value(i) != process.DomainProcessing {
			return nil, fmt.Errorf("an event-time timer fired")
		}
		ob.Field(0).(*array.Int64Builder).Append(keys.Value(int(tkey.Value(i))))
		ob.Field(1).(*array.Int64Builder).Append(tts.Value(i))
		ob.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("fired at %d", now))
	}
	orec := ob.NewRecordBatch()
	defer orec.Release()
	return result(mem, map[string]arrow.Array{"output": structArr(outSchema.Fields(), orec.Columns())}, ck, ct, cd, cr), nil
}

// TestProcessingTimeTimers: processing-time timers fire from the tick once the clock has
// passed them, in time order, once each.
func TestProcessingTimeTimers(t *testing.T) {
	udf.SetUDFCaller(procHost)
	clock := &state.ManualClock{Ms: 1_000}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tc := runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 128)
	op := &process.ProcessOp{Name: "process", Udf: 1, Keys: []expr.Expr{opstest.Col(inSchema, "account")},
		KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64}, KeyNames: []string{"account"}, TimeIdx: -1,
		InSchema: inSchema, Main: outSchema, Clock: clock}
	if err := op.Open(tc); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	var got []string
	emit := emitter(func(m runtime.Message) {
		if m.Kind == runtime.MsgBatch {
			got = append(got, opstest.Rows(m.Rec)...)
			m.Rec.Release()
		}
	})
	feed := func(accts ...int64) {
		rows := make([][]any, len(accts))
		for i, a := range accts {
			rows[i] = []any{a, int64(0), 1.0}
		}
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: opstest.Batch(inSchema, rows)}, emit); err != nil {
			t.Fatal(err)
		}
	}
	tick := func(ms int64) {
		clock.Ms = ms
		if err := op.OnTick(emit); err != nil {
			t.Fatal(err)
		}
	}
	feed(1, 2, 1) // timers at 1100 for keys 1 and 2 (one per key and time)
	tick(1_050)   // none due
	clock.Ms = 1_060
	feed(3) // timer at 1160
	tick(1_100)
	tick(1_100) // fired once only
	tick(5_000)
	want := []string{
		opstest.Row(int64(1), int64(1_100), "fired at 1100"), opstest.Row(int64(2), int64(1_100), "fired at 1100"),
		opstest.Row(int64(3), int64(1_160), "fired at 5000"),
	}
	sort.Strings(got)
	opstest.Equal(t, got, want)
	// The final watermark fires no processing-time timer.
	feed(4)
	if err := op.ProcessWatermark(runtime.WatermarkMax, emit); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("a processing-time timer fired at the end of input: %v", got)
	}
}

// TestStateCompaction: calls over random halves of the keys leave each call's state batch
// alive while any of its keys is not written again; the operator compacts them, and the
// counts stay right.
func TestStateCompaction(t *testing.T) {
	udf.SetUDFCaller(ttlHost)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tc := runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 128)
	op := &process.ProcessOp{Name: "process", Udf: 1, Keys: []expr.Expr{opstest.Col(inSchema, "account")},
		KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64}, KeyNames: []string{"account"}, TimeIdx: -1,
		InSchema: inSchema, Main: outSchema, State: []process.StateSpec{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}}
	if err := op.Open(tc); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	counts := map[int64]int64{}
	var got []string
	emit := emitter(func(m runtime.Message) {
		if m.Kind == runtime.MsgBatch {
			got = append(got, opstest.Rows(m.Rec)...)
			m.Rec.Release()
		}
	})
	var want []string
	rng := rand.New(rand.NewSource(1))
	maxRows, compacted := 0, false
	for call := 0; call < 200; call++ {
		var rows [][]any
		for k := int64(0); k < 100; k++ {
			if rng.Intn(2) == 0 {
				rows = append(rows, []any{k, int64(0), 1.0})
				counts[k]++
				want = append(want, opstest.Row(k, counts[k], "count"))
			}
		}
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: opstest.Batch(inSchema, rows)}, emit); err != nil {
			t.Fatal(err)
		}
		maxRows = max(maxRows, op.StateRows())
		// Right after a compaction the batches hold exactly one row per key.
		compacted = compacted || (call > 16 && op.StateRows() == len(counts))
	}
	sort.Strings(got)
	sort.Strings(want)
	opstest.Equal(t, got, want)
	if maxRows > 2*100+64+16*100 {
		t.Fatalf("state batches held %d rows for 100 keys", maxRows)
	}
	if !compacted || maxRows <= 2*100+64 {
		t.Fatalf("compaction did not run (%v) or was not needed: at most %d rows", compacted, maxRows)
	}
}
