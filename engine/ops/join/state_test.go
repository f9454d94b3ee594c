package join_test

import (
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

func sideSchema(v string) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ts", Type: tsType},
		{Name: v, Type: arrow.PrimitiveTypes.Int64},
		{Name: v + "_id", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
}

var schemas = [2]*arrow.Schema{sideSchema("lv"), sideSchema("rv")}

type event struct {
	side      int
	k         any
	ts, v, id int64
	order     int   // position in the input
	stamp     int64 // the watermark of its batch
}

func (e event) row() []any { return []any{e.k, e.ts, e.v, e.id} }

// stream alternates batches of the two sides, with disordered event times, each stamped
// with the current watermark, and a watermark every third batch.
func stream(seed int64, batches int) ([]opstest.Step, []event) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var accepted []event // every row
	wm := int64(math.MinInt64)
	id, order := int64(0), 0
	for b := 0; b < batches; b++ {
		side := rng.Intn(2)
		n := 1 + rng.Intn(8)
		var rows [][]any
		for i := 0; i < n; i++ {
			var k any = int64(rng.Intn(5))
			if rng.Intn(12) == 0 {
				k = nil
			}
			e := event{side: side, k: k, ts: int64(b*3 + rng.Intn(16) - 8), v: int64(rng.Intn(100)), id: id, order: order, stamp: wm}
			id++
			order++
			rows = append(rows, e.row())
			accepted = append(accepted, e)
		}
		steps = append(steps, opstest.Step{Side: side, Rec: opstest.Batch(schemas[side], rows), Seq: runtime.MakeSeq(side, int64(b), 0), WM: wm, HasWM: true})
		if b%3 == 2 {
			wm = int64(b*3 - 6)
			steps = append(steps, opstest.Step{WM: wm})
		}
	}
	return steps, accepted
}

func joinOp(t *testing.T, how string) opstest.Op {
	strategy := ""
	if rest, ok := strings.CutPrefix(how, "asof-"); ok {
		how, strategy = "asof", rest
	}
	windowHow := ""
	if rest, ok := strings.CutPrefix(how, "window-"); ok {
		how, windowHow = "window", rest
	}
	left := []expr.Expr{opstest.Col(schemas[0], "k")}
	right := []expr.Expr{opstest.Col(schemas[1], "k")}
	fields := append(append([]arrow.Field{}, schemas[0].Fields()...), schemas[1].Field(2), schemas[1].Field(3))
	spec := &join.Spec{Name: how + "_join", How: how, LeftKeys: left, RightKeys: right, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
		LeftSchema: schemas[0], RightSchema: schemas[1], LeftTime: 1, RightTime: 1, RightKeep: []int{2, 3}, TimeType: tsType}
	switch how {
	case "window":
		w, err := window.Compile(&plan.WindowDef{Kind: "tumbling", Size: "10us"}, "window_join")
		if err != nil {
			t.Fatal(err)
		}
		switch windowHow {
		case "notin": // SQL's NOT IN: a null-aware anti join
			windowHow, spec.NullAware = "anti", true
		case "time": // an inner join with window_time
			windowHow, spec.WindowTime = "", true
		}
		spec.Win, spec.WindowHow = w, windowHow
		if windowHow == "semi" || windowHow == "anti" {
			fields, spec.RightKeep = fields[:len(schemas[0].Fields())], nil
		}
		fields = append(fields, arrow.Field{Name: "window_start", Type: tsType}, arrow.Field{Name: "window_end", Type: tsType})
		if spec.WindowTime {
			fields = append(fields, arrow.Field{Name: "window_time", Type: tsType})
		}
	case "interval":
		spec.Lower, spec.Upper = -4, 6
	case "asof":
		spec.Strategy = strategy
		if strategy == "nearest" {
			spec.Tolerance, spec.HasTolerance = 5, true
		}
	}
	spec.Schema = arrow.NewSchema(fields, nil)
	keys := opstest.KeysOf(left, right)
	if spec.NullAware { // gathered: every row goes to the one subtask of the empty key
		keys = opstest.KeysOf(nil, nil)
	}
	return opstest.Op{
		New: func() runtime.Operator {
			base := join.JoinBase{Spec: spec, EmitSz: 7}
			switch how {
			case "window":
				return &join.WindowJoinOp{JoinBase: base, Win: spec.Win}
			case "interval":
				return &join.IntervalJoinOp{JoinBase: base}
			case "asof":
				return &join.AsofJoinOp{JoinBase: base}
			}
			return &join.HashJoinOp{JoinBase: base}
		},
		Keys:   keys,
		MaxPar: 16,
	}
}

