package agg

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// GroupByOp is a hash aggregation over the key groups its subtask owns. On a bounded
// input it emits every group when the final watermark arrives (at finish). With
// Changelog (an unbounded input) it emits an updating result instead: a changelog of its
// groups (changelog.go), with the op column last in Schema.
type GroupByOp struct {
	runtime.BaseOp
	Name      string
	Keys      []expr.Expr
	KeyTypes  []arrow.DataType
	Aggs      []Spec
	Schema    *arrow.Schema
	BatchSize int
	// Changelog: emit changes (+I, -U, +U, -D) as the input comes, not the final table.
	Changelog bool
	// Retract: the input is a changelog whose op column is OpCol: rows with -U and -D are
	// taken back out of their groups (retract.go). Implies Changelog.
	Retract bool
	OpCol   int
	// PreAgg: the input comes from a pre-aggregation (PreAggOp, preagg.go): batches of
	// partial states, or rows (with their key hash as a last column when their schema is
	// marked so, runtime.CarriesKeyHashes).
	PreAgg bool
	// MiniBatch is how long changes are gathered before they are emitted (each group
	// emits at most once per mini-batch; 0: after every input batch). TTL drops the state
	// of a group not updated for that long (0: never), deleting it from the result. Both
	// are processing time; Now is the clock (nil: time.Now).
	MiniBatch time.Duration
	TTL       time.Duration
	Now       func() time.Time
	tc        *runtime.TaskCtx
	agg       *Table
	spill     *aggSpill   // nil: the groups stay in memory (spill.go)
	cold      *coldGroups // Changelog: nil when the groups stay in memory (cold.go)
	cl        changes
}

var _ runtime.PreBarrier = (*GroupByOp)(nil)

var _ runtime.KeyedState = (*GroupByOp)(nil)

func (o *GroupByOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.agg = o.newTable()
	if o.Changelog {
		o.cold = newColdGroups(tc, o.Name, o.KeyTypes, o.Aggs)
	} else {
		o.spill = newAggSpill(tc, o.Name, o.KeyTypes, o.Aggs, o.newTable)
	}
	return nil
}

func (o *GroupByOp) newTable() *Table {
	if o.Retract {
		return NewRetractTable(o.Name, o.Keys, o.KeyTypes, o.Aggs, o.OpCol)
	}
	return NewTable(o.Name, o.Keys, o.KeyTypes, o.Aggs)
}

