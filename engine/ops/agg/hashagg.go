package agg

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// hashAgg is one hash aggregation: groups keyed by the key expressions, with one
// accumulator per aggregation. group_by uses one per subtask; windows use one per window.
type Table struct {
	name     string
	keys     []expr.Expr
	keyTypes []arrow.DataType
	aggs     []Spec
	groups   *keyed.Grouper
	accs     []accumulator // read through Accs(), which unpacks the row layout
	slab     *slab         // the row layout of the accumulators' states (rowlayout.go), or nil
	ids      []uint32
	// opCol is the op column of an updating input (NewRetractTable), left out of the row
	// hashes first and last keep; rowKeyed: some accumulator keeps them.
	opCol    int
	rowKeyed bool
	noSlab   bool // never the row layout
}

func NewTable(name string, keys []expr.Expr, keyTypes []arrow.DataType, aggs []Spec) *Table {
	return NewTableSized(name, keys, keyTypes, aggs, 0)
}

// NewTableSized is NewTable with its hash table sized for about groups groups
// (keyed.NewGrouperSized).
func NewTableSized(name string, keys []expr.Expr, keyTypes []arrow.DataType, aggs []Spec, groups int) *Table {
	h := &Table{name: name, keys: keys, keyTypes: keyTypes, aggs: aggs, groups: keyed.NewGrouperSized(keyTypes, groups)}
	for _, a := range aggs {
		h.accs = append(h.accs, newAccumulator(a))
	}
	h.slab = newSlab(h.accs)
	return h
}

// NewRetractTable is NewTable for an updating input whose op column is opCol: min, max,
// first, last and n_unique keep every value of their groups so that rows can be taken
// back (retractpick.go).
func NewRetractTable(name string, keys []expr.Expr, keyTypes []arrow.DataType, aggs []Spec, opCol int) *Table {
	h := NewTable(name, keys, keyTypes, aggs)
	h.opCol = opCol
	h.slab, h.noSlab = nil, true // the states of an updating input are taken back (retract.go)
	for i, a := range aggs {
		if retractPicks[a.Fn] && a.Arg != nil {
			r := newRetractPick(a)
			h.accs[i] = r
			h.rowKeyed = h.rowKeyed || r.ordered()
		}
		if s, ok := h.accs[i].(*sumAcc); ok && s.stor == storFloat {
			s.rf = &retractFloats{} // sums of the rows left, not the remains of subtractions
		}
	}
	return h
}

// setRows hands the accumulators that keep rows (first, last over an updating input)
// the hash of every row of rec: of all its columns but the op column (those of a type
// that hashes: not nested ones).
func (h *Table) setRows(rec arrow.RecordBatch) {
	if !h.rowKeyed {
		return
	}
	var cols []arrow.Array
	for i, c := range rec.Columns() {
		if i != h.opCol && expr.HashableType(c.DataType()) {
			cols = append(cols, c)
		}
	}
	hashes := make([]uint64, rec.NumRows())
	expr.HashColumns(cols, hashes)
	for _, a := range h.accs {
		if r, ok := a.(*retractPickAcc); ok && r.ordered() {
			r.rows = hashes
		}
	}
}

func (h *Table) NumGroups() int { return h.groups.NumGroups() }

// Consume folds a batch into the groups and returns the group id of each row (valid until
// the next call).
func (h *Table) Consume(ec *expr.EvalCtx, rec arrow.RecordBatch, seq runtime.Seq) ([]uint32, error) {
	n := int(rec.NumRows())
	h.ids = expr.Grow(h.ids, n)[:n]
	if n == 0 {
		return h.ids, nil
	}
	if len(h.keys) == 0 {
		// A global aggregation: one group.
		for i := range h.ids {
			h.ids[i] = 0
		}
		if h.groups.NumGroups() == 0 {
			h.groups.Hash = append(h.groups.Hash, 0)
		}
	} else {
		keys, err := runtime.EvalColumns(ec, h.keys, rec)
		if err != nil {
			return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", h.name)
		}
		err = h.groups.Consume(ec.Ctx, keys, h.ids)
		runtime.ReleaseAll(keys)
		if err != nil {
			return nil, err
		}
	}
	return h.ids, h.Update(ec, rec, h.ids, seq)
}

// Update folds rows into the given groups (ids), which must exist.
func (h *Table) Update(ec *expr.EvalCtx, rec arrow.RecordBatch, ids []uint32, seq runtime.Seq) error {
	if ec.StartSharing() { // the aggregations' common subexpressions (ShareArgs), once
		defer ec.EndSharing()
	}
	h.setRows(rec)
	ng := h.groups.NumGroups()
	if m := maxGid(ids); m > ng {
		ng = m
	}
	if h.slab != nil {
		return h.updateSlab(ec, rec, ids, ng)
	}
	for i, a := range h.aggs {
		var col arrow.Array
		if a.Arg != nil {
			var err error
			if col, err = evalColumn(ec, a.Arg, rec); err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "%s", h.name)
			}
		}
		var err error
		if pa, ok := h.accs[i].(pairAccumulator); ok {
			var by arrow.Array
			if by, err = evalColumn(ec, a.By, rec); err == nil {
				err = pa.updatePair(ec, ids, ng, col, by, seq)
				by.Release()
			}
		} else {
			err = h.accs[i].update(ec, ids, ng, col, seq)
		}
		if col != nil {
			col.Release()
		}
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, a.Name)
		}
	}
	return nil
}