func pair(l event, r *event, extra ...any) string {
	vals := l.row()
	if r != nil {
		vals = append(vals, r.v, r.id)
	} else {
		vals = append(vals, nil, nil)
	}
	return opstest.Row(append(vals, extra...)...)
}

// refJoin is the plain definition of each join over the rows that are not late:
// window: pairs of equal (non-null) keys in the same tumbling window of 10; interval:
// pairs with right time in [left-4, left+6]; as-of: each left row with the last right row
// (by time, then input order) of its key at or before its time, or nulls.
//
// asof-forward: the first right row at or after the left row's time (then the first in
// input order); asof-nearest: the closer of the backward and forward rows, the forward
// one on a tie, none if farther than 5; of rows with the forward time, the last in input
// order (as Polars).
func refJoin(how string, all []event) []string {
	// Late rows: for a window join, those whose window has closed; else those at or
	// behind the watermark.
	if how == "inner" || how == "left" || how == "full" {
		return refRegularJoin(how, all)
	}
	strategy := "backward"
	if rest, ok := strings.CutPrefix(how, "asof-"); ok {
		how, strategy = "asof", rest
	}
	windowHow := "inner"
	if rest, ok := strings.CutPrefix(how, "window-"); ok {
		how, windowHow = "window", rest
	}
	var rows []event
	for _, e := range all {
		late := e.ts <= e.stamp
		if how == "window" {
			late = int64(math.Floor(float64(e.ts)/10))*10+10-1 <= e.stamp
		}
		if !late {
			rows = append(rows, e)
		}
	}
	if how == "window" {
		return refWindowJoin(windowHow, rows)
	}
	var out []string
	for _, l := range rows {
		if l.side != 0 {
			continue
		}
		var best, next, nextLast *event
		for i := range rows {
			r := &rows[i]
			if r.side != 1 || l.k == nil || r.k != l.k {
				continue
			}
			switch how {
			case "window":
				ws := int64(math.Floor(float64(l.ts)/10)) * 10
				if int64(math.Floor(float64(r.ts)/10))*10 == ws {
					out = append(out, pair(l, r, ws, ws+10))
				}
			case "interval":
				if r.ts >= l.ts-4 && r.ts <= l.ts+6 {
					out = append(out, pair(l, r))
				}
			default:
				if r.ts <= l.ts && (best == nil || r.ts > best.ts || (r.ts == best.ts && r.order > best.order)) {
					best = r
				}
				if r.ts >= l.ts && (next == nil || r.ts < next.ts || (r.ts == next.ts && r.order < next.order)) {
					next = r
				}
				if r.ts >= l.ts && (nextLast == nil || r.ts < nextLast.ts || (r.ts == nextLast.ts && r.order > nextLast.order)) {
					nextLast = r
				}
			}
		}
		if how == "asof" {
			switch strategy {
			case "forward":
				best = next
			case "nearest":
				if best != nil && l.ts-best.ts > 5 {
					best = nil
				}
				if next != nil && next.ts-l.ts > 5 {
					next = nil
				}
				if next != nil && (best == nil || next.ts-l.ts <= l.ts-best.ts) {
					best = nextLast
				}
			}
			out = append(out, pair(l, best))
		}
	}
	sort.Strings(out)
	return out
}

