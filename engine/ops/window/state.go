package window

import (
	"container/heap"
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// Checkpointed window state. The operator's watermark is not saved: it is not keyed, and
// after a restore it comes back with the first watermark from the inputs (as in Flink).
// Whether a window has fired is saved, so a window kept for allowed lateness is not
// emitted again.

// PanesTable is the state table of tumbling, sliding and cumulate windows: one row per
// (window, key) with its key columns, window_start and window_end (event-time µs, or
// processing time), fired, and the accumulator states (agg.AccFields).
const PanesTable = "panes.v1"

// SessionsTable is the state table of session windows: one row per open session with its
// key columns, window_start and window_end (the session's bounds), fired, and the
// accumulator states.
const SessionsTable = "sessions.v1"

var boundFields = []arrow.Field{
	{Name: "window_start", Type: arrow.PrimitiveTypes.Int64},
	{Name: "window_end", Type: arrow.PrimitiveTypes.Int64},
	{Name: "fired", Type: arrow.FixedWidthTypes.Boolean},
}

func stateSchema(out *arrow.Schema, keyTypes []arrow.DataType, aggs []agg.Spec) *arrow.Schema {
	fs := append(agg.KeyFields(out, keyTypes), boundFields...)
	return arrow.NewSchema(append(fs, agg.AccFields(aggs)...), nil)
}

func boundColumns(tc *runtime.TaskCtx, starts, ends []int64, fired []bool) []arrow.Array {
	mem := tc.Eval.Mem
	fb := array.NewBooleanBuilder(mem)
	defer fb.Release()
	fb.AppendValues(fired, nil)
	return []arrow.Array{keyed.Int64Column(mem, starts), keyed.Int64Column(mem, ends), fb.NewArray()}
}

// StateTables implements runtime.KeyedState.
func (o *WindowAggOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(PanesTable)}
}

// SaveState implements runtime.KeyedState: every (window, key) pane group.
func (o *WindowAggOp) SaveState(b state.Backend) error {
	w := keyed.NewStateWriter(o.tc.Eval, o.Name, PanesTable, stateSchema(o.Schema, o.KeyTypes, o.Aggs))
	defer w.Release()
	// With slicing, a window still to fire is its pane and its slices merged.
	sliced := o.slicedWindows()
	isSliced := map[[2]int64]bool{}
	wins := o.sortedPanes()
	for _, win := range sliced {
		isSliced[win] = true
		if o.panes[win] == nil {
			wins = append(wins, win)
		}
	}
	sortWindows(wins)
	for _, win := range wins {
		if o.windowSpilled(win) {
			// Spilled (spill.go): a partition of the window's groups at a time.
			fired := o.panes[win] != nil && o.panes[win].fired // kept for allowed lateness
			err := o.mergeWindow(win, func(t *agg.Table) error {
				if err := o.saveWindow(w, win, t, fired); err != nil {
					return err
				}
				return w.Write(b)
			})
			if err != nil {
				return err
			}
			continue
		}
		if isSliced[win] {
			t, err := o.windowTable(win)
			if err != nil {
				return err
			}
			err = o.saveWindow(w, win, t, false)
			t.Release()
			if err != nil {
				return err
			}
			continue
		}
		p := o.panes[win]
		if err := o.saveWindow(w, win, p.agg, p.fired); err != nil {
			return err
		}
	}
	return w.Write(b)
}

// saveWindow adds the groups of table t of window win to w.
func (o *WindowAggOp) saveWindow(w *keyed.StateWriter, win [2]int64, t *agg.Table, isFired bool) error {
	n := t.NumGroups()
	if n == 0 {
		return nil
	}
	keys, accs, err := t.SaveGroups(o.tc.Eval.Mem, nil)
	if err != nil {
		return err
	}
	starts, ends, fired := make([]int64, n), make([]int64, n), make([]bool, n)
	for i := range starts {
		starts[i], ends[i], fired[i] = win[0], win[1], isFired
	}
	cols := append(append(append([]arrow.Array{}, keys...), boundColumns(o.tc, starts, ends, fired)...), accs...)
	err = w.AddColumns(cols, n, keyed.KeyGroups(keys, n, o.tc.MaxParallelism()))
	runtime.ReleaseAll(cols)
	return err
}

