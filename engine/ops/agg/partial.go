package agg

import (
	"cmp"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Partial aggregation states: what a pre-aggregation (preagg.go) sends through the hash
// exchange and the group_by after it merges into its groups, as Spark's partial
// aggregation and Flink's local-global aggregation do. A batch of partial states has the
// key columns of its groups, then the partial state of each aggregation (one or more
// columns, partialFields), then the groups' key hashes (uint64, as the exchange routes
// by); its schema carries PartialMeta so that the group_by tells it from input rows.
//
// The hot aggregations travel as typed columns (count: the count; sum and mean: the count
// of values and the sum; min and max: the value, null for a group without one). Every
// other aggregation travels as its checkpoint bytes (save, state.go) and merges through
// Merge, as session windows merge groups. Median and quantile keep every value, so a
// partial state of them is no smaller than its rows: PreAggregatable refuses them.

// PartialMeta is the schema metadata key that marks a batch of partial states.
const PartialMeta = "riverbed.partial_aggregation"

// PreAggregatable reports whether aggregations aggs can be pre-aggregated: whether each
// has a partial state that merges exactly and holds less than the rows it sums up.
func PreAggregatable(aggs []Spec) bool {
	for _, a := range aggs {
		switch a.Fn {
		case "median", "quantile":
			return false
		}
	}
	return true
}

// IsPartial reports whether batches of schema s hold partial states.
func IsPartial(s *arrow.Schema) bool {
	return s.HasMetadata() && s.Metadata().FindKey(PartialMeta) >= 0
}

// PartialSchema is the schema of partial-state batches of a table with keys of keyTypes
// and aggregations aggs; extra fields (a window's slice) come before the key hash.
func PartialSchema(keyTypes []arrow.DataType, aggs []Spec, extra ...arrow.Field) *arrow.Schema {
	var fs []arrow.Field
	for i, t := range keyTypes {
		fs = append(fs, arrow.Field{Name: fmt.Sprintf("key%d", i), Type: t, Nullable: true})
	}
	for _, a := range aggs {
		for j, t := range partialTypes(newAccumulator(a)) {
			fs = append(fs, arrow.Field{Name: fmt.Sprintf("%s.%d", a.Name, j), Type: t, Nullable: true})
		}
	}
	fs = append(fs, extra...)
	fs = append(fs, arrow.Field{Name: "key_hash", Type: arrow.PrimitiveTypes.Uint64})
	md := arrow.NewMetadata([]string{PartialMeta, runtime.KeyHashMeta}, []string{"1", "1"})
	return arrow.NewSchema(fs, &md)
}

// typedPartial is an accumulator whose partial state is typed columns.
type typedPartial interface {
	// partialTypes are the types of its state columns.
	partialTypes() []arrow.DataType
	// savePartial returns the state columns of groups gids.
	savePartial(mem memory.Allocator, gids []uint32) []arrow.Array
	// mergePartial folds row r of the state columns into group ids[r] (the table has ng
	// groups).
	mergePartial(cols []arrow.Array, ids []uint32, ng int) error
}

// typed returns acc's typed partial form, or nil when it travels as bytes.
func typed(acc accumulator) typedPartial {
	switch a := acc.(type) {
	case *countAcc, *sumAcc:
		return a.(typedPartial)
	case *pickAcc:
		if a.fn == "min" || a.fn == "max" {
			return a
		}
	}
	return nil
}

func partialTypes(acc accumulator) []arrow.DataType {
	if t := typed(acc); t != nil {
		return t.partialTypes()
	}
	return []arrow.DataType{arrow.BinaryTypes.Binary}
}

// PartialColumns returns the partial state columns of groups gids (nil: all groups), in
// the order of PartialSchema.
func (h *Table) PartialColumns(mem memory.Allocator, gids []uint32) ([]arrow.Array, error) {
	if gids == nil {
		gids = allGroups(h.NumGroups())
	}
	var cols []arrow.Array
	var buf []byte
	all, done := h.readAccs()
	defer done()
	for i, acc := range all {
		if t := typed(acc); t != nil {
			cols = append(cols, t.savePartial(mem, gids)...)
			continue
		}
		b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		for _, g := range gids {
			var err error
			if buf, err = acc.save(buf[:0], g); err != nil {
				b.Release()
				runtime.ReleaseAll(cols)
				return nil, rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, h.aggs[i].Name)
			}
			b.Append(buf)
		}
		cols = append(cols, b.NewArray())
		b.Release()
	}
	return cols, nil
}