// refWindowJoin is each kind of window join over the rows that are not late, by its
// definition: the relational join (refHashJoin) of the rows of each tumbling window of 10,
// with the window's bounds.
func refWindowJoin(how string, rows []event) []string {
	wins := map[int64][]event{}
	for _, e := range rows {
		ws := int64(math.Floor(float64(e.ts)/10)) * 10
		wins[ws] = append(wins[ws], e)
	}
	var out []string
	for ws, in := range wins {
		kind, bounds := how, opstest.Row(ws, ws+10)
		switch how {
		case "time": // window_time: the window's last microsecond
			kind, bounds = "inner", opstest.Row(ws, ws+10, ws+9)
		case "notin":
			for _, r := range refNotIn(in) {
				out = append(out, r+" | "+bounds)
			}
			continue
		}
		for _, r := range refHashJoin(kind, in) {
			out = append(out, r+" | "+bounds)
		}
	}
	sort.Strings(out)
	return out
}

// refNotIn is SQL's l.k NOT IN (SELECT r.k ...) over the rows of one window: a left row
// is kept when there is no right row, or when its key is not null and no right row has
// that key or a null one (then k <> every r.k is TRUE, else FALSE or NULL).
func refNotIn(rows []event) []string {
	var out []string
	for _, l := range rows {
		if l.side != 0 {
			continue
		}
		keep := true
		for _, r := range rows {
			if r.side != 1 {
				continue
			}
			if l.k == nil || r.k == nil || r.k == l.k {
				keep = false
			}
		}
		if keep {
			out = append(out, opstest.Row(l.row()...))
		}
	}
	return out
}

