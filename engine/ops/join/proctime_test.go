package join_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

var (
	ptLeft = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "lv", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	ptRight = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "rv", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	ptRightLog = arrow.NewSchema(append(ptRight.Fields(), arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)
)

// proctimeStream interleaves batches of left rows and right versions (as a changelog:
// +I/+U new versions, -U skipped, -D deletes; or append-only), keys 0..5 and a few nulls.
func proctimeStream(seed int64, batches int, changelog bool) []opstest.Step {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	v := int64(0)
	for b := 0; b < batches; b++ {
		side := rng.Intn(2)
		var rows [][]any
		for n := 1 + rng.Intn(5); n > 0; n-- {
			var k any = int64(rng.Intn(6))
			if rng.Intn(15) == 0 {
				k = nil
			}
			v++
			switch {
			case side == 0:
				rows = append(rows, []any{k, v})
			case !changelog:
				rows = append(rows, []any{k, v})
			default:
				op := []string{"+I", "+U", "+U", "-U", "-D"}[rng.Intn(5)]
				rows = append(rows, []any{k, v, op})
			}
		}
		schema := ptLeft
		if side == 1 {
			schema = ptRight
			if changelog {
				schema = ptRightLog
			}
		}
		steps = append(steps, opstest.Step{Side: side, Rec: opstest.Batch(schema, rows), Seq: runtime.MakeSeq(side, int64(b), 0)})
	}
	return steps
}

// proctimeRef is the plain reference: the steps in order, a dictionary of the current
// version per key (null keys never match), each left row joined with its key's version
// when it comes (left: or with nulls).
func proctimeRef(steps []opstest.Step, left, changelog bool) (out []string, matched, unmatched int) {
	cur := map[int64]int64{}
	for _, st := range steps {
		for i := 0; i < int(st.Rec.NumRows()); i++ {
			k := opstest.Value(st.Rec.Column(0), i)
			v := opstest.Value(st.Rec.Column(1), i)
			if st.Side == 1 {
				if k == nil {
					continue
				}
				op := "+I"
				if changelog {
					op = opstest.Value(st.Rec.Column(2), i).(string)
				}
				switch op {
				case "-D":
					delete(cur, k.(int64))
				case "+I", "+U":
					cur[k.(int64)] = v.(int64)
				}
				continue
			}
			var rv any
			if k != nil {
				if x, ok := cur[k.(int64)]; ok {
					rv = x
				}
			}
			if rv == nil {
				unmatched++
				if !left {
					continue
				}
			} else {
				matched++
			}
			out = append(out, opstest.Row(k, v, rv))
		}
	}
	return out, matched, unmatched
}

// The processing-time temporal join joins each left row with the version of its key at
// its arrival — the plain reference over the same arrival order — inner and left, over an
// append-only right input and a changelog one, straight, checkpointed and restored at
// other parallelisms (the versions are the state), on both backends.
func TestProctimeJoinThreeWays(t *testing.T) {
	keys := [2][]expr.Expr{{opstest.Col(ptLeft, "k")}, {opstest.Col(ptRight, "k")}}
	for _, changelog := range []bool{false, true} {
		for _, left := range []bool{false, true} {
			steps := proctimeStream(int64(5+len(fmt.Sprint(changelog, left))), 120, changelog)
			want, matched, unmatched := proctimeRef(steps, left, changelog)
			if matched < 20 || unmatched < 5 {
				t.Fatalf("a tame stream: %d matched, %d not", matched, unmatched)
			}
			outFields := append(append([]arrow.Field{}, ptLeft.Fields()...), arrow.Field{Name: "rv", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
			spec := &join.Spec{Name: "proctime_join", How: "proctime", LeftKeys: keys[0], RightKeys: keys[1],
				KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64}, LeftSchema: ptLeft, RightSchema: ptRight,
				RightKeep: []int{1}, Schema: arrow.NewSchema(outFields, nil)}
			opCol := -1
			if changelog {
				opCol = 2
			}
			op := opstest.Op{
				New: func() runtime.Operator {
					return &join.ProctimeJoinOp{JoinBase: join.JoinBase{Spec: spec, EmitSz: 3}, Left: left, RightOpCol: opCol}
				},
				Keys:   opstest.KeysOf(keys[0], keys[1]),
				MaxPar: 16,
			}
			t.Run(fmt.Sprintf("changelog=%v/left=%v", changelog, left), func(t *testing.T) {
				opstest.RunAll(t, op, steps, 9, want)
			})
			opstest.Release(steps)
		}
	}
}
