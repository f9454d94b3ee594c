package agg_test

import (
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
	_ "github.com/riverbed-engine/riverbed/state/pebblestate"
)

// changelogOp is groupByOp emitting a changelog (as over an unbounded input).
func changelogOp(t *testing.T, keys ...string) opstest.Op {
	return changelogOpOn(t, inSchema, keys...)
}

// changelogOpOn is changelogOp over another schema (groupByOpOn).
func changelogOpOn(t *testing.T, in *arrow.Schema, keys ...string) opstest.Op {
	op := groupByOpOn(t, in, keys...)
	mk := op.New
	op.New = func() runtime.Operator {
		g := mk().(*agg.GroupByOp)
		g.Changelog = true
		g.Schema = arrow.NewSchema(append(g.Schema.Fields(), arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String}), nil)
		return g
	}
	return op
}

// refChanges is the changelog a group_by emits when every input batch ends a mini-batch:
// after each batch, for each group the batch touched, -U with the group's previous row
// and +U with its new one, or +I for a new group. Rows are formatted by opstest.Row, the
// op last.
func refChanges(steps []opstest.Step, all [][]any, keyCols []int) []string {
	prev := map[string]string{}
	var out []string
	pos := 0
	for _, st := range steps {
		if st.Rec == nil {
			continue
		}
		n := int(st.Rec.NumRows())
		batch := all[pos : pos+n]
		pos += n
		cur := refGroups(all[:pos], keyCols)
		seen := map[string]bool{}
		for _, r := range batch {
			key := make([]any, len(keyCols))
			for i, c := range keyCols {
				key[i] = r[c]
			}
			k := opstest.Row(key...)
			if seen[k] {
				continue
			}
			seen[k] = true
			if old, ok := prev[k]; ok {
				out = append(out, old+` | "-U"`, cur[k]+` | "+U"`)
			} else {
				out = append(out, cur[k]+` | "+I"`)
			}
			prev[k] = cur[k]
		}
	}
	sort.Strings(out)
	return out
}

// An updating group_by emits, batch by batch, exactly the reference changelog: straight,
// checkpointed (the barrier flushes nothing left over) and restored at other parallelisms
// (restored groups retract their previous rows), with both backends; one key, two keys, no
// key.
func TestGroupByChangelogThreeWays(t *testing.T) {
	steps, rows := aggStream(11, 30)
	defer opstest.Release(steps)
	for _, keys := range [][]string{{"k"}, {"k", "g"}, nil} {
		t.Run(strings.Join(keys, ",")+"/", func(t *testing.T) {
			var cols []int
			for _, k := range keys {
				cols = append(cols, inSchema.FieldIndices(k)[0])
			}
			op := changelogOp(t, keys...)
			if keys == nil {
				op.Keys = nil
			}
			opstest.RunAll(t, op, steps, 6, refChanges(steps, rows, cols))
		})
	}
}

// apply applies changelog rows (formatted, op last) to a multiset table and fails on a
// retraction of a row the table does not hold.
func apply(t *testing.T, table map[string]int, rows []string) {
	t.Helper()
	for _, r := range rows {
		row, op := splitChange(r)
		switch op {
		case agg.OpInsert, agg.OpUpdateAfter:
			table[row]++
		case agg.OpUpdateBefore, agg.OpDelete:
			if table[row] == 0 {
				t.Fatalf("%s retracts %s, which the result does not hold", op, row)
			}
			table[row]--
			if table[row] == 0 {
				delete(table, row)
			}
		default:
			t.Fatalf("unknown op %q in %s", op, r)
		}
	}
}

// splitChange splits a changelog row (formatted by opstest.Row, the op last) into the
// row and its op.
func splitChange(r string) (row, op string) {
	i := strings.LastIndex(r, " | ")
	return r[:i], strings.Trim(r[i+3:], `"`)
}

