package over

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Op computes window functions over partitions. It runs on one subtask that receives
// every row in input order, keeps them, and at the end of the input appends one column
// per function (Schema: the input's columns, then those) and emits the rows in input
// order.
type Op struct {
	runtime.BaseOp
	Name   string
	Funcs  []Func
	Schema *arrow.Schema
	In     *arrow.Schema
	EmitSz int

	tc      *runtime.TaskCtx
	batches []arrow.RecordBatch
	seqs    []runtime.Seq
}

var _ runtime.KeyedState = (*Op)(nil)

func (o *Op) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *Op) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *Op) ProcessBatch(m runtime.Message, _ runtime.Emitter) error {
	if m.Rec.NumRows() == 0 {
		m.Rec.Release()
		return nil
	}
	o.batches = append(o.batches, m.Rec)
	o.seqs = append(o.seqs, m.Seq)
	return nil
}

func (o *Op) Close() {
	for _, b := range o.batches {
		b.Release()
	}
	o.batches = nil
}

func (o *Op) Finish(out runtime.Emitter) error {
	if len(o.batches) == 0 {
		return nil
	}
	cols := make([]arrow.Array, len(o.Funcs))
	defer func() { runtime.ReleaseAll(cols) }()
	for i := range o.Funcs {
		c, err := o.compute(&o.Funcs[i])
		if err != nil {
			if prefix := o.Name + ": " + o.Funcs[i].Text; !strings.HasPrefix(err.Error(), prefix) {
				err = rberr.Wrap(rberr.KindOf(err), err, "%s", prefix)
			}
			return err
		}
		cols[i] = c
	}
	at := int64(0)
	for _, rec := range o.batches {
		n := rec.NumRows()
		all := append([]arrow.Array{}, rec.Columns()...)
		var parts []arrow.Array
		for _, c := range cols {
			parts = append(parts, array.NewSlice(c, at, at+n))
		}
		res := array.NewRecordBatch(o.Schema, append(all, parts...), n)
		runtime.ReleaseAll(parts)
		at += n
		if err := runtime.EmitSliced(res, o.EmitSz, out); err != nil {
			return err
		}
	}
	return nil
}

// column evaluates e over every kept batch, as one array.
func (o *Op) column(e expr.Expr) (arrow.Array, error) {
	ec := o.tc.Eval
	parts := make([]arrow.Array, 0, len(o.batches))
	defer func() { runtime.ReleaseAll(parts) }()
	for _, rec := range o.batches {
		d, err := e.Eval(ec, rec)
		if err != nil {
			return nil, err
		}
		c, err := expr.DatumToArray(ec, d, int(rec.NumRows()))
		if err != nil {
			return nil, err
		}
		parts = append(parts, c)
	}
	if len(parts) == 1 {
		parts[0].Retain()
		return parts[0], nil
	}
	return array.Concatenate(parts, ec.Mem)
}

