package window_test

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

var inSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "ts", Type: tsType},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

type event struct {
	k     any
	ts, v int64
}

// stream is batches of rows whose event times advance with some disorder, each stamped
// with the current watermark (as streaming mode does), and watermarks every other batch
// (so some rows are late).
func stream(seed int64, batches int) ([]opstest.Step, [][]event, []int64) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var evs [][]event
	var stamps []int64 // per step: the watermark (watermark steps) or batch stamp
	wm := int64(math.MinInt64)
	for b := 0; b < batches; b++ {
		n := 1 + rng.Intn(12)
		rows := make([][]any, n)
		var es []event
		for i := range rows {
			var k any = int64(rng.Intn(6))
			if rng.Intn(10) == 0 {
				k = nil
			}
			e := event{k: k, ts: int64(b*4 + rng.Intn(24) - 12), v: int64(rng.Intn(100))}
			rows[i] = []any{e.k, e.ts, e.v}
			es = append(es, e)
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0), WM: wm, HasWM: true})
		evs = append(evs, es)
		stamps = append(stamps, wm)
		if b%2 == 1 {
			wm = int64(b*4 - 6)
			steps = append(steps, opstest.Step{WM: wm})
			evs = append(evs, nil)
			stamps = append(stamps, wm)
		}
	}
	return steps, evs, stamps
}

