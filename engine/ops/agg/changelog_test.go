package agg_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// changelogOp is groupByOp emitting a changelog (as over an unbounded input).
func changelogOp(t *testing.T, keys ...string) opstest.Op {
	op := groupByOp(t, keys...)
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
		i := strings.LastIndex(r, " | ")
		row, op := r[:i], strings.Trim(r[i+3:], `"`)
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
// row) and its state dropped; a later row of its key starts it afresh (+I).
func TestGroupByStateTTL(t *testing.T) {
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
	if err := g.Open(runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 16)); err != nil {
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
}