// PartialBatch returns every group of the table as a batch of partial states of schema
// (PartialSchema), with the extra columns given (one value per group; the caller still
// owns them).
func (h *Table) PartialBatch(mem memory.Allocator, schema *arrow.Schema, extra ...arrow.Array) (arrow.RecordBatch, error) {
	return h.PartialBatchOf(mem, schema, nil, extra...)
}

// PartialBatchOf is PartialBatch for groups gids (nil: all groups), in that order; extra
// columns have one value per group given.
func (h *Table) PartialBatchOf(mem memory.Allocator, schema *arrow.Schema, gids []uint32, extra ...arrow.Array) (arrow.RecordBatch, error) {
	n := h.NumGroups()
	hashes := h.Hashes()[:n]
	if gids != nil {
		n = len(gids)
		hashes = make([]uint64, n)
		for i, g := range gids {
			hashes[i] = h.groups.Hash[g]
		}
	}
	var cols []arrow.Array
	if len(h.keys) > 0 {
		var err error
		if cols, err = h.KeyColumns(mem, gids); err != nil {
			return nil, err
		}
	}
	states, err := h.PartialColumns(mem, gids)
	if err != nil {
		runtime.ReleaseAll(cols)
		return nil, err
	}
	cols = append(cols, states...)
	for _, e := range extra {
		e.Retain()
		cols = append(cols, e)
	}
	hb := array.NewUint64Builder(mem)
	hb.AppendValues(hashes, nil)
	cols = append(cols, hb.NewArray())
	hb.Release()
	defer runtime.ReleaseAll(cols)
	if len(cols) != schema.NumFields() {
		return nil, rberr.New(rberr.Internal, "%s: %d partial state columns for a schema of %d", h.name, len(cols), schema.NumFields())
	}
	return array.NewRecordBatch(schema, cols, int64(n)), nil
}

// MergePartial folds a batch of partial states (PartialSchema) into the table: each row
// into the group of its key, a new one if the key is new.
func (h *Table) MergePartial(ec *expr.EvalCtx, rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	cols := rec.Columns()
	nk := len(h.keyTypes)
	hc, ok := cols[len(cols)-1].(*array.Uint64)
	if !ok || len(cols) < nk+1 {
		return rberr.New(rberr.Internal, "%s: a batch of partial states without its key hashes", h.name)
	}
	h.ids = expr.Grow(h.ids, n)[:n]
	if nk == 0 {
		for i := range h.ids {
			h.ids[i] = 0
		}
		if h.groups.NumGroups() == 0 {
			h.groups.Hash = append(h.groups.Hash, 0)
		}
	} else if err := h.groups.ConsumeHashed(ec.Ctx, cols[:nk], hc.Uint64Values(), h.ids); err != nil {
		return err
	}
	ng := h.groups.NumGroups()
	c := nk
	if h.slab != nil {
		for i := range h.slab.slots {
			sl := &h.slab.slots[i]
			k := len(typed(sl.acc).partialTypes())
			if c+k > len(cols)-1 {
				return rberr.New(rberr.Internal, "%s: a batch of partial states with too few columns", h.name)
			}
			if err := h.slab.mergePartial(sl, cols[c:c+k], h.ids, ng); err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, h.aggs[i].Name)
			}
			c += k
		}
		return nil
	}
	for i, acc := range h.Accs() {
		var err error
		if t := typed(acc); t != nil {
			k := len(t.partialTypes())
			if c+k > len(cols)-1 {
				return rberr.New(rberr.Internal, "%s: a batch of partial states with too few columns", h.name)
			}
			err = t.mergePartial(cols[c:c+k], h.ids, ng)
			c += k
		} else {
			bin, ok := cols[c].(*array.Binary)
			if !ok {
				return rberr.New(rberr.Internal, "%s: the partial state of %s is %s, not binary", h.name, h.aggs[i].Name, cols[c].DataType())
			}
			err = mergeBytes(acc, bin, h.ids, ng)
			c++
		}
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, h.aggs[i].Name)
		}
	}
	return nil
}