func rowsOf(table map[string]int) []string {
	var out []string
	for r, n := range table {
		for ; n > 0; n-- {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

type sink struct{ rows []string }

func (s *sink) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		s.rows = append(s.rows, opstest.Rows(m.Rec)...)
		m.Rec.Release()
	}
	return nil
}

func (s *sink) take() []string {
	r := s.rows
	s.rows = nil
	return r
}

// With a mini-batch interval, changes wait for the tick (or a barrier): each group emits
// once per mini-batch however many batches touched it, and the changes applied to an empty
// table give the reference result at every tick.
func TestGroupByMiniBatch(t *testing.T) {
	steps, rows := aggStream(12, 24)
	defer opstest.Release(steps)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := changelogOp(t, "k").New().(*agg.GroupByOp)
	op.MiniBatch = time.Hour
	if err := op.Open(runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 16)); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	out := &sink{}
	table := map[string]int{}
	pos, emitted, batches := 0, 0, 0
	for _, st := range steps {
		if st.Rec == nil {
			continue
		}
		st.Rec.Retain()
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq}, out); err != nil {
			t.Fatal(err)
		}
		pos += int(st.Rec.NumRows())
		batches++
		if len(out.rows) > 0 {
			t.Fatalf("changes emitted before the mini-batch ended: %v", out.rows)
		}
		if batches%8 != 0 {
			continue
		}
		if batches%16 == 0 {
			err := op.FlushBeforeBarrier(out) // a barrier ends the mini-batch too
			if err != nil {
				t.Fatal(err)
			}
		} else if err := op.OnTick(out); err != nil {
			t.Fatal(err)
		}
		got := out.take()
		// At most one +I, or one -U/+U pair, per group.
		per := map[string]int{}
		for _, r := range got {
			per[r[:strings.Index(r, " | ")]]++
		}
		for k, n := range per {
			if n > 2 {
				t.Fatalf("group %s emitted %d changes in one mini-batch", k, n)
			}
		}
		emitted += len(got)
		apply(t, table, got)
		want := refGroupBy(rows[:pos], []int{0})
		opstest.Equal(t, rowsOf(table), want)
	}
	if emitted >= len(refChanges(steps, rows, []int{0})) {
		t.Fatalf("mini-batches emitted %d changes, no fewer than one per batch", emitted)
	}
}

// State TTL: a group not updated for the TTL is deleted from the result (-D with its last
// row) and its state dropped; a later row of its key starts it afresh (+I). The same with
// every group in the spill store between batches (Pebble, a 1-byte cap).
func TestGroupByStateTTL(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testStateTTL(t, false) })
	t.Run("spilled", func(t *testing.T) {
		defer agg.SpillAnyTable(false)()
		testStateTTL(t, true)
	})
}

