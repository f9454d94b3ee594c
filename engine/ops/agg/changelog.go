package agg

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// An updating group_by (over an unbounded input) emits a changelog, as Flink's dynamic
// tables: every row of its result carries an op column (OpColumn, last) saying what the
// row does to the result table, with Flink's RowKind short strings:
//
//	+I  insert: a new group's first row
//	-U  update before: retract the group's previous row (its old values)
//	+U  update after: the group's new row
//	-D  delete: the group left the result (its state expired, see TTL)
//
// Applying the changes in order to an empty table (+I and +U add the row, -U and -D remove
// one equal row) gives the aggregate over every input row so far. Changes are emitted by
// mini-batch: the groups a batch (or, with MiniBatch, an interval) touched emit at most one
// -U/+U pair (or one +I) each when it ends, the retractions of a mini-batch first. Before a
// checkpoint barrier passes, the pending mini-batch is emitted (runtime.PreBarrier), so the
// changes before a barrier are exactly those of the input before it and the checkpoint
// holds no pending change.

// Change kinds: the values of the op column.
const (
	OpInsert       = "+I"
	OpUpdateBefore = "-U"
	OpUpdateAfter  = "+U"
	OpDelete       = "-D"
)

// OpColumn is the name of a changelog's op column (a string column, Flink's RowKind).
const OpColumn = "__op"

// SplitChanges reads the op column (at opCol) of a batch of an updating input: it returns
// the batch without it (schema: the input's columns but the op column) and which rows are
// taken back (-U, -D). An unknown change is an error naming the operator.
func SplitChanges(name string, rec arrow.RecordBatch, opCol int, schema *arrow.Schema) (arrow.RecordBatch, []bool, error) {
	ops, ok := rec.Column(opCol).(*array.String)
	if !ok {
		return nil, nil, rberr.New(rberr.Internal, "%s: the op column is %s", name, rec.Column(opCol).DataType())
	}
	retract := make([]bool, rec.NumRows())
	for i := range retract {
		switch ops.Value(i) {
		case OpUpdateBefore, OpDelete:
			retract[i] = true
		case OpInsert, OpUpdateAfter:
		default:
			return nil, nil, rberr.New(rberr.Data, "%s: unknown change %q in the %s column", name, ops.Value(i), OpColumn)
		}
	}
	cols := make([]arrow.Array, 0, rec.NumCols()-1)
	for i, c := range rec.Columns() {
		if i != opCol {
			cols = append(cols, c)
		}
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), retract, nil
}

// ChangelogTable is the state table of an updating group_by: one row per group, its key
// columns, the state of each aggregation (AccFields), the time it was last updated
// (TouchedField; milliseconds since the epoch, for the state TTL) and its row count
// (RowsField).
const ChangelogTable = "changelog_groups.v1"

// TouchedField is the column of ChangelogTable with each group's last update time;
// RowsField the number of input rows in the group (added less retracted; a group with none
// is not in the result).
var (
	TouchedField = arrow.Field{Name: "__rb_touched_ms", Type: arrow.PrimitiveTypes.Int64}
	RowsField    = arrow.Field{Name: "__rb_rows", Type: arrow.PrimitiveTypes.Int64}
)

// changes is the changelog bookkeeping of a GroupByOp, per group id.
type changes struct {
	rows    []int64             // input rows in the group (added less retracted)
	beforeG []uint32            // the group of each row of before, in order
	emitted []bool              // the group's current row has been emitted (else its next is +I)
	dirty   []bool              // updated since the last flush
	list    []uint32            // the dirty groups, in the order they became dirty
	before  []arrow.RecordBatch // -U rows of groups made dirty since the last flush
	touched []int64             // last update, unix ms
	used    []uint32            // the batch that last updated the group (coldGroups.clock)
	stored  []bool              // the spill store holds a copy of the group (cold.go)
	expired time.Time           // when expiry last ran
	// hits counts the rows folded into each group, when not nil (the table of a key
	// range of parked rows, park.go)
	hits []int32
}