// savedMerger is an accumulator that folds a saved state into a group directly.
type savedMerger interface {
	mergeSaved(src []byte, g uint32, ng int) error
}

// mergeBytes folds saved states (acc.save) into groups ids: straight in where the
// accumulator can (savedMerger), else each is loaded into a spare group past the
// table's ng groups, merged into its group, and the spare reset.
func mergeBytes(acc accumulator, col *array.Binary, ids []uint32, ng int) error {
	if m, ok := acc.(savedMerger); ok {
		for r, g := range ids {
			if err := m.mergeSaved(col.Value(r), g, ng); err != nil {
				return err
			}
		}
		return nil
	}
	spare := uint32(ng)
	for r, g := range ids {
		if err := acc.load(col.Value(r), spare, ng+1); err != nil {
			return err
		}
		acc.Merge(g, spare)
		acc.Reset(spare)
	}
	return nil
}

// ConsumeHashed is Consume for rows whose key hashes are known (hs[i] for row i).
func (h *Table) ConsumeHashed(ec *expr.EvalCtx, rec arrow.RecordBatch, hs []uint64, seq runtime.Seq) ([]uint32, error) {
	if len(h.keys) == 0 {
		return h.Consume(ec, rec, seq)
	}
	n := int(rec.NumRows())
	h.ids = expr.Grow(h.ids, n)[:n]
	if n == 0 {
		return h.ids, nil
	}
	keys, err := runtime.EvalColumns(ec, h.keys, rec)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", h.name)
	}
	err = h.groups.ConsumeHashed(ec.Ctx, keys, hs[:n], h.ids)
	runtime.ReleaseAll(keys)
	if err != nil {
		return nil, err
	}
	return h.ids, h.Update(ec, rec, h.ids, seq)
}

// Hashes returns the key hash of every group, by group id (shared: do not modify).
func (h *Table) Hashes() []uint64 { return h.groups.Hash }

// The typed partial states.

func (a *countAcc) partialTypes() []arrow.DataType {
	return []arrow.DataType{arrow.PrimitiveTypes.Int64}
}

func (a *countAcc) savePartial(mem memory.Allocator, gids []uint32) []arrow.Array {
	return []arrow.Array{a.saveColumn(mem, gids)}
}

func (a *countAcc) mergePartial(cols []arrow.Array, ids []uint32, ng int) error {
	c, ok := cols[0].(*array.Int64)
	if !ok {
		return fmt.Errorf("count partial state is %s, not int64", cols[0].DataType())
	}
	a.n = expr.Grow(a.n, ng)
	for r, v := range c.Int64Values()[:len(ids)] {
		a.n[ids[r]] += v
	}
	return nil
}

// sumAcc's partial state is the count of values, then (but for the null type) the sum:
// decimal128(38, scale) for decimals, float64 for floats, the exact sum as
// decimal128(38, 0) for integers (a partial sum may leave int64 while the whole sum does
// not).
func (a *sumAcc) partialTypes() []arrow.DataType {
	ts := []arrow.DataType{arrow.PrimitiveTypes.Int64}
	switch {
	case a.stor == storNull:
	case a.exact():
		ts = append(ts, expr.DecType(expr.MaxDecPrecision, a.scale))
	case a.stor == storFloat:
		ts = append(ts, arrow.PrimitiveTypes.Float64)
	default:
		ts = append(ts, expr.DecType(expr.MaxDecPrecision, 0))
	}
	return ts
}