func aggs(t *testing.T, more ...[3]string) []agg.Spec {
	var out []agg.Spec
	for _, a := range append([][3]string{{"count", "", "n"}, {"sum", "v", "sum_v"}, {"max", "v", "max_v"}}, more...) {
		e := &plan.Expr{Agg: a[0]}
		if a[1] != "" {
			c := a[1]
			e.Args = []*plan.Expr{{Col: &c}}
		}
		alias := a[2]
		s, err := agg.Compile(&expr.CompileScope{Schema: inSchema, Op: "test"}, &plan.Expr{Alias: &alias, Args: []*plan.Expr{e}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func outSchema(as []agg.Spec) *arrow.Schema {
	fs := []arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "window_start", Type: tsType}, {Name: "window_end", Type: tsType}}
	for _, a := range as {
		fs = append(fs, arrow.Field{Name: a.Name, Type: a.OutType, Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

func windowOp(t *testing.T, def plan.WindowDef, lateness int64) opstest.Op {
	return windowOpOf(t, def, lateness, aggs(t))
}

// windowOpOf is windowOp with aggregations as.
func windowOpOf(t *testing.T, def plan.WindowDef, lateness int64, as []agg.Spec) opstest.Op {
	w, err := window.Compile(&def, "window_agg")
	if err != nil {
		t.Fatal(err)
	}
	keys := []expr.Expr{opstest.Col(inSchema, "k")}
	schema := outSchema(as)
	return opstest.Op{
		New: func() runtime.Operator {
			if def.Kind == "session" {
				return &window.SessionAggOp{Name: "window_agg", Keys: keys, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
					Aggs: as, Schema: schema, Gap: w.Gap, Lateness: lateness, TimeIdx: 1, TimeType: tsType, BatchSize: 5}
			}
			return &window.WindowAggOp{Name: "window_agg", Keys: keys, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
				Aggs: as, Schema: schema, Win: w, Lateness: lateness, TimeIdx: 1, TimeType: tsType, BatchSize: 5}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 32,
	}
}

type winAcc struct {
	n, sum, max int64
	vals        []int64 // for the median, with withMedian
}

func (a *winAcc) add(v int64) {
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.n++
	a.sum += v
	if withMedian {
		a.vals = append(a.vals, v)
	}
}

// withMedian makes the references' rows end with the median of v (aggs(t, medianOfV)).
var withMedian bool

var medianOfV = [3]string{"median", "v", "median_v"}

func row(k any, start, end int64, a *winAcc) string {
	if !withMedian {
		return opstest.Row(k, start, end, a.n, a.sum, a.max)
	}
	vs := slices.Clone(a.vals)
	slices.Sort(vs)
	m := float64(vs[len(vs)/2])
	if len(vs)%2 == 0 {
		m = (float64(vs[len(vs)/2-1]) + m) / 2
	}
	return opstest.Row(k, start, end, a.n, a.sum, a.max, m)
}

// refWindows is the reference for tumbling, sliding and cumulate windows (windows gives
// the windows of an event time) with allowed lateness: a row joins each of its
// windows whose end-1+lateness is above its batch's watermark; a window fires when the
// watermark reaches end-1, and each batch that updates a fired window re-emits the keys
// it changed; the window is dropped once the watermark reaches end-1+lateness.
func refWindows(evs [][]event, stamps []int64, windows func(ts int64) [][2]int64, lateness int64) []string {
	type wk struct {
		start, end int64
		k          string
	}
	accs := map[wk]*winAcc{}
	keys := map[wk]any{}
	fired := map[[2]int64]bool{}
	dropped := map[[2]int64]bool{}
	var out []string
	fire := func(wm int64) {
		for key, a := range accs {
			w := [2]int64{key.start, key.end}
			if !fired[w] && key.end-1 <= wm {
				out = append(out, row(keys[key], key.start, key.end, a))
			}
		}
		for key := range accs {
			w := [2]int64{key.start, key.end}
			if key.end-1 <= wm {
				fired[w] = true
			}
			if key.end-1+lateness <= wm {
				delete(accs, key)
				dropped[w] = true
			}
		}
	}
	for i, es := range evs {
		if es == nil {
			fire(stamps[i])
			continue
		}
		touched := map[wk]bool{}
		for _, e := range es {
			for _, w := range windows(e.ts) {
				start, end := w[0], w[1]
				if end-1+lateness <= stamps[i] {
					continue
				}
				key := wk{start, end, opstest.Row(e.k)}
				if accs[key] == nil {
					accs[key] = &winAcc{}
					keys[key] = e.k
				}
				accs[key].add(e.v)
				if fired[[2]int64{start, end}] {
					touched[key] = true
				}
			}
		}
		for key := range touched {
			out = append(out, row(keys[key], key.start, key.end, accs[key]))
		}
	}
	fire(math.MaxInt64)
	sort.Strings(out)
	return out
}

// refSessions is the reference for session windows: per key, a row at t (unless
// t+gap-1+lateness is at or below its batch's watermark) merges with the sessions
// overlapping [t, t+gap); the merged session has fired only if all its parts had. A
// session fires when the watermark reaches its end-1 and is dropped when it reaches
// end-1+lateness; a batch that updates a fired session re-emits it.
func refSessions(evs [][]event, stamps []int64, gap, lateness int64) []string {
	type sess struct {
		start, end int64
		acc        winAcc
		fired      bool
	}
	byKey := map[string][]*sess{}
	keyOf := map[string]any{}
	var out []string
	fire := func(wm int64) {
		for k, ss := range byKey {
			var keep []*sess
			for _, s := range ss {
				if !s.fired && s.end-1 <= wm {
					out = append(out, row(keyOf[k], s.start, s.end, &s.acc))
					s.fired = true
				}
				if !(s.fired && s.end-1+lateness <= wm) {
					keep = append(keep, s)
				}
			}
			byKey[k] = keep
		}
	}
	for i, es := range evs {
		if es == nil {
			fire(stamps[i])
			continue
		}
		touched := map[*sess]string{}
		for _, e := range es {
			lo, hi := e.ts, e.ts+gap
			if hi-1+lateness <= stamps[i] {
				continue
			}
			k := opstest.Row(e.k)
			keyOf[k] = e.k
			merged := &sess{start: lo, end: hi, fired: true}
			merged.acc.add(e.v)
			parts := 0
			keep := byKey[k]
			for changed := true; changed; {
				changed = false
				var rest []*sess
				for _, s := range keep {
					if s.end > merged.start && s.start < merged.end {
						merged.start, merged.end = min(merged.start, s.start), max(merged.end, s.end)
						merged.acc.n += s.acc.n
						merged.acc.sum += s.acc.sum
						merged.acc.max = max(merged.acc.max, s.acc.max)
						merged.fired = merged.fired && s.fired
						parts++
						changed = true
					} else {
						rest = append(rest, s)
					}
				}
				keep = rest
			}
			if parts == 0 {
				merged.fired = false // a new session
			}
			byKey[k] = append(keep, merged)
			if merged.fired {
				touched[merged] = k
			}
		}
		for s, k := range touched {
			alive := false
			for _, x := range byKey[k] {
				alive = alive || x == s
			}
			if alive && s.fired {
				out = append(out, row(keyOf[k], s.start, s.end, &s.acc))
			}
		}
	}
	fire(math.MaxInt64)
	sort.Strings(out)
	return out
}

// Tumbling, sliding, cumulate and session windows give the reference's results straight,
// checkpointed every few batches and restored at other parallelisms, on both backends;
// with allowed lateness, windows that fired before a checkpoint are not fired again
// after it, and late rows still update them.
func TestWindowStateThreeWays(t *testing.T) {
	steps, evs, stamps := stream(3, 40)
	defer opstest.Release(steps)
	sliding, cumulate := slidingOf, cumulateOf
	cases := []struct {
		def      plan.WindowDef
		windows  func(int64) [][2]int64
		lateness int64
	}{
		{plan.WindowDef{Kind: "tumbling", Size: "10us"}, sliding(10, 10), 0},
		{plan.WindowDef{Kind: "tumbling", Size: "10us"}, sliding(10, 10), 15},
		{plan.WindowDef{Kind: "sliding", Size: "12us", Slide: "4us"}, sliding(12, 4), 0},
		{plan.WindowDef{Kind: "sliding", Size: "12us", Slide: "4us"}, sliding(12, 4), 9},
		{plan.WindowDef{Kind: "cumulate", Step: "4us", Size: "16us"}, cumulate(4, 16), 0},
		// Slices narrower than the slide (its and the size's greatest common divisor), and
		// slides longer than the size (rows between windows are late).
		{plan.WindowDef{Kind: "sliding", Size: "10us", Slide: "4us"}, sliding(10, 4), 0},
		{plan.WindowDef{Kind: "sliding", Size: "10us", Slide: "4us"}, sliding(10, 4), 7},
		{plan.WindowDef{Kind: "sliding", Size: "4us", Slide: "6us"}, sliding(4, 6), 3},
		{plan.WindowDef{Kind: "cumulate", Step: "4us", Size: "16us"}, cumulate(4, 16), 9},
		{plan.WindowDef{Kind: "session", Gap: "3us"}, nil, 0},
		{plan.WindowDef{Kind: "session", Gap: "3us"}, nil, 12},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s lateness %d/", c.def.Kind, c.lateness), func(t *testing.T) {
			var want []string
			if c.def.Kind == "session" {
				want = refSessions(evs, stamps, 3, c.lateness)
			} else {
				want = refWindows(evs, stamps, c.windows, c.lateness)
			}
			if len(want) < 20 {
				t.Fatalf("the reference has only %d rows: the stream does not exercise the operator", len(want))
			}
			opstest.RunAll(t, windowOp(t, c.def, c.lateness), steps, 8, want)
		})
	}
}

// State saved with other aggregations is refused with an error naming the operator and
// the table.
func TestWindowStateOfAnotherVersion(t *testing.T) {
	steps, _, _ := stream(4, 6)
	defer opstest.Release(steps)
	for _, def := range []plan.WindowDef{{Kind: "tumbling", Size: "10us"}, {Kind: "session", Gap: "3us"}} {
		a := windowOp(t, def, 0)
		b := a
		b.New = func() runtime.Operator {
			switch op := a.New().(type) {
			case *window.WindowAggOp:
				op.Aggs = op.Aggs[:1]
				op.Schema = arrow.NewSchema(op.Schema.Fields()[:4], nil)
				return op
			case *window.SessionAggOp:
				op.Aggs = op.Aggs[:1]
				op.Schema = arrow.NewSchema(op.Schema.Fields()[:4], nil)
				return op
			}
			return nil
		}
		err := opstest.RestoreError(t, a, b, steps, state.MemoryBackend)
		if err == nil || !strings.Contains(err.Error(), "window_agg") || !strings.Contains(err.Error(), "acc:sum_v") {
			t.Fatalf("%s: restoring another version's state: %v", def.Kind, err)
		}
	}
}

// A savepoint's window state is typed Arrow readable without riverbed: the panes table's
// streams have the key (with its nulls), the window bounds, and per aggregation the
// accumulator state (a count as int64); the counts are the rows of the windows still open.
func TestWindowSavepointIsReadableArrow(t *testing.T) {
	steps, evs, stamps := stream(12, 20)
	defer opstest.Release(steps)
	op := windowOp(t, plan.WindowDef{Kind: "tumbling", Size: "10us"}, 0)
	recs := opstest.SavepointTable(t, op, steps, window.PanesTable)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	wantFields := "k: int64, window_start: int64, window_end: int64, fired: bool, acc:n: int64, acc:sum_v: binary, acc:max_v: binary"
	var rows, nulls, open int64
	for _, r := range recs {
		if got := expr.DescribeSchema(r.Schema()); !strings.Contains(got, wantFields) {
			t.Fatalf("panes table columns %s, want %s", got, wantFields)
		}
		rows += r.NumRows()
		nulls += int64(r.Column(0).NullN())
		for i := 0; i < int(r.NumRows()); i++ {
			open += r.Column(4).(*array.Int64).Value(i)
		}
	}
	// The reference: rows not late whose window the last watermark has not closed.
	wm := stamps[len(stamps)-1]
	var want int64
	for i, es := range evs {
		for _, e := range es {
			end := int64(math.Floor(float64(e.ts)/10))*10 + 10
			if end-1 > stamps[i] && end-1 > wm {
				want++
			}
		}
	}
	if open != want || rows == 0 || nulls == 0 {
		t.Fatalf("savepoint panes: %d groups (%d null keys) counting %d rows, want %d rows", rows, nulls, open, want)
	}
}

// With WindowTime the results have window_time, the window's last microsecond, after
// window_end (the reference's rows with it), straight, checkpointed and restored at other
// parallelisms.
func TestWindowTimeColumnThreeWays(t *testing.T) {
	steps, evs, stamps := stream(3, 40)
	defer opstest.Release(steps)
	withTime := func(rows []string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			parts := strings.Split(r, " | ")
			end, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil {
				t.Fatalf("window_end %q: %v", parts[2], err)
			}
			out[i] = strings.Join(append(append(parts[:3:3], strconv.FormatInt(end-1, 10)), parts[3:]...), " | ")
		}
		return out
	}
	tumbling := func(ts int64) [][2]int64 {
		s := int64(math.Floor(float64(ts)/10)) * 10
		return [][2]int64{{s, s + 10}}
	}
	for _, def := range []plan.WindowDef{{Kind: "tumbling", Size: "10us"}, {Kind: "session", Gap: "3us"}} {
		t.Run(def.Kind+"/", func(t *testing.T) {
			want := refSessions(evs, stamps, 3, 0)
			if def.Kind != "session" {
				want = refWindows(evs, stamps, tumbling, 0)
			}
			op := windowOp(t, def, 0)
			base := op.New
			fs := outSchema(aggs(t)).Fields()
			schema := arrow.NewSchema(append(append(fs[:3:3], arrow.Field{Name: "window_time", Type: tsType}), fs[3:]...), nil)
			op.New = func() runtime.Operator {
				switch o := base().(type) {
				case *window.WindowAggOp:
					o.WindowTime, o.Schema = true, schema
					return o
				case *window.SessionAggOp:
					o.WindowTime, o.Schema = true, schema
					return o
				}
				t.Fatal("unexpected operator")
				return nil
			}
			opstest.RunAll(t, op, steps, 8, withTime(want))
		})
	}
}
