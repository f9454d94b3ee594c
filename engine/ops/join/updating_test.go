package join_test

import (
	"sort"
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