func (a *sumAcc) savePartial(mem memory.Allocator, gids []uint32) []arrow.Array {
	n := maxGid(gids)
	a.cnt = expr.Grow(a.cnt, n)
	cols := []arrow.Array{expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, pick(a.cnt, gids), nil)}
	switch {
	case a.stor == storNull:
	case a.exact():
		a.d = expr.Grow(a.d, n)
		cols = append(cols, decColumn(mem, a.scale, len(gids), func(i int) decimal128.Num { return a.d[gids[i]] }))
	case a.stor == storFloat:
		a.f = expr.Grow(a.f, n)
		cols = append(cols, expr.Float64Array(mem, pick(a.f, gids), nil))
	default:
		cols = append(cols, decColumn(mem, 0, len(gids), func(i int) decimal128.Num { return a.exactSum(gids[i]) }))
	}
	return cols
}

func decColumn(mem memory.Allocator, scale int32, n int, value func(int) decimal128.Num) arrow.Array {
	b := array.NewDecimal128Builder(mem, expr.DecType(expr.MaxDecPrecision, scale))
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		b.UnsafeAppend(value(i))
	}
	return b.NewArray()
}

func (a *sumAcc) mergePartial(cols []arrow.Array, ids []uint32, ng int) error {
	if a.err != nil {
		return a.err
	}
	cnt, ok := cols[0].(*array.Int64)
	if !ok {
		return fmt.Errorf("sum partial state: count is %s, not int64", cols[0].DataType())
	}
	a.cnt = expr.Grow(a.cnt, ng)
	for r, c := range cnt.Int64Values()[:len(ids)] {
		a.cnt[ids[r]] += c
	}
	if a.stor == storNull {
		return nil
	}
	bad := func() error { return fmt.Errorf("sum partial state: the sum is %s", cols[1].DataType()) }
	switch {
	case a.exact():
		d, ok := cols[1].(*array.Decimal128)
		if !ok {
			return bad()
		}
		a.d = expr.Grow(a.d, ng)
		for r, v := range d.Values()[:len(ids)] {
			g := ids[r]
			s, ok := expr.DecAdd(a.d[g], v)
			if !ok {
				return a.overflow()
			}
			a.d[g] = s
		}
	case a.stor == storFloat:
		f, ok := cols[1].(*array.Float64)
		if !ok {
			return bad()
		}
		a.f = expr.Grow(a.f, ng)
		for r, v := range f.Float64Values()[:len(ids)] {
			a.f[ids[r]] += v
		}
	default:
		d, ok := cols[1].(*array.Decimal128)
		if !ok {
			return bad()
		}
		for r, v := range d.Values()[:len(ids)] {
			a.addWide(ids[r], ng, v)
		}
	}
	return nil
}

// addWide adds whole sum v to group g (of ng) of an integer sum or mean: into its int64
// (uint64) while it fits, the rest spilled.
func (a *sumAcc) addWide(g uint32, ng int, v decimal128.Num) {
	lo, hi := v.LowBits(), v.HighBits()
	if a.stor == storUint {
		a.u = expr.Grow(a.u, ng)
		if s := a.u[g] + lo; hi == 0 && s >= lo {
			a.u[g] = s
			return
		}
	} else {
		a.i = expr.Grow(a.i, ng)
		x, y := a.i[g], int64(lo)
		if s := x + y; hi == y>>63 && (s^x)&(s^y) >= 0 {
			a.i[g] = s
			return
		}
	}
	a.spill(g, v)
}