// updateSlab is Update into the row layout.
func (h *Table) updateSlab(ec *expr.EvalCtx, rec arrow.RecordBatch, ids []uint32, ng int) error {
	cols := make([]arrow.Array, len(h.aggs))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, a := range h.aggs {
		if a.Arg != nil {
			c, err := evalColumn(ec, a.Arg, rec)
			if err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "%s", h.name)
			}
			cols[i] = c
		}
	}
	if i, err := h.slab.update(ec, ids, ng, cols); err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, h.aggs[i].Name)
	}
	return nil
}

// Accs returns the table's accumulators, their states in their own arrays: a table in
// the row layout moves them there first, and goes on without it.
func (h *Table) Accs() []accumulator {
	if h.slab != nil {
		h.slab.unpack()
		h.slab = nil
	}
	return h.accs
}

// readAccs is Accs for a reader that keeps nothing of the arrays past its use of them
// (saving a checkpoint, taking partial states): a table in the row layout copies its
// states into the accumulators' arrays and stays in the layout; done lets the copies go,
// so that no array goes stale beside the slab.
func (h *Table) readAccs() (accs []accumulator, done func()) {
	if h.slab == nil {
		return h.accs, func() {}
	}
	h.slab.unpack()
	return h.accs, h.slab.dropUnpacked
}

// evalColumn evaluates e over rec as an array of rec's length.
func evalColumn(ec *expr.EvalCtx, e expr.Expr, rec arrow.RecordBatch) (arrow.Array, error) {
	d, err := e.Eval(ec, rec)
	if err != nil {
		return nil, err
	}
	return expr.DatumToArray(ec, d, int(rec.NumRows()))
}

// NoGroup is the group id Lookup gives a key the table does not hold.
const NoGroup = keyed.NoGroup

// Lookup writes the group id of each row of key columns keys to ids (len = rows), or
// NoGroup where the table has no group of that key; it adds none.
func (h *Table) Lookup(keys []arrow.Array, ids []uint32) { h.groups.Lookup(keys, ids) }

// KeyColumns returns the key columns of groups gids (nil: all groups).
func (h *Table) KeyColumns(mem memory.Allocator, gids []uint32) ([]arrow.Array, error) {
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	return h.groups.KeysFor(ctx, h.keyTypes, gids)
}

// AggColumns returns the aggregation results of groups gids (nil: all groups).
func (h *Table) AggColumns(mem memory.Allocator, gids []uint32) ([]arrow.Array, error) {
	if gids == nil {
		gids = allGroups(h.NumGroups())
	}
	if h.slab != nil {
		if cols, ok := h.slabColumns(mem, gids); ok {
			return cols, nil
		}
	}
	cols := make([]arrow.Array, 0, len(h.Accs()))
	for i, a := range h.Accs() {
		c, err := a.result(mem, gids)
		if err != nil {
			runtime.ReleaseAll(cols)
			return nil, rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, h.aggs[i].Name)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// slabColumns is AggColumns straight from the row layout, if every aggregation's
// output allows (slot.direct).
func (h *Table) slabColumns(mem memory.Allocator, gids []uint32) ([]arrow.Array, bool) {
	for i := range h.slab.slots {
		if _, _, ok := h.slab.slots[i].direct(); !ok {
			return nil, false
		}
	}
	all := make([]int, len(h.slab.slots))
	for i := range all {
		all[i] = i
	}
	return h.slab.results(mem, all, gids), true
}

// AggColumn returns the result of aggregation i for groups gids (one row per entry,
// groups may repeat).
func (h *Table) AggColumn(mem memory.Allocator, i int, gids []uint32) (arrow.Array, error) {
	if h.slab != nil {
		if _, _, ok := h.slab.slots[i].direct(); ok {
			return h.slab.results(mem, []int{i}, gids)[0], nil
		}
	}
	c, err := h.Accs()[i].result(mem, gids)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, h.aggs[i].Name)
	}
	return c, nil
}

// Release frees the table's memory (its hash table goes to the grouper's pool).
func (h *Table) Release() {
	if h.groups != nil {
		h.groups.Free()
	}
}

// Reset forgets every group, as a new table would, but keeps the memory of the key hash
// table for the next ones (a pre-aggregation begun afresh fills it again: growing it
// anew would allocate, zero and rehash it each time).
func (h *Table) Reset() {
	h.groups.Reset()
	for i, a := range h.aggs {
		h.accs[i] = newAccumulator(a)
	}
	old := h.slab
	h.slab = nil
	if !h.noSlab {
		h.slab = newSlab(h.accs)
	}
	if h.slab != nil && old != nil { // the same aggregations: the same layout
		old.reset()
		h.slab.w = old.w
	}
}