func (o *GroupByOp) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// reuse returns empty bookkeeping for a table of a key range of parked rows (park.go),
// with hits, over c's memory (c is not used after).
func (c *changes) reuse(expired time.Time) changes {
	hits := c.hits[:0]
	if hits == nil {
		hits = []int32{}
	}
	return changes{rows: c.rows[:0], beforeG: c.beforeG[:0], emitted: c.emitted[:0], dirty: c.dirty[:0],
		list: c.list[:0], touched: c.touched[:0], used: c.used[:0], stored: c.stored[:0], expired: expired, hits: hits}
}

func (c *changes) grow(n int) {
	for len(c.emitted) < n {
		c.rows = append(c.rows, 0)
		c.emitted = append(c.emitted, false)
		c.dirty = append(c.dirty, false)
		c.touched = append(c.touched, 0)
		c.used = append(c.used, 0)
		c.stored = append(c.stored, false)
		if c.hits != nil {
			c.hits = append(c.hits, 0)
		}
	}
}

// processChanges folds a batch into the groups and records which groups changed. With
// groups in the spill store, the rows whose groups are not in memory are parked
// instead (park.go).
func (o *GroupByOp) processChanges(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	if rec.NumRows() == 0 {
		return nil
	}
	if len(o.Keys) == 0 {
		return o.foldFlush(rec, nil, m.Seq, out)
	}
	keys, err := runtime.EvalColumns(o.tc.Eval, o.agg.keys, rec)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
	}
	defer runtime.ReleaseAll(keys)
	if o.cold != nil && o.cold.N > 0 {
		return o.park(rec, keys, m.Seq, out)
	}
	return o.foldFlush(rec, keys, m.Seq, out)
}

// foldFlush folds rows in (fold), then ends the mini-batch when it is due.
func (o *GroupByOp) foldFlush(rec arrow.RecordBatch, keys []arrow.Array, seq runtime.Seq, out runtime.Emitter) error {
	if err := o.fold(rec, keys, seq); err != nil {
		return err
	}
	if o.MiniBatch <= 0 || o.overCap() {
		// A mini-batch also ends when its groups outgrow the memory cap (as Flink's ends
		// at table.exec.mini-batch.size rows): its pending groups cannot move to the
		// store before their changes are out.
		return o.flushFreeze(out)
	}
	return nil
}

// fold folds rows rec (their key columns keys; nil for a global aggregation) into their
// groups, in memory or new, and records which groups changed.
func (o *GroupByOp) fold(rec arrow.RecordBatch, keys []arrow.Array, seq runtime.Seq) error {
	n := int(rec.NumRows())
	ec := o.tc.Eval
	var ids []uint32
	if len(o.Keys) == 0 {
		ids = make([]uint32, n)
		if o.agg.NumGroups() == 0 {
			o.agg.groups.Hash = append(o.agg.groups.Hash, 0)
		}
	} else {
		var err error
		if ids, err = o.agg.ConsumeKeys(ec.Ctx, keys, n); err != nil {
			return err
		}
	}
	var sign []bool // Retract: the row is taken back
	nret := 0
	if o.Retract {
		ops, ok := rec.Column(o.OpCol).(*array.String)
		if !ok {
			return rberr.New(rberr.Internal, "%s: the op column is %s", o.Name, rec.Column(o.OpCol).DataType())
		}
		sign = make([]bool, n)
		for i := range sign {
			switch ops.Value(i) {
			case OpUpdateBefore, OpDelete:
				sign[i] = true
				nret++
			case OpInsert, OpUpdateAfter:
			default:
				return rberr.New(rberr.Data, "%s: unknown change %q in the %s column", o.Name, ops.Value(i), OpColumn)
			}
		}
	}
	c := &o.cl
	c.grow(o.agg.NumGroups())
	now := o.now().UnixMilli()
	stamp := o.coldClock()
	if o.cold != nil {
		o.cold.clock++
		o.cold.since += int64(n)
	}
	var retract []uint32
	for i, g := range ids {
		c.used[g] = stamp
		if c.hits != nil {
			c.hits[g]++
		}
		if sign != nil && sign[i] {
			c.rows[g]--
		} else {
			c.rows[g]++
		}
		c.touched[g] = now
		if c.dirty[g] {
			continue
		}
		c.dirty[g] = true
		c.list = append(c.list, g)
		if c.emitted[g] {
			retract = append(retract, g)
		}
	}
	if len(retract) > 0 {
		// The rows these groups had when last emitted, before this batch changes them.
		b, err := o.groupRows(retract, func(int) string { return OpUpdateBefore })
		if err != nil {
			return err
		}
		c.before = append(c.before, b)
		c.beforeG = append(c.beforeG, retract...)
	}
	if nret == 0 {
		return o.agg.Update(ec, rec, ids, seq)
	}
	return o.updateSigned(rec, ids, sign)
}

