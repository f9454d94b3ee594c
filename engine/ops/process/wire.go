package process

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/ops/udf"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// The Arrow layout of one call into the host and of its result. Both are record batches
// of one row whose columns are lists (each list holds a whole table: the elements, the
// keys, ...) or scalars, so that one call crosses the existing user-function path once,
// however many keys, elements and timers it carries.
//
// A call:
//
//	elements           list<struct<input columns>>   released elements, grouped by key, each key's in time order
//	element_key        list<int32>                   index into keys of each element
//	element_ts         list<int64>                   its timestamp (ms since the epoch; null without event time)
//	keys               list<struct<key columns>>     the keys of this call
//	state              list<struct<state columns>>   their state (null: empty or expired)
//	timer_key          list<int32>                   due timers: index into keys,
//	timer_ts           list<int64>                   time (ms), per key in time order,
//	timer_domain       list<int8>                    0 event time, 1 processing time
//	watermark          int64                         the watermark (ms) timers see: every timer at or before it is due
//	element_watermark  int64                         the watermark (ms) elements see (the one before)
//	processing_time    int64                         the wall clock (ms)
//
// A result:
//
//	output             list<struct<output columns>>  main output rows
//	side_<i>           list<struct<side i columns>>  rows of side output i (each declared one)
//	state              list<struct<state columns>>   the new state of every key of the call (null: cleared)
//	state_written      list<struct<bool per state>>  which states were written (restarts their TTL)
//	timer_key, timer_ts, timer_domain              list<…>  timer changes, applied in order:
//	timer_register     list<bool>                    true registers, false deletes
//
// Timers the function registers and fires itself within the call (before a later
// element of the same key) are not returned.

func ms(us int64) int64 { return toMs(us) }

// oneRowList wraps arr as a list array of one row holding all of arr.
func oneRowList(arr arrow.Array) arrow.Array {
	offs := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, int32(arr.Len())}))
	d := array.NewData(arrow.ListOf(arr.DataType()), 1, []*memory.Buffer{nil, offs}, []arrow.ArrayData{arr.Data()}, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

func structOf(fields []arrow.Field, cols []arrow.Array, n int) arrow.Array {
	child := make([]arrow.ArrayData, len(cols))
	for i, c := range cols {
		child[i] = c.Data()
	}
	d := array.NewData(arrow.StructOf(fields...), n, []*memory.Buffer{nil}, child, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

func int64Scalar(mem memory.Allocator, v int64) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.Append(v)
	return b.NewArray()
}

// run makes one call with the released elements els (sorted by key, then time) and the
// due timers, and applies its result.
func (o *ProcessOp) run(els []pendingRow, due []dueTimer, elemWM, wm int64, out runtime.Emitter) error {
	ec := o.tc.Eval
	mem := ec.Mem
	// The keys of the call, in group-id order.
	seen := map[uint32]bool{}
	var gids []uint32
	for _, e := range els {
		if !seen[e.key] {
			seen[e.key] = true
			gids = append(gids, e.key)
		}
	}
	for _, t := range due {
		if !seen[t.key] {
			seen[t.key] = true
			gids = append(gids, t.key)
		}
	}
	sort.Slice(gids, func(a, b int) bool { return gids[a] < gids[b] })
	index := make(map[uint32]int32, len(gids))
	for i, g := range gids {
		index[g] = int32(i)
	}
	sort.SliceStable(due, func(a, b int) bool { return index[due[a].key] < index[due[b].key] })

	var owned []arrow.Array
	defer func() { runtime.ReleaseAll(owned) }()
	keep := func(a arrow.Array) arrow.Array { owned = append(owned, a); return a }

	// Elements.
	refs := make([]keyed.RowRef, len(els))
	ekey := array.NewInt32Builder(mem)
	ets := array.NewInt64Builder(mem)
	for i, e := range els {
		refs[i] = e.ref
		ekey.Append(index[e.key])
		if e.ts == math.MinInt64 {
			ets.AppendNull()
		} else {
			ets.Append(ms(e.ts))
		}
	}
	elemCols, err := o.rows.Gather(ec.Ctx, refs)
	if err != nil {
		ekey.Release()
		ets.Release()
		return err
	}
	for _, c := range elemCols {
		keep(c)
	}
	elemKey, elemTS := keep(ekey.NewArray()), keep(ets.NewArray())
	ekey.Release()
	ets.Release()

	// Keys and state.
	keyCols, err := o.groups.KeysFor(ec.Ctx, o.KeyTypes, gids)
	if err != nil {
		return err
	}
	for _, c := range keyCols {
		keep(c)
	}
	now := o.Clock.NowMillis()
	srefs := make([]keyed.RowRef, len(gids))
	for i, g := range gids {
		srefs[i] = o.stateRefs[g]
	}
	stCols, err := o.states.Gather(ec.Ctx, srefs)
	if err != nil {
		return err
	}
	for _, c := range stCols {
		keep(c)
	}
	ns := len(o.State)
	userState := make([]arrow.Array, ns)
	for i := range o.State {
		userState[i] = stCols[i]
		if o.State[i].TTL > 0 {
			if userState[i], err = maskExpired(ec.Ctx, stCols[i], stCols[ns+i], now); err != nil {
				return err
			}
			keep(userState[i])
		}
	}

	// Due timers.
	tkey := array.NewInt32Builder(mem)
	tts := array.NewInt64Builder(mem)
	tdom := array.NewInt8Builder(mem)
	for _, t := range due {
		tkey.Append(index[t.key])
		tts.Append(t.ts)
		tdom.Append(t.domain)
	}
	timerKey, timerTS, timerDom := keep(tkey.NewArray()), keep(tts.NewArray()), keep(tdom.NewArray())
	tkey.Release()
	tts.Release()
	tdom.Release()

	keyFields := make([]arrow.Field, len(o.KeyTypes))
	for i, t := range o.KeyTypes {
		keyFields[i] = arrow.Field{Name: o.KeyNames[i], Type: t, Nullable: true}
	}
	stFields := o.states.Schema.Fields()[:ns]
	cols := []arrow.Array{
		keep(oneRowList(keep(structOf(o.InSchema.Fields(), elemCols, len(els))))),
		keep(oneRowList(elemKey)),
		keep(oneRowList(elemTS)),
		keep(oneRowList(keep(structOf(keyFields, keyCols, len(gids))))),
		keep(oneRowList(keep(structOf(stFields, userState, len(gids))))),
		keep(oneRowList(timerKey)),
		keep(oneRowList(timerTS)),
		keep(oneRowList(timerDom)),
		keep(int64Scalar(mem, dueMs(wm))),
		keep(int64Scalar(mem, dueMs(elemWM))),
		keep(int64Scalar(mem, now)),
	}
	names := []string{"elements", "element_key", "element_ts", "keys", "state", "timer_key", "timer_ts", "timer_domain",
		"watermark", "element_watermark", "processing_time"}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: names[i], Type: c.DataType(), Nullable: true}
	}
	call := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 1)
	defer call.Release()
	res, err := udf.Call(o.Name, o.Udf, call)
	if err != nil {
		return err
	}
	defer res.Release()
	// The elements are handed over: forget them.
	for _, e := range els {
		o.rows.Drop(e.ref)
	}
	if err := o.applyState(res, gids, userState, stCols[ns:], now); err != nil {
		return err
	}
	if err := o.applyTimers(res, gids); err != nil {
		return err
	}
	return o.emit(res, out)
}