func testStateTTL(t *testing.T, spilled bool) {
	schema := inSchema
	clock := time.Unix(1000, 0)
	op := changelogOp(t, "k")
	mk := op.New
	op.New = func() runtime.Operator {
		g := mk().(*agg.GroupByOp)
		g.TTL = 10 * time.Second
		g.Now = func() time.Time { return clock }
		return g
	}
	row := func(k int64, v int64) []any { return []any{k, "a", v, 1.0, "s"} }
	batch := func(rs ...[]any) runtime.Message {
		return runtime.Message{Kind: runtime.MsgBatch, Rec: opstest.Batch(schema, rs)}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	g := op.New().(*agg.GroupByOp)
	tc := runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 16)
	if spilled {
		tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: 1, Dir: t.TempDir()}
	}
	if err := g.Open(tc); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	out := &sink{}
	table := map[string]int{}
	step := func(m runtime.Message) {
		t.Helper()
		if err := g.ProcessBatch(m, out); err != nil {
			t.Fatal(err)
		}
		apply(t, table, out.take())
	}
	tick := func() []string {
		t.Helper()
		if err := g.OnTick(out); err != nil {
			t.Fatal(err)
		}
		got := out.take()
		apply(t, table, got)
		return got
	}
	ref := func(rs ...[]any) []string { return refGroupBy(rs, []int{0}) }
	step(batch(row(1, 10), row(2, 20)))
	clock = clock.Add(5 * time.Second)
	step(batch(row(1, 11)))
	if got := tick(); len(got) != 0 {
		t.Fatalf("expired too early: %v", got)
	}
	clock = clock.Add(6 * time.Second) // key 2 last updated 11s ago, key 1 6s ago
	got := tick()
	if len(got) != 1 || !strings.HasPrefix(got[0], "2 | ") || !strings.HasSuffix(got[0], `"-D"`) {
		t.Fatalf("expiry of key 2: %v", got)
	}
	opstest.Equal(t, rowsOf(table), ref(row(1, 10), row(1, 11)))
	step(batch(row(2, 5), row(3, 7)))
	opstest.Equal(t, rowsOf(table), ref(row(1, 10), row(1, 11), row(2, 5), row(3, 7)))
	clock = clock.Add(5 * time.Second) // key 1 11s old
	if got := tick(); len(got) != 1 || !strings.HasPrefix(got[0], "1 | ") {
		t.Fatalf("expiry of key 1: %v", got)
	}
	step(batch(row(3, 1)))
	opstest.Equal(t, rowsOf(table), ref(row(2, 5), row(3, 7), row(3, 1)))
	clock = clock.Add(time.Hour)
	tick()
	if len(table) != 0 {
		t.Fatalf("every group expired, the result holds %v", rowsOf(table))
	}
	step(batch(row(2, 1)))
	opstest.Equal(t, rowsOf(table), ref(row(2, 1)))
	if evicted, thawed := agg.ColdUse(g); spilled && (evicted == 0 || thawed == 0) {
		t.Fatalf("%d groups moved to the store, %d read back: every group should have been", evicted, thawed)
	}
}

var changeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: agg.OpColumn, Type: arrow.BinaryTypes.String},
}, nil)