// partitions returns each row's partition id.
func (o *Op) partitions(f *Func) ([]uint32, error) {
	var ids []uint32
	if len(f.Partition) == 0 {
		for _, rec := range o.batches {
			ids = append(ids, make([]uint32, rec.NumRows())...)
		}
		return ids, nil
	}
	tab := agg.NewTable(o.Name, f.Partition, f.PartTypes, nil)
	defer tab.Release()
	for i, rec := range o.batches {
		got, err := tab.Consume(o.tc.Eval, rec, o.seqs[i])
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// sortKey is one column rows are ordered by.
type sortKey struct {
	col             arrow.Array
	i               []int64   // an integer or temporal column's values
	f               []float64 // a float column's values (NaN above every number)
	desc, nullsLast bool
}

func newSortKey(col arrow.Array, desc, nullsLast bool) (sortKey, error) {
	k := sortKey{col: col, desc: desc, nullsLast: nullsLast}
	var err error
	switch t := col.DataType(); {
	case expr.IsFloat(t):
		k.f, err = expr.AsFloat64(col)
	case t.ID() == arrow.INT64 || t.ID() == arrow.INT32 || t.ID() == arrow.DATE32 || t.ID() == arrow.TIMESTAMP:
		k.i, err = expr.AsInt64(col)
	}
	return k, err
}

func (k *sortKey) compare(i, j int) int {
	if k.col.NullN() > 0 {
		ni, nj := k.col.IsNull(i), k.col.IsNull(j)
		if ni || nj {
			switch {
			case ni && nj:
				return 0
			case ni == k.nullsLast:
				return 1
			}
			return -1
		}
	}
	var c int
	switch {
	case k.i != nil:
		c = cmp.Compare(k.i[i], k.i[j])
	case k.f != nil:
		x, y := k.f[i], k.f[j]
		switch xn, yn := x != x, y != y; {
		case xn && yn:
			c = 0
		case xn:
			c = 1
		case yn:
			c = -1
		default:
			c = cmp.Compare(x, y)
		}
	default:
		c = expr.CompareCells(k.col, i, k.col, j)
	}
	if k.desc {
		c = -c
	}
	return c
}

// sortRows returns the row indexes ordered by partition, then by keys, then input order.
func sortRows(ids []uint32, keys []sortKey) []int {
	perm := make([]int, len(ids))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(i, j int) int {
		if c := cmp.Compare(ids[i], ids[j]); c != 0 {
			return c
		}
		for k := range keys {
			if c := keys[k].compare(i, j); c != 0 {
				return c
			}
		}
		return cmp.Compare(i, j)
	})
	return perm
}

// ordered returns the rows in partition order (by partition, then order_by, then input
// order) and the partition ids.
func (o *Op) ordered(f *Func) (perm []int, ids []uint32, err error) {
	if ids, err = o.partitions(f); err != nil {
		return nil, nil, err
	}
	var cols []arrow.Array
	defer func() { runtime.ReleaseAll(cols) }()
	var keys []sortKey
	for i, e := range f.Order {
		c, err := o.column(e)
		if err != nil {
			return nil, nil, err
		}
		cols = append(cols, c)
		desc, nullsLast := f.Desc, f.NullsLast
		if f.KeyDesc != nil {
			desc = f.KeyDesc[i]
		}
		if f.KeyNullsLast != nil {
			nullsLast = f.KeyNullsLast[i]
		}
		k, err := newSortKey(c, desc, nullsLast)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
	}
	return sortRows(ids, keys), ids, nil
}

// runs calls fn for each partition: its rows, in partition order.
func runs(perm []int, ids []uint32, fn func(rows []int) error) error {
	for a := 0; a < len(perm); {
		b := a + 1
		for b < len(perm) && ids[perm[b]] == ids[perm[a]] {
			b++
		}
		if err := fn(perm[a:b]); err != nil {
			return err
		}
		a = b
	}
	return nil
}

func (o *Op) compute(f *Func) (arrow.Array, error) {
	mem := o.tc.Eval.Mem
	if f.Fn == "agg" {
		return o.aggregate(f)
	}
	if f.Fn == "frame" {
		return o.frame(f)
	}
	perm, ids, err := o.ordered(f)
	if err != nil {
		return nil, err
	}
	n := len(perm)
	var x arrow.Array
	if f.Arg != nil {
		if x, err = o.column(f.Arg); err != nil {
			return nil, err
		}
		if x.DataType().ID() == arrow.NULL && (f.Fn == "cum_count" || f.Fn == "rank") {
			// A column of the null type has no validity bitmap (arrow-go's IsValid is
			// true there), yet every value of it is null: count and rank it as nulls.
			nulls := array.MakeArrayOfNull(mem, arrow.PrimitiveTypes.Int8, x.Len())
			x.Release()
			x = nulls
		}
		defer x.Release()
	}
	switch f.Fn {
	case "row_number", "cum_count":
		out := make([]int64, n)
		err = runs(perm, ids, func(rows []int) error {
			c := int64(0)
			for _, r := range rows {
				if x == nil || x.IsValid(r) {
					c++
				}
				out[r] = c
			}
			return nil
		})
		return expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, out, nil), err
	case "shift":
		b := array.NewInt64Builder(mem)
		defer b.Release()
		take := make([]int64, n)
		valid := make([]bool, n)
		_ = runs(perm, ids, func(rows []int) error {
			for j, r := range rows {
				if s := int64(j) - f.N; s >= 0 && s < int64(len(rows)) {
					take[r], valid[r] = int64(rows[s]), true
				}
			}
			return nil
		})
		b.AppendValues(take, valid)
		idx := b.NewArray()
		defer idx.Release()
		return compute.TakeArray(o.tc.Eval.Ctx, x, idx)
	case "forward_fill", "backward_fill":
		// Each null takes the value of the nearest valid row before it (forward) or after
		// it (backward) in its partition, at most N rows away when N >= 0.
		b := array.NewInt64Builder(mem)
		defer b.Release()
		take := make([]int64, n)
		valid := make([]bool, n)
		_ = runs(perm, ids, func(rows []int) error {
			fill := func(j, from int) {
				if r := rows[j]; x.IsValid(r) {
					take[r], valid[r] = int64(r), true
				} else if from >= 0 && (f.N < 0 || int64(max(j-from, from-j)) <= f.N) {
					take[r], valid[r] = int64(rows[from]), true
				}
			}
			last := -1
			if f.Fn == "forward_fill" {
				for j, r := range rows {
					fill(j, last)
					if x.IsValid(r) {
						last = j
					}
				}
				return nil
			}
			for j := len(rows) - 1; j >= 0; j-- {
				fill(j, last)
				if x.IsValid(rows[j]) {
					last = j
				}
			}
			return nil
		})
		b.AppendValues(take, valid)
		idx := b.NewArray()
		defer idx.Release()
		return compute.TakeArray(o.tc.Eval.Ctx, x, idx)
	case "rank":
		return o.rank(f, ids, x)
	}
	if x.DataType().ID() == arrow.DECIMAL128 {
		if f.Fn == "rolling_mean" {
			xf, err := compute.CastToType(compute.WithAllocator(o.tc.Eval.Ctx, o.tc.Eval.Mem), x, arrow.PrimitiveTypes.Float64)
			if err != nil {
				return nil, err
			}
			defer xf.Release()
			return o.numeric(f, perm, ids, xf)
		}
		return o.decimals(f, perm, ids, x.(*array.Decimal128))
	}
	return o.numeric(f, perm, ids, x)
}