// maskExpired returns vals with the entries whose expiry (exp, ms; null: never) is at or
// before now set to null.
func maskExpired(ctx context.Context, vals, exp arrow.Array, now int64) (arrow.Array, error) {
	e := exp.(*array.Int64)
	some := false
	for i := 0; i < e.Len(); i++ {
		if e.IsValid(i) && state.Expired(e.Value(i), now) {
			some = true
			break
		}
	}
	if !some {
		vals.Retain()
		return vals, nil
	}
	b := array.NewInt32Builder(compute.GetAllocator(ctx))
	defer b.Release()
	for i := 0; i < e.Len(); i++ {
		if e.IsValid(i) && state.Expired(e.Value(i), now) {
			b.AppendNull()
		} else {
			b.Append(int32(i))
		}
	}
	idx := b.NewArray()
	defer idx.Release()
	return compute.TakeArray(ctx, vals, idx)
}

// list returns the values of one-row list column name of res (nil if absent).
func list(res arrow.RecordBatch, name string) (arrow.Array, error) {
	idx := res.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, nil
	}
	if res.NumRows() != 1 {
		return nil, fmt.Errorf("the result has %d rows; it must have one", res.NumRows())
	}
	l, ok := res.Column(idx[0]).(array.ListLike)
	if !ok {
		return nil, fmt.Errorf("result column %q is %s; it must be a list", name, res.Column(idx[0]).DataType())
	}
	start, end := l.ValueOffsets(0)
	return array.NewSlice(l.ListValues(), start, end), nil
}

