package dedup_test

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// changelogSchema is rankSchema with an op column: an updating input.
var changelogSchema = arrow.NewSchema(append(append([]arrow.Field{}, rankSchema.Fields()...),
	arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)

// retractStream is a changelog of rows of rankSchema, as a group_by by id would emit it
// (one live row per id): new rows (+I), updates (-U of the live row, +U of a row with new
// v and ts), deletes (-D), a few duplicates of a live row (+I of an equal row: a retraction
// then takes one of them back) and a few retractions of rows never inserted (ignored).
func retractStream(seed int64, batches, changesPerBatch int) []opstest.Step {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var live [][]any
	id := int64(0)
	keys := []string{"a", "b", "c"}
	newRow := func() []any {
		var k any = keys[rng.Intn(len(keys))]
		if rng.Intn(12) == 0 {
			k = nil
		}
		var v any = int64(rng.Intn(12))
		if rng.Intn(15) == 0 {
			v = nil
		}
		id++
		return []any{k, v, int64(rng.Intn(6)), id}
	}
	with := func(r []any, op string) []any { return append(append([]any{}, r...), op) }
	for b := 0; b < batches; b++ {
		var rows [][]any
		for n := 1 + rng.Intn(changesPerBatch); n > 0; n-- {
			switch c := rng.Intn(20); {
			case len(live) > 0 && c < 7: // update
				i := rng.Intn(len(live))
				old := live[i]
				nv := newRow()
				nv[0], nv[3] = old[0], old[3]
				live[i] = nv
				rows = append(rows, with(old, "-U"), with(nv, "+U"))
			case len(live) > 0 && c < 10: // delete
				i := rng.Intn(len(live))
				rows = append(rows, with(live[i], "-D"))
				live = append(live[:i], live[i+1:]...)
			case len(live) > 0 && c < 12: // an equal row
				r := live[rng.Intn(len(live))]
				live = append(live, r)
				rows = append(rows, with(r, "+I"))
			case c < 13: // a retraction of nothing held
				rows = append(rows, with(newRow(), "-D"))
			default:
				r := newRow()
				live = append(live, r)
				rows = append(rows, with(r, "+I"))
			}
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(changelogSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	return steps
}

// sortPart sorts a partition's rows by the ordering values (nulls last unless nulls says
// first) and then arrival (the later first with keepLast).
func (c rankCase) sortPart(rows []rankEvent) {
	sort.SliceStable(rows, func(a, b int) bool {
		x, y := rows[a], rows[b]
		for i, col := range c.by {
			var p, q any = x.ts, y.ts
			if col == "v" {
				p, q = x.v, y.v
			}
			if (p == nil) != (q == nil) {
				return (q == nil) != (c.nulls != nil && c.nulls[i])
			}
			if p == nil || p.(int64) == q.(int64) {
				continue
			}
			return (p.(int64) < q.(int64)) != c.desc[i]
		}
		if c.keepLast {
			return x.arrival > y.arrival
		}
		return x.arrival < y.arrival
	})
}

// retractChanges is the changelog the operator must emit over an updating input, from
// the reference partition before and after each change: a +I/+U row joins its partition,
// a -U/-D row takes out the partition's first row in rank order equal to it (nothing if
// none is). The changes are those of refChanges between the two top n, the rows told
// apart by their arrival (two equal rows are two rows).
func (c rankCase) retractChanges(steps []opstest.Step) []string {
	parts := map[any][]rankEvent{}
	arrival := 0
	var out []string
	for _, st := range steps {
		rows := opstest.Rows(array.NewRecordBatch(rankSchema, st.Rec.Columns()[:4], st.Rec.NumRows()))
		ops := st.Rec.Column(4).(*array.String)
		for i, e := range events(array.NewRecordBatch(rankSchema, st.Rec.Columns()[:4], st.Rec.NumRows()), arrival) {
			arrival++
			e.formatted = rows[i]
			part := parts[e.k]
			c.sortPart(part)
			before := append([]rankEvent{}, part[:min(c.n, len(part))]...)
			switch ops.Value(i) {
			case "+I", "+U":
				part = append(part, e)
			default:
				for j, r := range part {
					if r.formatted == e.formatted {
						part = append(part[:j:j], part[j+1:]...)
						break
					}
				}
			}
			c.sortPart(part)
			parts[e.k] = part
			after := part[:min(c.n, len(part))]
			switch {
			case c.rankCol:
				for j := 0; j < max(len(before), len(after)); j++ {
					switch {
					case j >= len(before):
						out = append(out, fmt.Sprintf(`%s | %d | "+I"`, after[j].formatted, j+1))
					case j >= len(after):
						out = append(out, fmt.Sprintf(`%s | %d | "-D"`, before[j].formatted, j+1))
					case before[j].arrival != after[j].arrival:
						out = append(out, fmt.Sprintf(`%s | %d | "-U"`, before[j].formatted, j+1),
							fmt.Sprintf(`%s | %d | "+U"`, after[j].formatted, j+1))
					}
				}
			case c.n == 1:
				switch {
				case len(before) == 0 && len(after) == 1:
					out = append(out, after[0].formatted+` | "+I"`)
				case len(before) == 1 && len(after) == 0:
					out = append(out, before[0].formatted+` | "-D"`)
				case len(before) == 1 && before[0].arrival != after[0].arrival:
					out = append(out, before[0].formatted+` | "-U"`, after[0].formatted+` | "+U"`)
				}
			default:
				in, was := map[int]bool{}, map[int]bool{}
				for _, r := range after {
					in[r.arrival] = true
				}
				for _, r := range before {
					was[r.arrival] = true
					if !in[r.arrival] {
						out = append(out, r.formatted+` | "-D"`)
					}
				}
				for _, r := range after {
					if !was[r.arrival] {
						out = append(out, r.formatted+` | "+I"`)
					}
				}
			}
		}
	}
	return out
}

// The streaming top-N over an updating input (Flink's retract rank) emits, change by
// change, what takes the reference top n of the partition before the change to the one
// after it (a retraction takes out the first equal row; the rows below the top n move
// up) — straight, checkpointed, and restored at other parallelisms, on both backends.
func TestRetractRankThreeWays(t *testing.T) {
	defer dedup.SetRankCompactAt(8)()
	cases := []rankCase{
		{n: 1, by: []string{"v"}, desc: []bool{true}},
		{n: 3, by: []string{"v"}, desc: []bool{true}},
		{n: 3, by: []string{"v"}, desc: []bool{true}, rankCol: true},
		{n: 2, by: []string{"v", "ts"}, desc: []bool{false, true}, nulls: []bool{true, false}, rankCol: true},
		{n: 2, by: []string{"ts"}, desc: []bool{true}, keepLast: true},
		{n: 1, by: []string{"v"}, desc: []bool{false}, rankCol: true},
	}
	keys := []expr.Expr{opstest.Col(rankSchema, "k")}
	for _, perBatch := range []int{1, 6} {
		steps := retractStream(int64(31+perBatch), max(160/perBatch, 30), perBatch)
		for _, c := range cases {
			want := c.retractChanges(steps)
			sort.Strings(want)
			deletes := 0
			for _, r := range want {
				if r[len(r)-4:] == `"-D"` || r[len(r)-4:] == `"-U"` {
					deletes++
				}
			}
			if deletes < 5 {
				t.Fatalf("%v: only %d retractions in the reference", c, deletes)
			}
			var by []expr.Expr
			for _, b := range c.by {
				by = append(by, opstest.Col(rankSchema, b))
			}
			op := opstest.Op{
				New: func() runtime.Operator {
					return &dedup.RankOp{Name: "rank", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
						OrderBy: by, Descending: c.desc, NullsFirst: c.nulls, N: c.n, KeepLast: c.keepLast, RankCol: c.rankCol,
						Retract: true, OpCol: 4, InSchema: rankSchema, Schema: c.outSchema(), BatchSize: 5}
				},
				Keys:   opstest.KeysOf(keys),
				MaxPar: 16,
			}
			for name, phases := range opstest.Plans(len(steps), 7) {
				for _, be := range opstest.Backends {
					if be == state.PebbleBackend && name != "straight" && name != "checkpoints" && name != "rescale 1->4" && name != "rescale 4->3->1" {
						continue
					}
					t.Run(fmt.Sprintf("%d per batch/%v/%s/%s", perBatch, c, name, be), func(t *testing.T) {
						opstest.Equal(t, opstest.Run(t, op, steps, phases, be), want)
					})
				}
			}
		}
		opstest.Release(steps)
	}
}

// Without ordering expressions every row ties: the rows rank in arrival order (Flink's
// ORDER BY PROCTIME()), the first n kept (ascending) or the last n (keep-last).
func TestRankByArrival(t *testing.T) {
	keys := []expr.Expr{opstest.Col(rankSchema, "k")}
	steps := rankStream(5, 40, 4)
	defer opstest.Release(steps)
	for _, c := range []rankCase{{n: 1}, {n: 2, rankCol: true}, {n: 1, keepLast: true}, {n: 3, keepLast: true, rankCol: true}} {
		want := c.refChanges(steps)
		sort.Strings(want)
		op := opstest.Op{
			New: func() runtime.Operator {
				return &dedup.RankOp{Name: "rank", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
					N: c.n, KeepLast: c.keepLast, RankCol: c.rankCol, InSchema: rankSchema, Schema: c.outSchema(), BatchSize: 5}
			},
			Keys:   opstest.KeysOf(keys),
			MaxPar: 16,
		}
		t.Run(c.String(), func(t *testing.T) { opstest.RunAll(t, op, steps, 7, want) })
	}
}
