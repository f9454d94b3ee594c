package dedup_test

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

var rankSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
}, nil)

type rankEvent struct {
	k         any
	v         any
	ts, id    int64
	arrival   int
	formatted string
}

// rankStream is batches of one row (rowsPerBatch 1) or of 1..rowsPerBatch rows: a few
// partitions (one of them the null key), ordering values with many ties and a few nulls.
func rankStream(seed int64, batches, rowsPerBatch int) []opstest.Step {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	id := int64(0)
	keys := []string{"a", "b", "c", "d"}
	for b := 0; b < batches; b++ {
		var rows [][]any
		for n := 1 + rng.Intn(rowsPerBatch); n > 0; n-- {
			var k any = keys[rng.Intn(len(keys))]
			if rng.Intn(12) == 0 {
				k = nil
			}
			var v any = int64(rng.Intn(15))
			if rng.Intn(15) == 0 {
				v = nil
			}
			rows = append(rows, []any{k, v, int64(rng.Intn(6)), id})
			id++
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(rankSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	return steps
}

// rankCase is one configuration of the operator and its plain reference.
type rankCase struct {
	n        int
	desc     []bool // per ordering column: v, then ts if two
	by       []string
	keepLast bool
	rankCol  bool
	nulls    []bool // nulls first, per ordering column (nil: last)
}

func (c rankCase) String() string {
	return fmt.Sprintf("n=%d by=%v desc=%v nullsFirst=%v keepLast=%v rank=%v", c.n, c.by, c.desc, c.nulls, c.keepLast, c.rankCol)
}

func (c rankCase) outSchema() *arrow.Schema {
	fs := append([]arrow.Field{}, rankSchema.Fields()...)
	if c.rankCol {
		fs = append(fs, arrow.Field{Name: "rownum", Type: arrow.PrimitiveTypes.Int64})
	}
	return arrow.NewSchema(append(fs, arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)
}

// checker applies every change the operator emits, in order, to one table and, after each
// batch an instance processes, compares it with the reference top n over the rows so far.
type checker struct {
	t     *testing.T
	c     rankCase
	seen  []rankEvent
	table map[string]int
	fails int
}

// ranked is the reference result over the rows seen, per partition: its rows sorted by
// the ordering values (nulls last) and then arrival (the later first with keepLast), the
// first n, formatted as input rows.
func (c rankCase) ranked(seen []rankEvent) map[any][]string {
	parts := map[any][]rankEvent{}
	for _, e := range seen {
		parts[e.k] = append(parts[e.k], e)
	}
	out := map[any][]string{}
	for k, rows := range parts {
		c.sortPart(rows)
		for _, e := range rows[:min(c.n, len(rows))] {
			out[k] = append(out[k], e.formatted)
		}
	}
	return out
}

// ref is the reference result table over the rows seen (with the row number if the
// operator outputs it).
func (c rankCase) ref(seen []rankEvent) map[string]int {
	out := map[string]int{}
	for _, rows := range c.ranked(seen) {
		for j, r := range rows {
			if c.rankCol {
				r += fmt.Sprintf(" | %d", j+1)
			}
			out[r]++
		}
	}
	return out
}

// refChanges is the changelog the operator must emit, from the reference results before
// and after each row: with the row number, a rank whose row changed gives -U of the old
// and +U of the new row, a new rank +I; without it and n = 1 the partition's row is
// updated (-U/+U) or inserted; without it and n > 1 rows leave (-D) and enter (+I).
func (c rankCase) refChanges(steps []opstest.Step) []string {
	var seen []rankEvent
	var out []string
	for _, st := range steps {
		for _, e := range events(st.Rec, len(seen)) {
			before := c.ranked(seen)
			seen = append(seen, e)
			after := c.ranked(seen)
			for key, rows := range after {
				old := before[key]
				switch {
				case c.rankCol:
					for j, r := range rows {
						if j >= len(old) {
							out = append(out, fmt.Sprintf(`%s | %d | "+I"`, r, j+1))
						} else if old[j] != r {
							out = append(out, fmt.Sprintf(`%s | %d | "-U"`, old[j], j+1), fmt.Sprintf(`%s | %d | "+U"`, r, j+1))
						}
					}
				case c.n == 1:
					if len(old) == 0 {
						out = append(out, rows[0]+` | "+I"`)
					} else if old[0] != rows[0] {
						out = append(out, old[0]+` | "-U"`, rows[0]+` | "+U"`)
					}
				default:
					in := map[string]bool{}
					for _, r := range rows {
						in[r] = true
					}
					was := map[string]bool{}
					for _, r := range old {
						was[r] = true
						if !in[r] {
							out = append(out, r+` | "-D"`)
						}
					}
					for _, r := range rows {
						if !was[r] {
							out = append(out, r+` | "+I"`)
						}
					}
				}
			}
		}
	}
	return out
}

func events(rec arrow.RecordBatch, from int) []rankEvent {
	rows := opstest.Rows(rec)
	out := make([]rankEvent, len(rows))
	for i := range rows {
		out[i] = rankEvent{k: opstest.Value(rec.Column(0), i), v: opstest.Value(rec.Column(1), i),
			ts: opstest.Value(rec.Column(2), i).(int64), id: opstest.Value(rec.Column(3), i).(int64),
			arrival: from + i, formatted: rows[i]}
	}
	return out
}

func (ch *checker) check(in arrow.RecordBatch, changes []arrow.RecordBatch) {
	ch.seen = append(ch.seen, events(in, len(ch.seen))...)
	for _, rec := range changes {
		for _, r := range opstest.Rows(rec) {
			op := r[len(r)-4:]
			row := r[:len(r)-len(` | "+I"`)]
			switch op {
			case `"+I"`, `"+U"`:
				ch.table[row]++
			default:
				if ch.table[row] == 0 && ch.fails < 5 {
					ch.fails++
					ch.t.Errorf("%s retracts %s, which the table does not hold", op, row)
				}
				ch.table[row]--
				if ch.table[row] == 0 {
					delete(ch.table, row)
				}
			}
		}
	}
	want := ch.c.ref(ch.seen)
	if fmt.Sprint(want) != fmt.Sprint(ch.table) && ch.fails < 5 {
		ch.fails++
		ch.t.Errorf("after %d rows the applied changes make\n%v\nthe top %d is\n%v", len(ch.seen), ch.table, ch.c.n, want)
	}
}

// checkedRank is the operator, with every batch's changes applied and checked.
type checkedRank struct {
	*dedup.RankOp
	ch *checker
}

type recorder struct {
	out  runtime.Emitter
	recs []arrow.RecordBatch
}

func (r *recorder) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		m.Rec.Retain()
		r.recs = append(r.recs, m.Rec)
	}
	return r.out.Emit(m)
}

func (o *checkedRank) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	m.Rec.Retain()
	defer m.Rec.Release()
	rec := &recorder{out: out}
	err := o.RankOp.ProcessBatch(m, rec)
	if err == nil {
		o.ch.check(m.Rec, rec.recs)
	}
	for _, r := range rec.recs {
		r.Release()
	}
	return err
}

func rankOp(c rankCase, ch *checker) opstest.Op {
	keys := []expr.Expr{opstest.Col(rankSchema, "k")}
	var by []expr.Expr
	for _, b := range c.by {
		by = append(by, opstest.Col(rankSchema, b))
	}
	return opstest.Op{
		New: func() runtime.Operator {
			op := &dedup.RankOp{Name: "rank", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
				OrderBy: by, Descending: c.desc, NullsFirst: c.nulls, N: c.n, KeepLast: c.keepLast, RankCol: c.rankCol,
				InSchema: rankSchema, Schema: c.outSchema(), BatchSize: 5}
			if ch == nil {
				return op
			}
			return &checkedRank{op, ch}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 16,
	}
}

// The streaming top-N emits, row by row, the changes that take the reference top n of
// each partition (rows sorted by the ordering values, nulls last, ties in arrival order)
// before the row to the one after it — checked after every batch by applying the changes
// to a table, and as a multiset of changes against the reference changelog — straight,
// checkpointed, and restored at other parallelisms, on both backends (Pebble spilling the
// rows held); the store is compacted whenever it holds twice the rows kept.
func TestRankThreeWays(t *testing.T) {
	defer dedup.SetRankCompactAt(8)() // compact often: rows keep their references across it
	cases := []rankCase{
		{n: 1, by: []string{"ts"}, desc: []bool{true}, keepLast: true},                                        // last-row deduplication
		{n: 1, by: []string{"v"}, desc: []bool{false}},                                                        // top 1
		{n: 3, by: []string{"v"}, desc: []bool{true}},                                                         // no row number
		{n: 3, by: []string{"v"}, desc: []bool{true}, rankCol: true},                                          // with the row number
		{n: 4, by: []string{"v", "ts"}, desc: []bool{false, true}, rankCol: true},                             // two keys
		{n: 2, by: []string{"ts", "v"}, desc: []bool{true, false}, keepLast: true},                            // keep-last ties
		{n: 1, by: []string{"v"}, desc: []bool{true}, rankCol: true, keepLast: false},                         // row number 1
		{n: 3, by: []string{"v", "ts"}, desc: []bool{true, false}, nulls: []bool{true, false}, rankCol: true}, // nulls first
		{n: 5, by: []string{"v"}, desc: []bool{false}, keepLast: false, rankCol: false},                       // more rows than ties
	}
	for _, perBatch := range []int{1, 4, 12} {
		steps := rankStream(int64(17+perBatch), max(120/perBatch, 25), perBatch)
		for _, c := range cases {
			want := c.refChanges(steps)
			sort.Strings(want)
			retracts := 0
			for _, r := range want {
				if r[len(r)-4:] == `"-U"` || r[len(r)-4:] == `"-D"` {
					retracts++
				}
			}
			if retracts < 3 {
				t.Fatalf("%v: only %d retractions in the reference", c, retracts)
			}
			for name, phases := range opstest.Plans(len(steps), 7) {
				for _, be := range opstest.Backends {
					if be == state.PebbleBackend && name != "straight" && name != "checkpoints" && name != "rescale 1->4" && name != "rescale 4->3->1" {
						continue
					}
					t.Run(fmt.Sprintf("%d per batch/%v/%s/%s", perBatch, c, name, be), func(t *testing.T) {
						ch := &checker{t: t, c: c, table: map[string]int{}}
						got := opstest.Run(t, rankOp(c, ch), steps, phases, be)
						opstest.Equal(t, got, want)
					})
				}
			}
		}
		opstest.Release(steps)
	}
}