// refRegularJoin is the relational join (no event time, nothing late): pairs of equal
// non-null keys; left and full add unmatched left rows with nulls, full also unmatched
// right rows.
func refRegularJoin(how string, rows []event) []string {
	var out []string
	matched := map[int64]bool{}
	for _, l := range rows {
		if l.side != 0 {
			continue
		}
		n := 0
		for i := range rows {
			r := &rows[i]
			if r.side == 1 && l.k != nil && r.k == l.k {
				out = append(out, pair(l, r))
				matched[r.id] = true
				n++
			}
		}
		if n == 0 && how != "inner" {
			out = append(out, pair(l, nil))
		}
	}
	if how == "full" {
		for _, r := range rows {
			if r.side == 1 && !matched[r.id] {
				out = append(out, opstest.Row(nil, nil, nil, nil, r.v, r.id))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Window, interval, as-of and regular joins give the reference's pairs straight,
// checkpointed (each side's buffered rows) and restored at other parallelisms, on both
// backends.
func TestJoinStateThreeWays(t *testing.T) {
	steps, rows := stream(8, 45)
	defer opstest.Release(steps)
	for _, how := range []string{"window", "window-left", "window-right", "window-full", "window-semi", "window-anti",
		"window-notin", "window-time", "interval", "asof", "asof-forward", "asof-nearest", "inner", "left", "full"} {
		t.Run(how+"/", func(t *testing.T) {
			want := refJoin(how, rows)
			if min := map[bool]int{true: 5, false: 20}[how == "window-anti" || how == "window-notin"]; len(want) < min {
				t.Fatalf("only %d pairs", len(want))
			}
			opstest.RunAll(t, joinOp(t, how), steps, 7, want)
		})
	}
}

// State saved by a join over other input columns is refused with an error naming the
// operator and the table.
func TestJoinStateOfAnotherVersion(t *testing.T) {
	steps, _ := stream(9, 6)
	defer opstest.Release(steps)
	a := joinOp(t, "interval")
	b := a
	b.New = func() runtime.Operator {
		op := a.New().(*join.IntervalJoinOp)
		spec := *op.Spec
		spec.LeftSchema = arrow.NewSchema(append(schemas[0].Fields(), arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64}), nil)
		op.Spec = &spec
		return op
	}
	err := opstest.RestoreError(t, a, b, steps, state.MemoryBackend)
	if err == nil || !strings.Contains(err.Error(), "interval_join") || !strings.Contains(err.Error(), join.LeftTable) {
		t.Fatalf("restoring another version's state: %v", err)
	}
}

func hashJoinOp(how string) opstest.Op { return hashJoinOpWhere(how, nil) }

// hashJoinOpWhere is hashJoinOp with the join condition where (nil: none) over the left
// columns then the right ones (the clashing k and ts as k_right and ts_right).
func hashJoinOpWhere(how string, where *plan.Expr) opstest.Op {
	left := []expr.Expr{opstest.Col(schemas[0], "k")}
	right := []expr.Expr{opstest.Col(schemas[1], "k")}
	fields := append([]arrow.Field{}, schemas[0].Fields()...)
	keep := []int{2, 3}
	if how == "semi" || how == "anti" {
		keep = nil
	} else {
		fields = append(fields, schemas[1].Field(2), schemas[1].Field(3))
	}
	spec := &join.Spec{Name: how + "_join", How: how, LeftKeys: left, RightKeys: right, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
		LeftSchema: schemas[0], RightSchema: schemas[1], RightKeep: keep, Schema: arrow.NewSchema(fields, nil)}
	var cond expr.Expr
	var condSchema *arrow.Schema
	if where != nil {
		cf := append([]arrow.Field{}, schemas[0].Fields()...)
		for _, f := range schemas[1].Fields() {
			if f.Name == "k" || f.Name == "ts" {
				f.Name += "_right"
			}
			cf = append(cf, f)
		}
		condSchema = arrow.NewSchema(cf, nil)
		var err error
		if cond, err = (&expr.CompileScope{Schema: condSchema, Op: "test"}).Compile(where); err != nil {
			panic(err)
		}
	}
	return opstest.Op{
		New: func() runtime.Operator {
			return &join.HashJoinOp{JoinBase: join.JoinBase{Spec: spec, EmitSz: 7}, Cond: cond, CondSchema: condSchema}
		},
		Keys:   opstest.KeysOf(left, right),
		MaxPar: 16,
	}
}

// refHashJoin is the plain definition of each relational join kind (null keys match
// nothing; event time plays no part).
func refHashJoin(how string, all []event) []string { return refHashJoinWhere(how, all, nil) }

// refHashJoinWhere is refHashJoin where a pair with equal keys matches only if cond
// holds of it (nil: always).
func refHashJoinWhere(how string, all []event, cond func(l, r event) bool) []string {
	match := func(l, r event) bool { return l.k != nil && r.k == l.k && (cond == nil || cond(l, r)) }
	var out []string
	matched := map[int64]bool{}
	for _, l := range all {
		if l.side != 0 {
			continue
		}
		n := 0
		for _, r := range all {
			if r.side == 1 && match(l, r) {
				n++
				matched[r.id] = true
				if how != "semi" && how != "anti" {
					out = append(out, pair(l, &r))
				}
			}
		}
		switch {
		case how == "semi" && n > 0, how == "anti" && n == 0:
			out = append(out, opstest.Row(l.row()...))
		case n == 0 && (how == "left" || how == "full"):
			out = append(out, pair(l, nil))
		}
	}
	if how == "right" || how == "full" {
		for _, r := range all {
			if r.side == 1 && !matched[r.id] {
				out = append(out, opstest.Row(nil, nil, nil, nil, r.v, r.id))
			}
		}
	}
	if how == "right" { // the right join's matched pairs come from the same definition
		out = out[:0]
		for _, r := range all {
			if r.side != 1 {
				continue
			}
			n := 0
			for _, l := range all {
				if l.side == 0 && match(l, r) {
					n++
					out = append(out, pair(l, &r))
				}
			}
			if n == 0 {
				out = append(out, opstest.Row(nil, nil, nil, nil, r.v, r.id))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Relational joins give the reference's rows straight, checkpointed and restored at other
// parallelisms, on both backends.
func TestHashJoinStateThreeWays(t *testing.T) {
	steps, rows := stream(10, 40)
	defer opstest.Release(steps)
	for _, how := range []string{"inner", "left", "right", "full", "semi", "anti"} {
		t.Run(how+"/", func(t *testing.T) {
			want := refHashJoin(how, rows)
			if min := map[bool]int{true: 3, false: 20}[how == "anti"]; len(want) < min { // few left rows lack a match
				t.Fatalf("only %d rows", len(want))
			}
			opstest.RunAll(t, hashJoinOp(how), steps, 7, want)
		})
	}
}
