package join_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// endFirst reorders a stream so that side built's batches come early (each next step is
// one of built's with probability 3/4 while it has any), then marks built's end, then
// the rest of the other side's batches and its end: some probe rows arrive before the
// built side has ended (kept, then joined at its end), most after (streamed).
func endFirst(steps []opstest.Step, built int, seed int64) []opstest.Step {
	rng := rand.New(rand.NewSource(seed))
	var b, p []opstest.Step
	for _, st := range steps {
		switch {
		case st.Rec == nil:
			continue // regular joins ignore event time
		case st.Side == built:
			b = append(b, st)
		default:
			p = append(p, st)
		}
	}
	var out []opstest.Step
	for len(b) > 0 {
		if len(p) == 0 || rng.Intn(4) > 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, p = append(out, p[0]), p[1:]
		}
	}
	out = append(out, opstest.Step{Side: built, End: true})
	out = append(out, p...)
	return append(out, opstest.Step{Side: 1 - built, End: true})
}

// Once one input has ended, a bounded join streams the other past it (probe.go): every
// kind gives the reference's rows whichever side ends first (the kinds that cannot build
// on that side stay symmetric), straight, checkpointed and restored at other
// parallelisms (a restored job's ended input ends again), on both backends.
func TestHashJoinBuildProbe(t *testing.T) {
	steps, rows := stream(11, 60)
	defer opstest.Release(steps)
	for _, how := range []string{"inner", "left", "right", "full", "semi", "anti"} {
		for built := 0; built < 2; built++ {
			t.Run(fmt.Sprintf("%s/built %d/", how, built), func(t *testing.T) {
				want := refHashJoin(how, rows)
				if len(want) < 3 {
					t.Fatalf("only %d rows", len(want))
				}
				opstest.RunAll(t, hashJoinOp(how), endFirst(steps, built, int64(built)), 9, want)
			})
		}
	}
}

// A join condition beyond the key equality (SQL's ON l.k = r.k AND l.lv < r.rv): a pair
// matches only where it holds, NULL counting as false, so rows whose every partner fails
// it stand alone in outer joins, are dropped by semi joins and kept by anti joins. Every
// kind, symmetric to the end and built on the side it may build on, straight,
// checkpointed and restored at other parallelisms, against the plain definition.
func TestHashJoinCondition(t *testing.T) {
	steps, rows := stream(13, 30)
	defer opstest.Release(steps)
	lv, rv, k, nullInt := "lv", "rv", "k", json.RawMessage("null")
	col := func(n *string) *plan.Expr { return &plan.Expr{Col: n} }
	// lv < rv, or NULL when k is 3 (as false)
	where := &plan.Expr{Fn: "case_when", Args: []*plan.Expr{
		{Fn: "eq", Args: []*plan.Expr{col(&k), {Lit: json.RawMessage("3"), Type: "int64"}}},
		{Lit: nullInt, Type: "bool"},
		{Fn: "lt", Args: []*plan.Expr{col(&lv), col(&rv)}}}}
	cond := func(l, r event) bool { return l.k != int64(3) && l.v < r.v }
	for _, how := range []string{"inner", "left", "right", "full", "semi", "anti"} {
		orders := map[string][]opstest.Step{"symmetric": steps}
		for side := 0; side < 2; side++ {
			if join.OneSided(how, side) && (how != "inner" || side == 0) {
				orders[fmt.Sprintf("built %d", side)] = endFirst(steps, side, int64(5+side))
			}
		}
		for name, order := range orders {
			t.Run(fmt.Sprintf("%s/%s/", how, name), func(t *testing.T) {
				want := refHashJoinWhere(how, rows, cond)
				if all := refHashJoin(how, rows); len(want) < 3 || slices.Equal(want, all) {
					t.Fatalf("a weak check: %d rows with the condition, %d without", len(want), len(all))
				}
				opstest.RunAll(t, hashJoinOpWhere(how, where), order, 9, want)
			})
		}
	}
}

// The probe side's rows are forgotten once its partner side has ended: a join built on
// its right side keeps none of the left rows that arrive after (and frees those before).
func TestHashJoinForgetsProbeRows(t *testing.T) {
	steps, _ := stream(12, 60)
	defer opstest.Release(steps)
	for _, how := range []string{"inner", "left", "semi", "anti"} {
		t.Run(how, func(t *testing.T) {
			op := hashJoinOp(how).New().(*join.HashJoinOp)
			out := feed(t, op, endFirst(steps, 1, 3), func(side int) {
				if side == 1 && op.HeldRows(0) != 0 {
					t.Fatalf("the left side holds %d rows once the right has ended", op.HeldRows(0))
				}
			})
			if op.HeldRows(0) != 0 || op.HeldRows(1) == 0 || out.rows == 0 {
				t.Fatalf("held %d left and %d right rows at the end, %d rows out", op.HeldRows(0), op.HeldRows(1), out.rows)
			}
		})
	}
}