// structFields returns the field arrays of a struct array, checked against want.
func structFields(a arrow.Array, want []arrow.Field, what string) ([]arrow.Array, error) {
	s, ok := a.(*array.Struct)
	if !ok {
		return nil, fmt.Errorf("%s must be rows (a struct list), got %s", what, a.DataType())
	}
	st := s.DataType().(*arrow.StructType)
	got := arrow.NewSchema(st.Fields(), nil)
	if !expr.SameColumns(got, arrow.NewSchema(want, nil)) {
		return nil, fmt.Errorf("%s has columns %s, but %s are declared", what, expr.DescribeSchema(got), expr.DescribeSchema(arrow.NewSchema(want, nil)))
	}
	out := make([]arrow.Array, s.NumField())
	for i := range out {
		out[i] = s.Field(i)
	}
	return out, nil
}

func (o *ProcessOp) bad(err error) error {
	return rberr.New(rberr.UserFunction, "%s: the process function returned a malformed result: %v", o.Name, err)
}

// applyState stores the new state of the call's keys.
func (o *ProcessOp) applyState(res arrow.RecordBatch, gids []uint32, old []arrow.Array, oldExp []arrow.Array, now int64) error {
	ns := len(o.State)
	if ns == 0 {
		return nil
	}
	sl, err := list(res, "state")
	if err != nil {
		return o.bad(err)
	}
	if sl == nil {
		return o.bad(fmt.Errorf("no state column"))
	}
	defer sl.Release()
	if sl.Len() != len(gids) {
		return o.bad(fmt.Errorf("state has %d rows for the %d keys of the call", sl.Len(), len(gids)))
	}
	vals, err := structFields(sl, o.states.Schema.Fields()[:ns], "state")
	if err != nil {
		return o.bad(err)
	}
	var written []arrow.Array
	if wl, err := list(res, "state_written"); err != nil {
		return o.bad(err)
	} else if wl != nil {
		defer wl.Release()
		wf := make([]arrow.Field, ns)
		for i, s := range o.State {
			wf[i] = arrow.Field{Name: s.Name, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}
		}
		if wl.Len() != len(gids) {
			return o.bad(fmt.Errorf("state_written has %d rows for the %d keys of the call", wl.Len(), len(gids)))
		}
		if written, err = structFields(wl, wf, "state_written"); err != nil {
			return o.bad(err)
		}
	}
	mem := o.tc.Eval.Mem
	exps := make([]arrow.Array, ns)
	live := make([]bool, len(gids))
	for i, s := range o.State {
		b := array.NewInt64Builder(mem)
		oe := oldExp[i].(*array.Int64)
		for k := range gids {
			valid := vals[i].IsValid(k)
			if !valid {
				b.AppendNull()
				continue
			}
			live[k] = true
			w := written == nil || (written[i].IsValid(k) && written[i].(*array.Boolean).Value(k))
			switch {
			case s.TTL <= 0:
				b.AppendNull()
			case w || s.UpdateOnRead || !old[i].IsValid(k) || oe.IsNull(k):
				b.Append(now + s.TTL.Milliseconds())
			default:
				b.Append(oe.Value(k))
			}
		}
		exps[i] = b.NewArray()
		b.Release()
	}
	defer runtime.ReleaseAll(exps)
	for _, g := range gids {
		if r := o.stateRefs[g]; r.Chunk >= 0 {
			o.states.Drop(r)
			o.stateRefs[g] = keyed.RowRef{Chunk: -1}
		}
	}
	n := 0
	for _, l := range live {
		if l {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	rec := array.NewRecordBatch(o.states.Schema, append(append([]arrow.Array{}, vals...), exps...), int64(len(gids)))
	defer rec.Release()
	chunk, err := o.states.Add(rec)
	if err != nil {
		return err
	}
	o.states.Live[chunk] = n
	for k, g := range gids {
		if live[k] {
			o.stateRefs[g] = keyed.RowRef{Chunk: chunk, Row: int32(k)}
		}
	}
	if o.calls++; o.calls%16 == 0 {
		return o.compactStates()
	}
	return nil
}

// compactStates rewrites the state rows into one batch when the batches kept hold more
// than twice the rows still referenced: each call's batch stays alive while any of its
// keys has not been written since, which would otherwise let memory grow with the calls.
func (o *ProcessOp) compactStates() error {
	total := o.states.HeldRows()
	var gids []uint32
	var refs []keyed.RowRef
	for g, r := range o.stateRefs {
		if r.Chunk >= 0 {
			gids, refs = append(gids, uint32(g)), append(refs, r)
		}
	}
	if total <= 2*len(refs)+64 {
		return nil
	}
	moved, err := o.states.Compact(o.tc.Eval.Ctx, refs)
	if err != nil {
		return err
	}
	for i, g := range gids {
		o.stateRefs[g] = moved[i]
	}
	return nil
}

// applyTimers registers and deletes timers as the result says, in order.
func (o *ProcessOp) applyTimers(res arrow.RecordBatch, gids []uint32) error {
	var cols [4]arrow.Array
	for i, name := range []string{"timer_key", "timer_ts", "timer_domain", "timer_register"} {
		c, err := list(res, name)
		if err != nil {
			return o.bad(err)
		}
		if c == nil {
			if i == 0 {
				return nil
			}
			return o.bad(fmt.Errorf("no %s column", name))
		}
		defer c.Release()
		cols[i] = c
	}
	keys, ok1 := cols[0].(*array.Int32)
	tss, ok2 := cols[1].(*array.Int64)
	doms, ok3 := cols[2].(*array.Int8)
	regs, ok4 := cols[3].(*array.Boolean)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return o.bad(fmt.Errorf("timer changes must be int32 keys, int64 times, int8 domains and bool registers"))
	}
	n := keys.Len()
	if tss.Len() != n || doms.Len() != n || regs.Len() != n {
		return o.bad(fmt.Errorf("timer change columns differ in length"))
	}
	for i := 0; i < n; i++ {
		k := keys.Value(i)
		if keys.IsNull(i) || k < 0 || int(k) >= len(gids) || tss.IsNull(i) {
			return o.bad(fmt.Errorf("timer change %d names no key of the call", i))
		}
		d := doms.Value(i)
		if d != DomainEvent && d != DomainProcessing {
			return o.bad(fmt.Errorf("timer change %d has unknown time domain %d", i, d))
		}
		t := o.timerOf(gids[k], tss.Value(i))
		var err error
		if regs.Value(i) {
			err = o.timers.Register(state.TimeDomain(d), t)
		} else {
			err = o.timers.Delete(state.TimeDomain(d), t)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// emit sends the main and side output rows.
func (o *ProcessOp) emit(res arrow.RecordBatch, out runtime.Emitter) error {
	mem := o.tc.Eval.Mem
	main, err := list(res, "output")
	if err != nil {
		return o.bad(err)
	}
	if main == nil {
		return o.bad(fmt.Errorf("no output column"))
	}
	defer main.Release()
	mcols, err := structFields(main, o.Main.Fields(), "output")
	if err != nil {
		return o.bad(err)
	}
	if len(o.Sides) == 0 {
		if main.Len() == 0 {
			return nil
		}
		return runtime.EmitSliced(array.NewRecordBatch(o.Main, mcols, int64(main.Len())), o.batch(), out)
	}
	// Main and side rows in one batch: each part fills its own columns, nulls elsewhere.
	parts := make([][]arrow.Array, o.schema.NumFields())
	defer func() {
		for _, p := range parts {
			runtime.ReleaseAll(p)
		}
	}()
	total := 0
	add := func(which int, cols []arrow.Array, n int) {
		if n == 0 {
			return
		}
		total += n
		at := 0
		for s := -1; s < len(o.Sides); s++ {
			w := o.Main.NumFields()
			if s >= 0 {
				w = o.Sides[s].NumFields()
			}
			for c := 0; c < w; c++ {
				if s+1 == which {
					cols[c].Retain()
					parts[at] = append(parts[at], cols[c])
				} else {
					parts[at] = append(parts[at], array.MakeArrayOfNull(mem, o.schema.Field(at).Type, n))
				}
				at++
			}
		}
		b := array.NewInt32Builder(mem)
		for i := 0; i < n; i++ {
			b.Append(int32(which))
		}
		parts[at] = append(parts[at], b.NewArray())
		b.Release()
	}
	add(0, mcols, main.Len())
	for s, sch := range o.Sides {
		sl, err := list(res, "side_"+itoa(s))
		if err != nil {
			return o.bad(err)
		}
		if sl == nil {
			continue
		}
		defer sl.Release()
		scols, err := structFields(sl, sch.Fields(), fmt.Sprintf("side output %d", s))
		if err != nil {
			return o.bad(err)
		}
		add(s+1, scols, sl.Len())
	}
	if total == 0 {
		return nil
	}
	cols := make([]arrow.Array, len(parts))
	defer runtime.ReleaseAll(cols)
	for i, p := range parts {
		if len(p) == 1 {
			p[0].Retain()
			cols[i] = p[0]
			continue
		}
		if cols[i], err = array.Concatenate(p, mem); err != nil {
			return err
		}
	}
	return runtime.EmitSliced(array.NewRecordBatch(o.schema, cols, int64(total)), o.batch(), out)
}

func (o *ProcessOp) batch() int {
	if o.Batch > 0 {
		return o.Batch
	}
	return 65536
}