// pickAcc's partial state (min and max only; first and last travel as bytes, with their
// positions) is the value, null for a group without one: int64, uint64 or float64, or the
// bytes of a string, binary or order-preserving decimal encoding; none for the null type.
func (a *pickAcc) partialTypes() []arrow.DataType {
	switch a.stor {
	case storNull:
		return nil
	case storInt:
		return []arrow.DataType{arrow.PrimitiveTypes.Int64}
	case storUint:
		return []arrow.DataType{arrow.PrimitiveTypes.Uint64}
	case storFloat:
		return []arrow.DataType{arrow.PrimitiveTypes.Float64}
	}
	return []arrow.DataType{arrow.BinaryTypes.Binary}
}

func (a *pickAcc) savePartial(mem memory.Allocator, gids []uint32) []arrow.Array {
	n := maxGid(gids)
	a.set = expr.Grow(a.set, n)
	valid := pick(a.set, gids)
	switch a.stor {
	case storNull:
		return nil
	case storInt:
		a.i = expr.Grow(a.i, n)
		return []arrow.Array{expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, pick(a.i, gids), valid)}
	case storUint:
		a.u = expr.Grow(a.u, n)
		b := array.NewUint64Builder(mem)
		defer b.Release()
		b.AppendValues(pick(a.u, gids), valid)
		return []arrow.Array{b.NewArray()}
	case storFloat:
		a.f = expr.Grow(a.f, n)
		return []arrow.Array{expr.Float64Array(mem, pick(a.f, gids), valid)}
	}
	a.s = expr.Grow(a.s, n)
	b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	defer b.Release()
	b.Reserve(len(gids))
	for i, g := range gids {
		if valid[i] {
			b.AppendString(a.s[g])
		} else {
			b.AppendNull()
		}
	}
	return []arrow.Array{b.NewArray()}
}

func (a *pickAcc) mergePartial(cols []arrow.Array, ids []uint32, ng int) error {
	a.grow(ng)
	if a.stor == storNull {
		return nil
	}
	col := cols[0]
	bad := fmt.Errorf("%s partial state is %s", a.fn, col.DataType())
	switch a.stor {
	case storInt:
		c, ok := col.(*array.Int64)
		if !ok {
			return bad
		}
		a.i = expr.Grow(a.i, ng)
		mergePicks(a, ids, c.Int64Values(), col, a.i, func(v int64) int64 { return v })
	case storUint:
		c, ok := col.(*array.Uint64)
		if !ok {
			return bad
		}
		a.u = expr.Grow(a.u, ng)
		mergePicks(a, ids, c.Uint64Values(), col, a.u, func(v uint64) uint64 { return v })
	case storFloat:
		c, ok := col.(*array.Float64)
		if !ok {
			return bad
		}
		a.f = expr.Grow(a.f, ng)
		mergePicks(a, ids, c.Float64Values(), col, a.f, func(v float64) float64 { return v })
	default:
		c, ok := col.(*array.Binary)
		if !ok {
			return bad
		}
		a.s = expr.Grow(a.s, ng)
		vals := make([]string, c.Len())
		for i := range vals {
			if c.IsValid(i) {
				vals[i] = c.ValueString(i) // a view into the batch: kept values are cloned
			}
		}
		mergePicks(a, ids, vals, col, a.s, func(v string) string { return string([]byte(v)) })
	}
	return nil
}

// mergePicks folds partial min / max values (null: none) into their groups.
func mergePicks[T cmp.Ordered](a *pickAcc, ids []uint32, vals []T, col arrow.Array, store []T, keep func(T) T) {
	nulls := col.NullN() > 0
	isMax := a.fn == "max"
	for r, g := range ids {
		if nulls && col.IsNull(r) {
			continue
		}
		v := vals[r]
		if !a.set[g] || (isMax && less(store[g], v)) || (!isMax && less(v, store[g])) {
			store[g], a.set[g] = keep(v), true
		}
	}
}