func (o *GroupByOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *GroupByOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	defer m.Rec.Release()
	if o.Changelog {
		return o.processChanges(m, out)
	}
	rec := m.Rec
	step := o.spill.chunkRows(rec)
	for at := int64(0); at < rec.NumRows(); at += step {
		part := m
		if step < rec.NumRows() {
			part.Rec = rec.NewSlice(at, min(at+step, rec.NumRows()))
		}
		err := o.consumeWithin(part)
		if part.Rec != rec {
			part.Rec.Release()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// consumeWithin folds a batch into the table, spilling before and after as the memory
// cap requires (spill.go).
func (o *GroupByOp) consumeWithin(m runtime.Message) error {
	var err error
	if o.agg, err = o.spill.reserve(o.agg, int(m.Rec.NumRows())); err != nil {
		return err
	}
	if err := o.consume(m); err != nil {
		return err
	}
	o.agg, err = o.spill.check(o.agg, int(m.Rec.NumRows()))
	return err
}

// consume folds a batch into the table: rows, or partial states after a pre-aggregation.
func (o *GroupByOp) consume(m runtime.Message) error {
	if o.PreAgg {
		rec := m.Rec
		if IsPartial(rec.Schema()) {
			return o.agg.MergePartial(o.tc.Eval, rec)
		}
		if runtime.CarriesKeyHashes(rec.Schema()) {
			hc, ok := rec.Column(int(rec.NumCols()) - 1).(*array.Uint64)
			if !ok {
				return rberr.New(rberr.Internal, "%s: rows without their key hash column", o.Name)
			}
			_, err := o.agg.ConsumeHashed(o.tc.Eval, rec, hc.Uint64Values(), m.Seq)
			return err
		}
	}
	_, err := o.agg.Consume(o.tc.Eval, m.Rec, m.Seq)
	return err
}

func (o *GroupByOp) Finish(out runtime.Emitter) error {
	if o.Changelog {
		if err := o.unpark(out); err != nil {
			return err
		}
		return o.flush(out)
	}
	if o.spill != nil {
		defer o.spill.remove()
	}
	return o.spill.drain(o.tc, o.agg, func(t *Table) error { return o.emit(t, out) })
}

// emit emits every group of t.
func (o *GroupByOp) emit(t *Table, out runtime.Emitter) error {
	n := t.NumGroups()
	if n == 0 && len(o.Keys) == 0 {
		// A global aggregation over no rows still has one row (count 0, sums null), as SQL.
		t.groups.Hash = append(t.groups.Hash, 0)
		n = 1
	}
	if n == 0 {
		return nil
	}
	mem := o.tc.Eval.Mem
	cols, err := t.KeyColumns(mem, nil)
	if err != nil {
		return err
	}
	aggs, err := t.AggColumns(mem, nil)
	if err != nil {
		runtime.ReleaseAll(cols)
		return err
	}
	cols = append(cols, aggs...)
	rec := array.NewRecordBatch(o.Schema, cols, int64(n))
	runtime.ReleaseAll(cols)
	return runtime.EmitSliced(rec, o.BatchSize, out)
}

func (o *GroupByOp) Close() {
	if o.agg != nil {
		o.agg.Release()
	}
	o.spill.remove()
	if o.cold != nil {
		o.cold.parked.release()
		o.cold.Close()
	}
	for _, b := range o.cl.before {
		b.Release()
	}
	o.cl.before = nil
}

// GroupsTable is the state table of group_by: one row per group, its key columns and the
// state of each aggregation (AccFields).
const GroupsTable = "groups.v1"

func (o *GroupByOp) stateSchema() *arrow.Schema {
	return arrow.NewSchema(append(KeyFields(o.Schema, o.KeyTypes), AccFields(o.Aggs)...), nil)
}

// StateTables implements runtime.KeyedState.
func (o *GroupByOp) StateTables() []state.TableSpec {
	if o.Changelog {
		return []state.TableSpec{keyed.BatchTable(ChangelogTable)}
	}
	return []state.TableSpec{keyed.BatchTable(GroupsTable), keyed.BatchTable(SpilledGroupsTable)}
}

// SaveState implements runtime.KeyedState: every group, in its key group.
func (o *GroupByOp) SaveState(b state.Backend) error {
	if o.Changelog {
		return o.saveChanges(b)
	}
	if err := o.spill.save(o.tc, o.Name, b); err != nil {
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
	w := keyed.NewStateWriter(o.tc.Eval, o.Name, GroupsTable, o.stateSchema())
	if err := w.AddColumns(append(append([]arrow.Array{}, keys...), accs...), n, keyed.KeyGroups(keys, n, o.tc.MaxParallelism())); err != nil {
		w.Release()
		return err
	}
	return w.Write(b)
}

// LoadState implements runtime.KeyedState.
func (o *GroupByOp) LoadState(b state.Backend) error {
	if o.Changelog {
		return o.loadChanges(b)
	}
	nk := len(o.KeyTypes)
	err := keyed.ReadState(b, o.tc.Eval.Mem, o.Name, GroupsTable, o.stateSchema(), func(_ int, rec arrow.RecordBatch) error {
		var err error
		if o.agg, err = o.spill.reserve(o.agg, int(rec.NumRows())); err != nil {
			return err
		}
		if _, err := o.agg.LoadGroups(o.tc.Eval.Ctx, rec.Columns()[:nk], rec.Columns()[nk:]); err != nil {
			return err
		}
		o.agg, err = o.spill.check(o.agg, int(rec.NumRows()))
		return err
	})
	if err != nil {
		return err
	}
	// Spilled groups come back as partial states, merged into the groups loaded above.
	return keyed.ReadState(b, o.tc.Eval.Mem, o.Name, SpilledGroupsTable, PartialSchema(o.KeyTypes, o.Aggs), func(_ int, rec arrow.RecordBatch) error {
		var err error
		if o.agg, err = o.spill.reserve(o.agg, int(rec.NumRows())); err != nil {
			return err
		}
		if err := o.agg.MergePartial(o.tc.Eval, rec); err != nil {
			return err
		}
		o.agg, err = o.spill.check(o.agg, int(rec.NumRows()))
		return err
	})
}
