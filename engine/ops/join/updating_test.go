package join_test

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// updatingJoinOp is hashJoinOp over unbounded inputs: every kind but semi gets the op column.
func updatingJoinOp(how string) opstest.Op {
	op := hashJoinOp(how)
	mk := op.New
	op.New = func() runtime.Operator {
		o := mk().(*join.HashJoinOp)
		spec := *o.Spec
		if how != "semi" {
			spec.Schema = arrow.NewSchema(append(spec.Schema.Fields(), arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)
		}
		o.Spec = &spec
		o.Unbounded = true
		return o
	}
	return op
}

// refChanges is the changelog of a join whose result, after each input batch, is the
// bounded join of the rows so far (refHashJoin): the rows that left the result (-D) and
// those that entered it (+I), batch by batch. Semi joins only grow: their rows come
// without an op.
func refJoinChanges(how string, steps []opstest.Step, all []event) []string {
	var out []string
	prev := map[string]int{}
	pos := 0
	for _, st := range steps {
		if st.Rec == nil {
			continue
		}
		pos += int(st.Rec.NumRows())
		cur := map[string]int{}
		for _, r := range refHashJoin(how, all[:pos]) {
			cur[r]++
		}
		for r, n := range prev {
			for ; n > cur[r]; n-- {
				out = append(out, r+` | "-D"`)
			}
		}
		for r, n := range cur {
			for ; n > prev[r]; n-- {
				if how == "semi" {
					out = append(out, r)
				} else {
					out = append(out, r+` | "+I"`)
				}
			}
		}
		prev = cur
	}
	sort.Strings(out)
	return out
}

// Outer, semi and anti joins over unbounded inputs emit, batch by batch, the changes that
// take the bounded join of the rows so far to the next one (a null-padded row is retracted
// when its first match arrives): straight, checkpointed and restored at other
// parallelisms, on both backends.
func TestUpdatingJoinThreeWays(t *testing.T) {
	steps, rows := stream(20, 40)
	defer opstest.Release(steps)
	for _, how := range []string{"left", "right", "full", "semi", "anti"} {
		t.Run(how+"/", func(t *testing.T) {
			want := refJoinChanges(how, steps, rows)
			deletes := 0
			for _, r := range want {
				if len(r) > 4 && r[len(r)-4:] == `"-D"` {
					deletes++
				}
			}
			if how != "semi" && deletes < 3 {
				t.Fatalf("only %d retractions in the reference", deletes)
			}
			opstest.RunAll(t, updatingJoinOp(how), steps, 7, want)
		})
	}
}

// opSchema is a side's schema as a changelog: its columns and the op column.
func opSchema(side int) *arrow.Schema {
	return arrow.NewSchema(append(schemas[side].Fields(), arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)
}

// change is one row of an updating input: an event and whether it is taken back.
type change struct {
	e       event
	retract bool
}

// changelogStream alternates batches of the two sides; a side in updating is a changelog:
// besides new rows (+I, or +U after a -U), a batch takes back rows it sent before (-D, or
// a -U and the +U of a new row), some of which are equal in every column to another row
// still there (sent twice), and now and then a row never sent (which must change
// nothing).
func changelogStream(seed int64, batches int, updating [2]bool) ([]opstest.Step, []change) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var all []change
	live := [2][]event{}
	id := int64(0)
	for b := 0; b < batches; b++ {
		side := rng.Intn(2)
		var rows [][]any
		add := func(e event, op string) {
			row := e.row()
			if updating[side] {
				row = append(row, op)
			}
			rows = append(rows, row)
		}
		newEvent := func() event {
			var k any = int64(rng.Intn(4))
			if rng.Intn(10) == 0 {
				k = nil
			}
			id++
			return event{side: side, k: k, ts: int64(b), v: int64(rng.Intn(50)), id: id}
		}
		for n := 1 + rng.Intn(7); n > 0; n-- {
			switch r := rng.Intn(10); {
			case updating[side] && r < 3 && len(live[side]) > 0:
				at := rng.Intn(len(live[side]))
				e := live[side][at]
				live[side] = append(live[side][:at], live[side][at+1:]...)
				all = append(all, change{e: e, retract: true})
				if rng.Intn(2) == 0 {
					add(e, "-D")
				} else {
					add(e, "-U")
					u := newEvent()
					u.k = e.k // an update of a group keeps its key
					live[side] = append(live[side], u)
					all = append(all, change{e: u})
					add(u, "+U")
				}
			case updating[side] && r == 3 && len(live[side]) > 0:
				e := live[side][rng.Intn(len(live[side]))] // the same row again
				live[side] = append(live[side], e)
				all = append(all, change{e: e})
				add(e, "+I")
			case updating[side] && r == 4 && rng.Intn(3) == 0:
				e := newEvent() // a retraction of a row never sent
				all = append(all, change{e: e, retract: true})
				add(e, "-D")
			default:
				e := newEvent()
				live[side] = append(live[side], e)
				all = append(all, change{e: e})
				add(e, "+I")
			}
		}
		sch := schemas[side]
		if updating[side] {
			sch = opSchema(side)
		}
		steps = append(steps, opstest.Step{Side: side, Rec: opstest.Batch(sch, rows), Seq: runtime.MakeSeq(side, int64(b), 0)})
	}
	return steps, all
}

// refChangelogJoin is the changelog of a join whose result, after each input row, is the
// bounded join (refHashJoin) of the rows that remain — a retraction removes a remaining
// row equal to it, if any: the rows that leave the result (-D) and those that enter it
// (+I), row by row.
func refChangelogJoin(how string, all []change) []string {
	var out []string
	var remaining []event
	prev := map[string]int{}
	for _, c := range all {
		if c.retract {
			for i, e := range remaining {
				if e.side == c.e.side && e.k == c.e.k && e.ts == c.e.ts && e.v == c.e.v && e.id == c.e.id {
					remaining = append(remaining[:i], remaining[i+1:]...)
					break
				}
			}
		} else {
			remaining = append(remaining, c.e)
		}
		cur := map[string]int{}
		for _, r := range refHashJoin(how, remaining) {
			cur[r]++
		}
		for r, n := range prev {
			for ; n > cur[r]; n-- {
				out = append(out, r+` | "-D"`)
			}
		}
		for r, n := range cur {
			for ; n > prev[r]; n-- {
				out = append(out, r+` | "+I"`)
			}
		}
		prev = cur
	}
	sort.Strings(out)
	return out
}

// changelogJoinOp is updatingJoinOp over inputs of which those in updating are changelogs
// (the op column last): every kind gets the op column.
func changelogJoinOp(how string, updating [2]bool) opstest.Op {
	op := updatingJoinOp(how)
	mk := op.New
	op.New = func() runtime.Operator {
		o := mk().(*join.HashJoinOp)
		if how == "semi" {
			spec := *o.Spec
			spec.Schema = arrow.NewSchema(append(spec.Schema.Fields(), arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)
			o.Spec = &spec
		}
		o.Updating = updating
		o.OpCol = [2]int{4, 4}
		return o
	}
	return op
}

// Joins of updating inputs (changelogs): each row's changes take the bounded join of the
// rows that remain before it to the one after it — a -U/-D row takes its equal row back
// and retracts its pairs, re-inserting the other side's rows padded with nulls when they
// lose their last match — straight, checkpointed and restored at other parallelisms, on
// both backends (Pebble spilling the rows kept).
func TestChangelogJoinThreeWays(t *testing.T) {
	for _, upd := range [][2]bool{{true, true}, {true, false}, {false, true}} {
		steps, all := changelogStream(31, 30, upd)
		for _, how := range []string{"inner", "left", "right", "full", "semi", "anti"} {
			t.Run(fmt.Sprintf("%s/updating %v/", how, upd), func(t *testing.T) {
				want := refChangelogJoin(how, all)
				deletes := 0
				for _, r := range want {
					if strings.HasSuffix(r, `"-D"`) {
						deletes++
					}
				}
				if least := map[bool]int{true: 1, false: 5}[how == "semi" && !upd[0]]; deletes < least {
					t.Fatalf("only %d retractions in the reference", deletes)
				}
				opstest.RunAll(t, changelogJoinOp(how, upd), steps, 5, want)
			})
		}
		opstest.Release(steps)
	}
}