// flushFreeze emits the pending mini-batch, then moves groups beyond the memory cap to
// the spill store (cold.go).
func (o *GroupByOp) flushFreeze(out runtime.Emitter) error {
	if err := o.flush(out); err != nil {
		return err
	}
	return o.freeze()
}

// updateSigned folds the added rows of a batch into their groups and takes the retracted
// ones out (their order within a batch does not matter to count, sum and mean).
func (o *GroupByOp) updateSigned(rec arrow.RecordBatch, ids []uint32, sign []bool) error {
	ec := o.tc.Eval
	for _, back := range []bool{false, true} {
		var rows []int32
		var sub []uint32
		for i, s := range sign {
			if s == back {
				rows = append(rows, int32(i))
				sub = append(sub, ids[i])
			}
		}
		if len(rows) == 0 {
			continue
		}
		part, err := runtime.TakeRows(ec, rec, rows)
		if err != nil {
			return err
		}
		if back {
			err = o.agg.Retract(ec, part, sub)
		} else {
			err = o.agg.Update(ec, part, sub, runtime.SeqUnordered)
		}
		part.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// groupRows builds rows of the output schema for groups gids: keys, aggregations and
// the op column (op(i) for row i).
func (o *GroupByOp) groupRows(gids []uint32, op func(i int) string) (arrow.RecordBatch, error) {
	return o.groupRowsOf(o.agg, gids, op)
}

// groupRowsOf is groupRows of groups of table t.
func (o *GroupByOp) groupRowsOf(t *Table, gids []uint32, op func(i int) string) (arrow.RecordBatch, error) {
	mem := o.tc.Eval.Mem
	var cols []arrow.Array
	if len(o.Keys) > 0 {
		var err error
		if cols, err = t.KeyColumns(mem, gids); err != nil {
			return nil, err
		}
	}
	aggs, err := t.AggColumns(mem, gids)
	if err != nil {
		runtime.ReleaseAll(cols)
		return nil, err
	}
	cols = append(cols, aggs...)
	b := array.NewStringBuilder(mem)
	b.Reserve(len(gids))
	for i := range gids {
		b.Append(op(i))
	}
	cols = append(cols, b.NewArray())
	b.Release()
	rec := array.NewRecordBatch(o.Schema, cols, int64(len(gids)))
	runtime.ReleaseAll(cols)
	return rec, nil
}

// flush emits the pending mini-batch: the retractions (-U), then the new rows of every
// group updated since the last flush (+U, or +I for a group not emitted before).
func (o *GroupByOp) flush(out runtime.Emitter) error {
	c := &o.cl
	if len(c.list) == 0 {
		return nil
	}
	before, beforeG := c.before, c.beforeG
	c.before, c.beforeG = nil, nil
	at := 0
	for i, b := range before {
		if o.Retract {
			// A group whose rows were all taken back left the result: -D, not -U.
			b = o.deletions(b, beforeG[at:at+int(b.NumRows())])
		}
		at += int(b.NumRows())
		if err := runtime.EmitSliced(b, o.BatchSize, out); err != nil {
			for _, r := range before[i+1:] {
				r.Release()
			}
			return err
		}
	}
	list := c.list
	live := list
	if o.Retract {
		live = make([]uint32, 0, len(list))
		for _, g := range list {
			if c.rows[g] > 0 {
				live = append(live, g)
			}
		}
	}
	var after arrow.RecordBatch
	if len(live) > 0 {
		var err error
		after, err = o.groupRows(live, func(i int) string {
			if c.emitted[live[i]] {
				return OpUpdateAfter
			}
			return OpInsert
		})
		if err != nil {
			return err
		}
	}
	for _, g := range list {
		c.dirty[g] = false
		c.emitted[g] = c.rows[g] > 0
		if !c.emitted[g] {
			o.agg.ResetGroup(g) // forget what float sums kept of the retracted values
		}
	}
	c.list = c.list[:0]
	if after == nil {
		return nil
	}
	return runtime.EmitSliced(after, o.BatchSize, out)
}

// deletions rewrites the op of the retraction rows rec (of groups gids) to -D for groups
// that no longer have a row.
func (o *GroupByOp) deletions(rec arrow.RecordBatch, gids []uint32) arrow.RecordBatch {
	gone := false
	for _, g := range gids {
		gone = gone || o.cl.rows[g] <= 0
	}
	if !gone {
		return rec
	}
	b := array.NewStringBuilder(o.tc.Eval.Mem)
	defer b.Release()
	for _, g := range gids {
		if o.cl.rows[g] <= 0 {
			b.Append(OpDelete)
		} else {
			b.Append(OpUpdateBefore)
		}
	}
	op := b.NewArray()
	defer op.Release()
	cols := append(append([]arrow.Array{}, rec.Columns()[:rec.NumCols()-1]...), op)
	out := array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
	rec.Release()
	return out
}

// expire removes the groups not updated for TTL: each is deleted from the result (-D, with
// its last values) and its state dropped; a later row of its key starts it afresh (+I).
func (o *GroupByOp) expire(out runtime.Emitter) error {
	if err := o.flush(out); err != nil {
		return err
	}
	c := &o.cl
	now := o.now()
	c.expired = now
	cutoff := now.Add(-o.TTL).UnixMilli()
	var dead, live []uint32
	for g := 0; g < o.agg.NumGroups(); g++ {
		if c.touched[g] <= cutoff || c.rows[g] <= 0 { // idle, or emptied by retractions
			dead = append(dead, uint32(g))
		} else {
			live = append(live, uint32(g))
		}
	}
	if len(dead) == 0 {
		return o.expireCold(cutoff, out)
	}
	var gone []uint32
	for _, g := range dead {
		if c.emitted[g] {
			gone = append(gone, g)
		}
	}
	if err := o.forget(dead); err != nil {
		return err
	}
	if len(gone) > 0 {
		rec, err := o.groupRows(gone, func(int) string { return OpDelete })
		if err != nil {
			return err
		}
		if err := runtime.EmitSliced(rec, o.BatchSize, out); err != nil {
			return err
		}
	}
	// The hash table cannot drop a group: rebuild it from the live groups.
	if err := o.rebuild(live); err != nil {
		return err
	}
	return o.expireCold(cutoff, out)
}

// expireCold deletes the stored groups not updated since cutoff (or emptied by
// retractions) from the result and from the store.
func (o *GroupByOp) expireCold(cutoff int64, out runtime.Emitter) error {
	var dead [][]byte
	err := o.scanCold(func(keys, accs []arrow.Array, touched, rows []int64, enc [][]byte) error {
		var gone []int32
		for i := range rows {
			if touched[i] <= cutoff || rows[i] <= 0 {
				dead = append(dead, enc[i])
				if rows[i] > 0 {
					gone = append(gone, int32(i))
				}
			}
		}
		if len(gone) == 0 {
			return nil
		}
		// Their last rows, as -D, from a table of these groups alone.
		t := o.newTable()
		defer t.Release()
		ids, err := t.LoadGroups(o.tc.Eval.Ctx, keys, accs)
		if err != nil {
			return err
		}
		gids := make([]uint32, len(gone))
		for i, r := range gone {
			gids[i] = ids[r]
		}
		rec, err := o.groupRowsOf(t, gids, func(int) string { return OpDelete })
		if err != nil {
			return err
		}
		return runtime.EmitSliced(rec, o.BatchSize, out)
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := o.cold.Store.DeleteKey(k); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: expiring groups beyond state_memory_limit", o.Name)
		}
	}
	if o.cold != nil {
		o.cold.N -= len(dead)
	}
	return nil
}

// TickInterval implements the runtime's periodic call: mini-batches end and state expires
// on it.
func (o *GroupByOp) TickInterval() time.Duration {
	if !o.Changelog {
		return 0
	}
	d := o.MiniBatch
	if d <= 0 && o.cold != nil {
		d = o.parkWait() / 2 // parked rows (park.go)
	}
	if o.TTL > 0 {
		t := max(o.TTL/4, 10*time.Millisecond)
		if d <= 0 || t < d {
			d = t
		}
	}
	return d
}

// OnTick ends the mini-batch and expires state whose TTL has passed.
func (o *GroupByOp) OnTick(out runtime.Emitter) error {
	if !o.Changelog {
		return nil
	}
	if o.TTL > 0 && o.now().Sub(o.cl.expired) >= max(o.TTL/4, 10*time.Millisecond) {
		// Parked rows updated their groups before expiry looks at them.
		if err := o.unpark(out); err != nil {
			return err
		}
		if err := o.expire(out); err != nil { // flushes first
			return err
		}
		return o.freeze()
	}
	if err := o.unparkDue(out); err != nil {
		return err
	}
	return o.flushFreeze(out)
}

// FlushBeforeBarrier implements runtime.PreBarrier: the pending mini-batch goes out ahead
// of the barrier.
func (o *GroupByOp) FlushBeforeBarrier(out runtime.Emitter) error {
	if !o.Changelog {
		return nil
	}
	if err := o.unpark(out); err != nil {
		return err
	}
	return o.flushFreeze(out)
}

// ExpireNow runs state expiry at once (tests; the runtime expires on OnTick).
func (o *GroupByOp) ExpireNow(out runtime.Emitter) error {
	if err := o.unpark(out); err != nil {
		return err
	}
	return o.expire(out)
}

func (o *GroupByOp) changelogStateSchema() *arrow.Schema {
	return arrow.NewSchema(append(append(KeyFields(o.Schema, o.KeyTypes), AccFields(o.Aggs)...), TouchedField, RowsField), nil)
}

// saveChanges writes every group with its last update time. The mini-batch must have been
// flushed (FlushBeforeBarrier).
func (o *GroupByOp) saveChanges(b state.Backend) error {
	if len(o.cl.list) > 0 {
		return rberr.New(rberr.Internal, "%s: a checkpoint with %d groups whose changes were not emitted", o.Name, len(o.cl.list))
	}
	if o.cold != nil && len(o.cold.parked.recs) > 0 {
		return rberr.New(rberr.Internal, "%s: a checkpoint with %d rows not folded in", o.Name, len(o.cold.parked.ends))
	}
	if err := o.saveCold(b); err != nil {
		return err
	}
	n := o.agg.NumGroups()
	if n == 0 {
		return nil
	}
	mem := o.tc.Eval.Mem
	keys, accs, err := o.agg.SaveGroups(mem, nil)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(keys)
	defer runtime.ReleaseAll(accs)
	touched := keyed.Int64Column(mem, o.cl.touched[:n])
	defer touched.Release()
	rows := keyed.Int64Column(mem, o.cl.rows[:n])
	defer rows.Release()
	w := keyed.NewStateWriter(o.tc.Eval, o.Name, ChangelogTable, o.changelogStateSchema())
	cols := append(append(append([]arrow.Array{}, keys...), accs...), touched, rows)
	if err := w.AddColumns(cols, n, keyed.KeyGroups(keys, n, o.tc.MaxParallelism())); err != nil {
		w.Release()
		return err
	}
	return w.Write(b)
}

// loadChanges restores the groups; every one with rows has been emitted (a checkpoint
// holds no pending change).
func (o *GroupByOp) loadChanges(b state.Backend) error {
	nk := len(o.KeyTypes)
	na := len(o.Aggs)
	return keyed.ReadState(b, o.tc.Eval.Mem, o.Name, ChangelogTable, o.changelogStateSchema(), func(_ int, rec arrow.RecordBatch) error {
		cols := rec.Columns()
		if err := o.loadGroups(cols[:nk], cols[nk:nk+na], keyed.Int64s(cols[nk+na]), keyed.Int64s(cols[nk+na+1])); err != nil {
			return err
		}
		if o.cold != nil {
			o.cold.since += rec.NumRows()
		}
		return o.freeze()
	})
}