// changeStream is a random valid changelog of rows (k, v): inserts, deletes of rows the
// table holds, and updates (-U of a held row, +U of a new one of the same key), in batches.
func changeStream(seed int64, batches int) ([]opstest.Step, [][][]any) {
	rng := rand.New(rand.NewSource(seed))
	var held [][]any
	var steps []opstest.Step
	var all [][][]any // per batch, its rows (k, v, op)
	newRow := func(k any) []any {
		var v any = int64(rng.Intn(200) - 100)
		if rng.Intn(6) == 0 {
			v = nil
		}
		return []any{k, v}
	}
	for b := 0; b < batches; b++ {
		var rows [][]any
		for n := 1 + rng.Intn(10); n > 0; n-- {
			switch r := rng.Intn(10); {
			case r < 4 || len(held) == 0:
				var k any = int64(rng.Intn(15))
				if rng.Intn(10) == 0 {
					k = nil
				}
				row := newRow(k)
				held = append(held, row)
				rows = append(rows, append(append([]any{}, row...), agg.OpInsert))
			default:
				i := rng.Intn(len(held))
				old := held[i]
				held = append(held[:i], held[i+1:]...)
				if r < 8 {
					rows = append(rows, append(append([]any{}, old...), agg.OpDelete))
					continue
				}
				row := newRow(old[0])
				held = append(held, row)
				rows = append(rows, append(append([]any{}, old...), agg.OpUpdateBefore), append(append([]any{}, row...), agg.OpUpdateAfter))
			}
		}
		all = append(all, rows)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(changeSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	return steps, all
}

// refRetractChanges is the changelog of group_by(k).agg(count(), count(v), sum(v), mean(v))
// over a changelog, batch by batch: the table the input changes make is aggregated after
// each batch, and each key the batch touched emits -U/+U (old and new row), +I (a new key),
// -D (a key with no row left) or nothing (a key that came and went).
func refRetractChanges(batches [][][]any) []string {
	table := map[string][][]any{} // key -> held rows
	result := func(k string) (string, bool) {
		rows := table[k]
		if len(rows) == 0 {
			return "", false
		}
		var cnt, sum int64
		for _, r := range rows {
			if v, ok := r[1].(int64); ok {
				cnt++
				sum += v
			}
		}
		var s, mean any
		if cnt > 0 {
			s, mean = sum, float64(sum)/float64(cnt)
		}
		return opstest.Row(rows[0][0], int64(len(rows)), cnt, s, mean), true
	}
	var out []string
	for _, rows := range batches {
		prev := map[string]string{}
		var touched []string
		for _, r := range rows {
			k := opstest.Row(r[0])
			if _, ok := prev[k]; !ok {
				p, _ := result(k)
				prev[k] = p
				touched = append(touched, k)
			}
			if r[2] == agg.OpInsert || r[2] == agg.OpUpdateAfter {
				table[k] = append(table[k], r[:2])
				continue
			}
			held := table[k]
			for i, h := range held {
				if opstest.Row(h...) == opstest.Row(r[:2]...) {
					table[k] = append(held[:i:i], held[i+1:]...)
					break
				}
			}
		}
		for _, k := range touched {
			cur, ok := result(k)
			switch {
			case prev[k] != "" && ok:
				out = append(out, prev[k]+` | "-U"`, cur+` | "+U"`)
			case prev[k] != "":
				out = append(out, prev[k]+` | "-D"`)
			case ok:
				out = append(out, cur+` | "+I"`)
			}
		}
	}
	sort.Strings(out)
	return out
}

// A group_by over a changelog takes retracted rows back out of its groups: its own
// changelog is the reference's (groups that lose every row are deleted), straight,
// checkpointed and restored at other parallelisms, on both backends.
func TestGroupByOverChangelogThreeWays(t *testing.T) {
	steps, batches := changeStream(5, 40)
	defer opstest.Release(steps)
	want := refRetractChanges(batches)
	deletes := 0
	for _, r := range want {
		if strings.HasSuffix(r, `"-D"`) {
			deletes++
		}
	}
	if deletes < 3 {
		t.Fatalf("only %d deletions in the reference", deletes)
	}
	k, v := opstest.Col(changeSchema, "k"), opstest.Col(changeSchema, "v")
	specOf := func(fn string, arg expr.Expr, name string) agg.Spec {
		s := agg.Spec{Fn: fn, Name: name, Arg: arg, OutType: arrow.PrimitiveTypes.Int64}
		if fn == "mean" {
			s.OutType = arrow.PrimitiveTypes.Float64
		}
		return s
	}
	aggs := []agg.Spec{specOf("count", nil, "n"), specOf("count", v, "count_v"), specOf("sum", v, "sum_v"), specOf("mean", v, "mean_v")}
	fields := []arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}
	for _, a := range aggs {
		fields = append(fields, arrow.Field{Name: a.Name, Type: a.OutType, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String})
	schema := arrow.NewSchema(fields, nil)
	op := opstest.Op{
		New: func() runtime.Operator {
			return &agg.GroupByOp{Name: "group_by", Keys: []expr.Expr{k}, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
				Aggs: aggs, Schema: schema, BatchSize: 5, Changelog: true, Retract: true, OpCol: 2}
		},
		Keys:   opstest.KeysOf([]expr.Expr{k}),
		MaxPar: 16,
	}
	runSpilledToo(t, op, steps, 6, want)
}

// runSpilledToo runs opstest.RunAll, then again with every group of an updating group_by
// moved to its spill store after each batch on the Pebble runs, and checks that they
// were.
func runSpilledToo(t *testing.T, op opstest.Op, steps []opstest.Step, every int, want []string) {
	t.Run("in-memory", func(t *testing.T) { opstest.RunAll(t, op, steps, every, want) })
	t.Run("spilled", func(t *testing.T) {
		defer agg.SpillAnyTable(false)()
		counted, made := countingOp(op)
		opstest.RunAll(t, counted, steps, every, want)
		mustHaveMoved(t, made())
	})
}