// decimals computes cum_sum, cum_min, cum_max, rolling_sum, rolling_min and rolling_max
// of decimals, exactly: sums as decimal128(38, s) (an overflow of 38 digits is an error),
// minimums and maximums in the column's type.
func (o *Op) decimals(f *Func, perm []int, ids []uint32, x *array.Decimal128) (arrow.Array, error) {
	n := len(perm)
	vals := x.Values()
	out := make([]decimal128.Num, n)
	valid := make([]bool, n)
	sum := f.Fn == "cum_sum" || f.Fn == "rolling_sum"
	isMax := f.Fn == "cum_max" || f.Fn == "rolling_max"
	overflow := rberr.New(rberr.Data, "%s overflows decimal128(38, %d)", f.Fn, x.DataType().(*arrow.Decimal128Type).Scale)
	// fold adds v to (or takes the min / max of) acc, the first value of a run if !set.
	fold := func(acc, v decimal128.Num, set bool) (decimal128.Num, error) {
		switch {
		case !set:
			return v, nil
		case sum:
			s, ok := expr.DecAdd(acc, v)
			if !ok {
				return acc, overflow
			}
			return s, nil
		case isMax && v.Greater(acc) || !isMax && v.Less(acc):
			return v, nil
		}
		return acc, nil
	}
	err := runs(perm, ids, func(rows []int) error {
		if f.Fn == "cum_sum" || f.Fn == "cum_min" || f.Fn == "cum_max" {
			var acc decimal128.Num
			set := false
			for _, r := range rows {
				if x.IsNull(r) {
					continue
				}
				var err error
				if acc, err = fold(acc, vals[r], set); err != nil {
					return err
				}
				set = true
				out[r], valid[r] = acc, true
			}
			return nil
		}
		// The last window_size rows of the partition (this one included); null when
		// fewer than min_samples of them have values.
		w := int(f.N)
		for j, r := range rows {
			var acc decimal128.Num
			cnt := int64(0)
			for _, q := range rows[max(0, j-w+1) : j+1] {
				if x.IsNull(q) {
					continue
				}
				var err error
				if acc, err = fold(acc, vals[q], cnt > 0); err != nil {
					return err
				}
				cnt++
			}
			if cnt >= f.MinRows && cnt > 0 {
				out[r], valid[r] = acc, true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b := array.NewDecimal128Builder(o.tc.Eval.Mem, f.OutType.(*arrow.Decimal128Type))
	defer b.Release()
	b.AppendValues(out, valid)
	return b.NewArray(), nil
}

// numeric computes cum_sum, cum_min, cum_max and the rolling functions.
func (o *Op) numeric(f *Func, perm []int, ids []uint32, x arrow.Array) (arrow.Array, error) {
	mem := o.tc.Eval.Mem
	n := len(perm)
	float := expr.IsFloat(x.DataType())
	var fv []float64
	var iv []int64
	var err error
	if float {
		if fv, err = expr.AsFloat64(x); err != nil {
			return nil, err
		}
	} else if iv, err = expr.AsInt64(x); err != nil {
		return nil, err
	}
	outF := make([]float64, n)
	outI := make([]int64, n)
	valid := make([]bool, n)
	overflow := rberr.New(rberr.Data, "%s overflows int64", f.Fn)
	isMax := f.Fn == "cum_max" || f.Fn == "rolling_max"
	better := func(a, b float64) bool { // a replaces b as the rolling min / max (NaN propagates, as Polars')
		if f.NaNGreatest {
			return isMax && floatLess(b, a) || !isMax && floatLess(a, b)
		}
		if isMax {
			return a > b || a != a
		}
		return a < b || a != a
	}
	err = runs(perm, ids, func(rows []int) error {
		switch f.Fn {
		case "cum_sum", "cum_min", "cum_max":
			var sf float64
			var si int64
			set := false
			for _, r := range rows {
				if x.IsNull(r) {
					continue
				}
				switch {
				case f.Fn == "cum_sum" && float:
					sf += fv[r]
				case f.Fn == "cum_sum":
					s := si + iv[r]
					if (s^si)&(s^iv[r]) < 0 {
						return overflow
					}
					si = s
				case float:
					// NaN is greater than every number (Polars' cum_min and cum_max)
					if !set || isMax && floatLess(sf, fv[r]) || !isMax && floatLess(fv[r], sf) {
						sf = fv[r]
					}
				default:
					if !set || (isMax && iv[r] > si) || (!isMax && iv[r] < si) {
						si = iv[r]
					}
				}
				set = true
				outF[r], outI[r], valid[r] = sf, si, true
			}
			return nil
		}
		// Rolling over the last window_size rows of the partition (this one included);
		// null when fewer than min_samples of them have values.
		w := int(f.N)
		for j, r := range rows {
			var sf float64
			var si int64
			cnt := int64(0)
			for _, q := range rows[max(0, j-w+1) : j+1] {
				if x.IsNull(q) {
					continue
				}
				switch {
				case f.Fn == "rolling_sum" && !float:
					s := si + iv[q]
					if (s^si)&(s^iv[q]) < 0 {
						return overflow
					}
					si = s
				case f.Fn == "rolling_sum" || f.Fn == "rolling_mean":
					if float {
						sf += fv[q]
					} else {
						sf += float64(iv[q])
					}
				case float:
					if cnt == 0 || better(fv[q], sf) {
						sf = fv[q]
					}
				default:
					if cnt == 0 || (isMax && iv[q] > si) || (!isMax && iv[q] < si) {
						si = iv[q]
					}
				}
				cnt++
			}
			if cnt < f.MinRows || cnt == 0 {
				continue
			}
			if f.Fn == "rolling_mean" {
				sf /= float64(cnt)
			}
			outF[r], outI[r], valid[r] = sf, si, true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var res arrow.Array
	if float || f.Fn == "rolling_mean" {
		res = expr.Float64Array(mem, outF, valid)
	} else {
		res = expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, outI, valid)
	}
	if arrow.TypeEqual(res.DataType(), f.OutType) {
		return res, nil
	}
	defer res.Release()
	return compute.CastToType(compute.WithAllocator(o.tc.Eval.Ctx, mem), res, f.OutType)
}

// rank ranks each partition's non-null values (ties by method, as Polars); null values
// get a null rank.
func (o *Op) rank(f *Func, ids []uint32, x arrow.Array) (arrow.Array, error) {
	mem := o.tc.Eval.Mem
	n := len(ids)
	// Partition order by the value (nulls last); stable, so ties keep partition order.
	base, _, err := o.ordered(f)
	if err != nil {
		return nil, err
	}
	// Ties keep the partition's order: sort that order (stably) by value, nulls last.
	key, err := newSortKey(x, f.RankDesc, true)
	if err != nil {
		return nil, err
	}
	place := make([]int, n) // each row's place in the partition's order
	for p, r := range base {
		place[r] = p
	}
	byVal := append([]int(nil), base...)
	slices.SortFunc(byVal, func(i, j int) int {
		if c := cmp.Compare(ids[i], ids[j]); c != 0 {
			return c
		}
		if c := key.compare(i, j); c != 0 {
			return c
		}
		return cmp.Compare(place[i], place[j])
	})
	outF := make([]float64, n)
	outI := make([]int64, n)
	valid := make([]bool, n)
	var ka, kb []byte
	err = runs(byVal, ids, func(rows []int) error {
		p, dense := 0, int64(0)
		for a := 0; a < len(rows) && x.IsValid(rows[a]); {
			ka = expr.AppendKey(ka[:0], x, rows[a])
			b := a + 1
			for b < len(rows) && x.IsValid(rows[b]) {
				kb = expr.AppendKey(kb[:0], x, rows[b])
				if string(ka) != string(kb) {
					break
				}
				b++
			}
			dense++
			lo, hi := int64(p+1), int64(p+b-a)
			for i, r := range rows[a:b] {
				valid[r] = true
				switch f.Method {
				case "average":
					outF[r] = float64(lo+hi) / 2
				case "min":
					outI[r] = lo
				case "max":
					outI[r] = hi
				case "dense":
					outI[r] = dense
				default:
					outI[r] = lo + int64(i)
				}
			}
			p += b - a
			a = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.Method == "average" {
		return expr.Float64Array(mem, outF, valid), nil
	}
	return expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, outI, valid), nil
}

// aggregate computes an aggregation per partition and gives each row its partition's.
// With order_by, rows are aggregated in partition order (first / last follow it).
func (o *Op) aggregate(f *Func) (arrow.Array, error) {
	mem := o.tc.Eval.Mem
	tab := agg.NewTable(o.Name+": "+f.Text, f.Partition, f.PartTypes, []agg.Spec{*f.Agg})
	defer tab.Release()
	n := 0
	for _, rec := range o.batches {
		n += int(rec.NumRows())
	}
	ids := make([]uint32, 0, n)
	if len(f.Order) == 0 {
		for i, rec := range o.batches {
			got, err := tab.Consume(o.tc.Eval, rec, o.seqs[i])
			if err != nil {
				return nil, err
			}
			ids = append(ids, got...)
		}
		return tab.AggColumn(mem, 0, ids)
	}
	perm, _, err := o.ordered(f)
	if err != nil {
		return nil, err
	}
	all, err := concatBatches(mem, o.In, o.batches)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	pb := array.NewInt64Builder(mem)
	for _, r := range perm {
		pb.Append(int64(r))
	}
	idx := pb.NewArray()
	pb.Release()
	defer idx.Release()
	cols := make([]arrow.Array, 0, all.NumCols())
	for _, c := range all.Columns() {
		t, err := compute.TakeArray(o.tc.Eval.Ctx, c, idx)
		if err != nil {
			runtime.ReleaseAll(cols)
			return nil, err
		}
		cols = append(cols, t)
	}
	rec := array.NewRecordBatch(o.In, cols, int64(n))
	runtime.ReleaseAll(cols)
	defer rec.Release()
	got, err := tab.Consume(o.tc.Eval, rec, runtime.Seq{})
	if err != nil {
		return nil, err
	}
	ids = make([]uint32, n)
	for j, r := range perm {
		ids[r] = got[j]
	}
	return tab.AggColumn(mem, 0, ids)
}

func concatBatches(mem memory.Allocator, schema *arrow.Schema, batches []arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	defer func() { runtime.ReleaseAll(cols) }()
	n := int64(0)
	for _, b := range batches {
		n += b.NumRows()
	}
	for c := range cols {
		parts := make([]arrow.Array, len(batches))
		for i, b := range batches {
			parts[i] = b.Column(c)
		}
		var err error
		if cols[c], err = array.Concatenate(parts, mem); err != nil {
			return nil, err
		}
	}
	return array.NewRecordBatch(schema, cols, n), nil
}

// rowsTable is the operator's state: the rows read so far, in input order.
const rowsTable = "rows.v1"

// StateTables implements runtime.KeyedState.
func (o *Op) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(rowsTable)}
}

// SaveState implements runtime.KeyedState. The operator runs on one subtask, so its rows
// go to the key group of hash 0 (that of rows without keys) and come back in order.
func (o *Op) SaveState(b state.Backend) error {
	w := keyed.NewStateWriter(o.tc.Eval, o.Name, rowsTable, o.In)
	defer w.Release()
	for _, rec := range o.batches {
		if err := w.Add(rec, keyed.KeyGroups(nil, int(rec.NumRows()), o.tc.MaxParallelism())); err != nil {
			return err
		}
	}
	return w.Write(b)
}

// LoadState implements runtime.KeyedState.
func (o *Op) LoadState(b state.Backend) error {
	return keyed.ReadState(b, o.tc.Eval.Mem, o.Name, rowsTable, o.In, func(_ int, rec arrow.RecordBatch) error {
		rec.Retain()
		return o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: rec}, nil)
	})
}

// frame computes an aggregation over a frame (mixed with other window functions, on
// bounded input) as FrameOp does, partition by partition in partition order.
func (o *Op) frame(f *Func) (arrow.Array, error) {
	perm, ids, err := o.ordered(f)
	if err != nil {
		return nil, err
	}
	oc, err := o.column(f.Order[0])
	if err != nil {
		return nil, err
	}
	defer oc.Release()
	ts, err := orderValues(oc, false)
	if err != nil {
		return nil, err
	}
	var vals []cell
	if f.FA.Arg != nil {
		x, err := o.column(f.FA.Arg)
		if err != nil {
			return nil, err
		}
		vals, err = cellsOf(&f.FA, x)
		x.Release()
		if err != nil {
			return nil, err
		}
	}
	rows := make([]frameRow, len(perm))
	for j, r := range perm {
		if ts[r] == math.MinInt64 {
			return nil, rberr.New(rberr.Data, "the order_by value %s is null in a row; frames need every row's order_by value (filter the nulls out first)", f.Order[0])
		}
		c := cell{ok: true}
		if vals != nil {
			c = vals[r]
		}
		rows[j] = frameRow{ts: ts[r], key: ids[r], vals: []cell{c}}
	}
	parts := map[uint32]*framePart{}
	res, err := computeFrames([]FrameAgg{f.FA}, rows, func(k uint32) *framePart {
		p := parts[k]
		if p == nil {
			p = newFramePart(1)
			parts[k] = p
		}
		return p
	})
	if err != nil {
		return nil, err
	}
	out := make([]cell, len(perm))
	for j, r := range perm {
		out[r] = res[0][j]
	}
	return frameColumn(o.tc.Eval, &f.FA, out)
}