// feed opens op on one subtask, runs steps through it (calling ended, if set, after each
// input's end) and returns what it emitted; op is closed when the test ends.
func feed(t *testing.T, op *join.HashJoinOp, steps []opstest.Step, ended func(side int)) *discard {
	t.Helper()
	tc := runtime.NewStandaloneTaskCtx(t.Context(), memory.NewGoAllocator(), 0, 1, 16)
	if err := op.Open(tc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	out := &discard{}
	for _, st := range steps {
		if st.End {
			if err := op.EndInput(st.Side, out); err != nil {
				t.Fatal(err)
			}
			if ended != nil {
				ended(st.Side)
			}
			continue
		}
		st.Rec.Retain()
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Side: st.Side}, out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

type discard struct{ rows int64 }

func (d *discard) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		d.rows += m.Rec.NumRows()
		m.Rec.Release()
	}
	return nil
}

// A semi or anti join without a condition may build on its left input (MarkBuild, where
// no checkpoint is taken): each right row marks its key, a semi join emits a key's left
// rows at its first match, an anti join the unmarked ones at the end. Against the plain
// definition, straight at parallelism 1 and 4, with the left ending first (some right rows
// kept before, most streamed), and the right ending first (built on the right, as before).
//
// With KeysOnly (alone or with MarkBuild) the join keeps which keys the right input has,
// not its rows: the same rows come out, and no right row is held at any point.
func TestHashJoinMarkBuild(t *testing.T) {
	steps, rows := stream(14, 60)
	defer opstest.Release(steps)
	for _, how := range []string{"semi", "anti"} {
		for _, v := range []struct {
			name           string
			mark, keysOnly bool
		}{{"mark", true, false}, {"keys only", false, true}, {"mark, keys only", true, true}} {
			op := hashJoinOp(how)
			plain := op.New
			op.New = func() runtime.Operator {
				j := plain().(*join.HashJoinOp)
				j.MarkBuild, j.KeysOnly = v.mark, v.keysOnly
				return j
			}
			want := refHashJoin(how, rows)
			if len(want) < 3 {
				t.Fatalf("only %d rows", len(want))
			}
			slices.Sort(want)
			for built := 0; built < 2; built++ {
				order := endFirst(steps, built, int64(20+built))
				plans := opstest.Plans(len(order), 9)
				for _, name := range []string{"straight", "straight at p=4"} {
					t.Run(fmt.Sprintf("%s/%s/built %d/%s", how, v.name, built, name), func(t *testing.T) {
						opstest.Equal(t, opstest.Run(t, op, order, plans[name], "memory"), want)
					})
				}
				if v.keysOnly {
					j := op.New().(*join.HashJoinOp)
					held := 0
					out := feed(t, j, order, func(int) { held = max(held, j.HeldRows(1)) })
					if err := j.Finish(out); err != nil {
						t.Fatal(err)
					}
					if held != 0 || j.HeldRows(1) != 0 || out.rows == 0 {
						t.Fatalf("%s/%s/built %d: held up to %d right rows, %d rows out", how, v.name, built, held, out.rows)
					}
				}
			}
		}
	}
	// Built on the left, the join keeps no right row once the left has ended.
	j := hashJoinOp("semi").New().(*join.HashJoinOp)
	j.MarkBuild = true
	out := feed(t, j, endFirst(steps, 0, 4), nil)
	if j.HeldRows(1) != 0 || j.HeldRows(0) == 0 || out.rows == 0 {
		t.Fatalf("held %d left and %d right rows at the end, %d rows out", j.HeldRows(0), j.HeldRows(1), out.rows)
	}
}

// A mark join keeping only the right input's keys marks, when the left input ends, the
// keys of the right rows that came before: a key no later right row has still matches.
func TestHashJoinKeysOnlyMarksEarlyRightKeys(t *testing.T) {
	left := opstest.Batch(schemas[0], [][]any{{int64(1), int64(0), int64(0), int64(0)},
		{int64(2), int64(0), int64(0), int64(1)}, {int64(3), int64(0), int64(0), int64(2)}})
	early := opstest.Batch(schemas[1], [][]any{{int64(1), int64(0), int64(0), int64(3)}})
	late := opstest.Batch(schemas[1], [][]any{{int64(2), int64(0), int64(0), int64(4)}})
	steps := []opstest.Step{{Side: 0, Rec: left}, {Side: 1, Rec: early}, {Side: 0, End: true}, {Side: 1, Rec: late}, {Side: 1, End: true}}
	defer opstest.Release(steps)
	for how, want := range map[string]int64{"semi": 2, "anti": 1} {
		j := hashJoinOp(how).New().(*join.HashJoinOp)
		j.MarkBuild, j.KeysOnly = true, true
		out := feed(t, j, steps, nil)
		if err := j.Finish(out); err != nil {
			t.Fatal(err)
		}
		if out.rows != want {
			t.Errorf("%s join: %d rows, want %d", how, out.rows, want)
		}
	}
}