// LoadState implements runtime.KeyedState.
func (o *WindowAggOp) LoadState(b state.Backend) error {
	nk := len(o.KeyTypes)
	return keyed.ReadState(b, o.tc.Eval.Mem, o.Name, PanesTable, stateSchema(o.Schema, o.KeyTypes, o.Aggs), func(_ int, rec arrow.RecordBatch) error {
		starts, ends := keyed.Int64s(rec.Column(nk)), keyed.Int64s(rec.Column(nk+1))
		fired := rec.Column(nk + 2).(*array.Boolean)
		n := int(rec.NumRows())
		// Rows of one window are contiguous (SaveState adds a window's groups together).
		for at := 0; at < n; {
			end := at + 1
			for end < n && starts[end] == starts[at] && ends[end] == ends[at] {
				end++
			}
			win := [2]int64{starts[at], ends[at]}
			p := o.panes[win]
			if p == nil {
				p = &pane{start: win[0], end: win[1], agg: agg.NewTable(o.Name, o.Keys, o.KeyTypes, o.Aggs)}
				o.panes[win] = p
			}
			p.fired = fired.Value(at)
			part := rec.NewSlice(int64(at), int64(end))
			_, err := p.agg.LoadGroups(o.tc.Eval.Ctx, part.Columns()[:nk], part.Columns()[nk+3:])
			part.Release()
			if err == nil {
				err = o.checkCap(end - at)
			}
			if err != nil {
				return err
			}
			at = end
		}
		return nil
	})
}

// StateTables implements runtime.KeyedState.
func (o *SessionAggOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(SessionsTable)}
}

// SaveState implements runtime.KeyedState: every session still open or kept for
// lateness.
func (o *SessionAggOp) SaveState(b state.Backend) error {
	var ss []*session
	for _, list := range o.sessions.lists {
		ss = append(ss, list...)
	}
	if len(ss) == 0 {
		return o.saveCold(b)
	}
	sort.Slice(ss, func(a, b int) bool {
		if ss[a].key != ss[b].key {
			return ss[a].key < ss[b].key
		}
		return ss[a].start < ss[b].start
	})
	n := len(ss)
	keyIDs, ids := make([]uint32, n), make([]uint32, n)
	starts, ends, fired := make([]int64, n), make([]int64, n), make([]bool, n)
	for i, s := range ss {
		keyIDs[i], ids[i], starts[i], ends[i], fired[i] = s.key, s.id, s.start, s.end, s.fired
	}
	mem := o.tc.Eval.Mem
	keys, err := o.keyAgg.KeyColumns(mem, keyIDs)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(keys)
	_, accs, err := o.state.SaveGroups(mem, ids)
	if err != nil {
		return err
	}
	cols := append(append(append([]arrow.Array{}, keys...), boundColumns(o.tc, starts, ends, fired)...), accs...)
	defer runtime.ReleaseAll(cols[len(keys):])
	w := keyed.NewStateWriter(o.tc.Eval, o.Name, SessionsTable, stateSchema(o.Schema, o.KeyTypes, o.Aggs))
	if err := w.AddColumns(cols, n, keyed.KeyGroups(keys, n, o.tc.MaxParallelism())); err != nil {
		w.Release()
		return err
	}
	if err := w.Write(b); err != nil {
		return err
	}
	return o.saveCold(b)
}

// LoadState implements runtime.KeyedState.
func (o *SessionAggOp) LoadState(b state.Backend) error {
	nk := len(o.KeyTypes)
	err := keyed.ReadState(b, o.tc.Eval.Mem, o.Name, SessionsTable, stateSchema(o.Schema, o.KeyTypes, o.Aggs), func(_ int, rec arrow.RecordBatch) error {
		fb := rec.Column(nk + 2).(*array.Boolean)
		fired := make([]bool, fb.Len())
		for i := range fired {
			fired[i] = fb.Value(i)
		}
		_, err := o.addSessions(rec.Columns()[:nk], keyed.Int64s(rec.Column(nk)), keyed.Int64s(rec.Column(nk+1)), fired, rec.Columns()[nk+3:])
		return err
	})
	if err != nil {
		return err
	}
	if o.cold != nil {
		o.cold.since = math.MaxInt32 // measure now
	}
	return o.checkCap(0)
}

// addSessions adds sessions (their key columns, bounds and accumulator state columns)
// to memory, and returns the key id of each.
func (o *SessionAggOp) addSessions(keys []arrow.Array, starts, ends []int64, fired []bool, accs []arrow.Array) ([]uint32, error) {
	n := len(starts)
	keyIDs, err := o.keyAgg.ConsumeKeys(o.tc.Eval.Ctx, keys, n)
	if err != nil {
		return nil, err
	}
	ids := make([]uint32, n)
	for i := range ids {
		s := &session{start: starts[i], end: ends[i], id: o.newID(), key: keyIDs[i], fired: fired[i]}
		ids[i] = s.id
		list := o.sessions.of(s.key)
		at := sort.Search(len(list), func(j int) bool { return list[j].start > s.start })
		list = append(list, nil)
		copy(list[at+1:], list[at:])
		list[at] = s
		o.sessions.set(s.key, list)
		heap.Push(&o.ends, sessionRef{end: o.dueAt(s), s: s, cleanup: s.fired})
	}
	return keyIDs, o.state.LoadAccs(ids, accs)
}

var (
	_ runtime.KeyedState = (*WindowAggOp)(nil)
	_ runtime.KeyedState = (*SessionAggOp)(nil)
)
