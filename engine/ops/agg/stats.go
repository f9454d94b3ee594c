package agg

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/axiomhq/hyperloglog"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// The statistical and positional aggregations: std and var (varAcc), median and quantile
// (quantAcc), approx_n_unique (hllAcc), any and all (boolAcc), max_by and min_by
// (byAcc), arg_max and arg_min (argAcc). Each keeps per-group state that merges (session
// windows) and saves to bytes (state.go has the layouts).

// floatsOf reads a numeric, boolean or decimal column as float64.
func floatsOf(ec *expr.EvalCtx, col arrow.Array) ([]float64, error) {
	if col.DataType().ID() == arrow.DECIMAL128 {
		c, err := compute.CastToType(ec.Ctx, col, arrow.PrimitiveTypes.Float64)
		if err != nil {
			return nil, err
		}
		defer c.Release()
		return append([]float64(nil), c.(*array.Float64).Float64Values()...), nil
	}
	return expr.AsFloat64(col)
}

// varAcc computes the variance or standard deviation with Welford's online update and
// Chan et al.'s formula to merge two groups; the divisor is n - ddof, and a group with
// n <= ddof values gets null.
type varAcc struct {
	std  bool
	ddof int64
	n    []int64
	mean []float64
	m2   []float64
}

func (a *varAcc) grow(n int) {
	a.n, a.mean, a.m2 = expr.Grow(a.n, n), expr.Grow(a.mean, n), expr.Grow(a.m2, n)
}

func (a *varAcc) update(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	a.grow(ng)
	if col.DataType().ID() == arrow.NULL {
		return nil
	}
	vals, err := floatsOf(ec, col)
	if err != nil {
		return err
	}
	nulls := col.NullN() > 0
	for i, g := range ids {
		if nulls && col.IsNull(i) {
			continue
		}
		x := vals[i]
		a.n[g]++
		d := x - a.mean[g]
		a.mean[g] += d / float64(a.n[g])
		a.m2[g] += d * (x - a.mean[g])
	}
	return nil
}

func (a *varAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	a.grow(maxGid(gids))
	out := make([]float64, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if a.n[g] <= a.ddof {
			continue
		}
		v := a.m2[g] / float64(a.n[g]-a.ddof)
		if a.std {
			v = math.Sqrt(v)
		}
		out[i], valid[i] = v, true
	}
	return expr.Float64Array(mem, out, valid), nil
}

func (a *varAcc) Merge(dst, src uint32) {
	a.grow(int(max(dst, src)) + 1)
	nb := a.n[src]
	if nb == 0 {
		return
	}
	na := a.n[dst]
	if na == 0 {
		a.n[dst], a.mean[dst], a.m2[dst] = nb, a.mean[src], a.m2[src]
		return
	}
	n := na + nb
	d := a.mean[src] - a.mean[dst]
	a.mean[dst] += d * float64(nb) / float64(n)
	a.m2[dst] += a.m2[src] + d*d*float64(na)*float64(nb)/float64(n)
	a.n[dst] = n
}

func (a *varAcc) Reset(g uint32) {
	if int(g) < len(a.n) {
		a.n[g], a.mean[g], a.m2[g] = 0, 0, 0
	}
}

func (a *varAcc) save(dst []byte, g uint32) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(at(a.n, g)))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(at(a.mean, g)))
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(at(a.m2, g))), nil
}

func (a *varAcc) load(src []byte, g uint32, ng int) error {
	a.grow(ng)
	var n, mean, m2 uint64
	var err error
	if n, src, err = getU64(src); err != nil {
		return err
	}
	if mean, src, err = getU64(src); err != nil {
		return err
	}
	if m2, _, err = getU64(src); err != nil {
		return err
	}
	a.n[g], a.mean[g], a.m2[g] = int64(n), math.Float64frombits(mean), math.Float64frombits(m2)
	return nil
}

// quantAcc computes median and quantile exactly: it keeps every non-null value of each
// group (as float64) and sorts them for the result, NaN after every number.
type quantAcc struct {
	q      float64
	interp string
	vals   [][]float64
}

func (a *quantAcc) update(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	a.vals = expr.Grow(a.vals, ng)
	if col.DataType().ID() == arrow.NULL {
		return nil
	}
	vals, err := floatsOf(ec, col)
	if err != nil {
		return err
	}
	nulls := col.NullN() > 0
	for i, g := range ids {
		if !nulls || col.IsValid(i) {
			a.vals[g] = append(a.vals[g], vals[i])
		}
	}
	return nil
}

// quantile picks the q-quantile of sorted values (n > 0) as Polars does: the position
// (n-1)*q, rounded half away from zero (nearest), down (lower), up (higher), or between
// the two values around it (midpoint: their mean; linear: interpolated).
func quantile(sorted []float64, q float64, interp string) float64 {
	n := len(sorted)
	pos := float64(n-1) * q
	switch interp {
	case "nearest":
		return sorted[min(int(math.Round(pos)), n-1)]
	case "higher":
		return sorted[min(int(math.Ceil(pos)), n-1)]
	}
	lo := min(int(pos), n-1)
	hi := min(int(math.Ceil(pos)), n-1)
	lower, upper := sorted[lo], sorted[hi]
	switch {
	case interp == "lower" || hi == lo || lower == upper:
		return lower
	case interp == "midpoint":
		return (lower + upper) / 2
	}
	return lower + (upper-lower)*(pos-float64(lo))
}

func (a *quantAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	a.vals = expr.Grow(a.vals, maxGid(gids))
	out := make([]float64, len(gids))
	valid := make([]bool, len(gids))
	// A group asked for again (a window function gives every row its partition's) is
	// sorted once: sorting per row took time quadratic in the partition's size.
	done := map[uint32]int{}
	for i, g := range gids {
		v := a.vals[g]
		if len(v) == 0 {
			continue
		}
		if j, ok := done[g]; ok {
			out[i], valid[i] = out[j], true
			continue
		}
		done[g] = i
		slices.SortFunc(v, cmpOrdered[float64])
		out[i], valid[i] = quantile(v, a.q, a.interp), true
	}
	return expr.Float64Array(mem, out, valid), nil
}

func (a *quantAcc) Merge(dst, src uint32) {
	a.vals = expr.Grow(a.vals, int(max(dst, src))+1)
	a.vals[dst] = append(a.vals[dst], a.vals[src]...)
}

func (a *quantAcc) Reset(g uint32) {
	if int(g) < len(a.vals) {
		a.vals[g] = nil
	}
}

func (a *quantAcc) save(dst []byte, g uint32) ([]byte, error) {
	v := at(a.vals, g)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
	}
	return dst, nil
}

func (a *quantAcc) load(src []byte, g uint32, ng int) error {
	a.vals = expr.Grow(a.vals, ng)
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)-k)/8 {
		return errShort
	}
	src = src[k:]
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
	}
	a.vals[g] = v
	return nil
}

// hllAcc estimates the number of distinct non-null values with a HyperLogLog sketch per
// group (precision 14, sparse while small: about 0.8% standard error).
type hllAcc struct {
	sk  []*hyperloglog.Sketch
	buf []byte
}

func (a *hllAcc) update(_ *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	a.sk = expr.Grow(a.sk, ng)
	if col.DataType().ID() == arrow.NULL {
		return nil
	}
	for i, g := range ids {
		if col.IsNull(i) {
			continue
		}
		a.buf = expr.AppendKey(a.buf[:0], col, i)
		if a.sk[g] == nil {
			a.sk[g] = hyperloglog.New14()
		}
		a.sk[g].Insert(a.buf)
	}
	return nil
}

func (a *hllAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	a.sk = expr.Grow(a.sk, maxGid(gids))
	out := make([]int64, len(gids))
	for i, g := range gids {
		if a.sk[g] != nil {
			out[i] = int64(a.sk[g].Estimate())
		}
	}
	return expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, out, nil), nil
}

func (a *hllAcc) Merge(dst, src uint32) {
	a.sk = expr.Grow(a.sk, int(max(dst, src))+1)
	if a.sk[src] == nil {
		return
	}
	if a.sk[dst] == nil {
		a.sk[dst] = a.sk[src].Clone()
		return
	}
	_ = a.sk[dst].Merge(a.sk[src]) // sketches of one precision always merge
}

func (a *hllAcc) Reset(g uint32) {
	if int(g) < len(a.sk) {
		a.sk[g] = nil
	}
}

func (a *hllAcc) save(dst []byte, g uint32) ([]byte, error) {
	sk := at(a.sk, g)
	if sk == nil {
		return dst, nil
	}
	return sk.AppendBinary(dst)
}

func (a *hllAcc) load(src []byte, g uint32, ng int) error {
	a.sk = expr.Grow(a.sk, ng)
	if len(src) == 0 {
		a.sk[g] = nil
		return nil
	}
	sk := hyperloglog.New14()
	if err := sk.UnmarshalBinary(src); err != nil {
		return err
	}
	a.sk[g] = sk
	return nil
}

// boolAcc computes any and all. It keeps which of true, false and null each group has
// seen.
type boolAcc struct {
	all         bool
	ignoreNulls bool
	seen        []uint8
}

const (
	sawTrue uint8 = 1 << iota
	sawFalse
	sawNull
)

func (a *boolAcc) update(_ *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	a.seen = expr.Grow(a.seen, ng)
	b, ok := col.(*array.Boolean)
	if !ok { // the null type
		for _, g := range ids {
			a.seen[g] |= sawNull
		}
		return nil
	}
	nulls := b.NullN() > 0
	for i, g := range ids {
		switch {
		case nulls && b.IsNull(i):
			a.seen[g] |= sawNull
		case b.Value(i):
			a.seen[g] |= sawTrue
		default:
			a.seen[g] |= sawFalse
		}
	}
	return nil
}

func (a *boolAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	a.seen = expr.Grow(a.seen, maxGid(gids))
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	decide, undecided := sawTrue, false // any: a true decides; nothing else gives false
	if a.all {
		decide, undecided = sawFalse, true
	}
	for _, g := range gids {
		s := a.seen[g]
		switch {
		case s&decide != 0:
			b.Append(!undecided)
		case s&sawNull != 0 && !a.ignoreNulls:
			b.AppendNull()
		default:
			b.Append(undecided)
		}
	}
	return b.NewArray(), nil
}

func (a *boolAcc) Merge(dst, src uint32) {
	a.seen = expr.Grow(a.seen, int(max(dst, src))+1)
	a.seen[dst] |= a.seen[src]
}

func (a *boolAcc) Reset(g uint32) {
	if int(g) < len(a.seen) {
		a.seen[g] = 0
	}
}

func (a *boolAcc) save(dst []byte, g uint32) ([]byte, error) { return append(dst, at(a.seen, g)), nil }

func (a *boolAcc) load(src []byte, g uint32, ng int) error {
	if len(src) < 1 {
		return errShort
	}
	a.seen = expr.Grow(a.seen, ng)
	a.seen[g] = src[0]
	return nil
}

// appendSeq and getSeq save a batch position (seq, row).
func appendSeq(dst []byte, s runtime.Seq, row uint32) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, s.Source)
	dst = binary.LittleEndian.AppendUint64(dst, s.Split)
	dst = binary.LittleEndian.AppendUint64(dst, s.Chunk)
	return binary.LittleEndian.AppendUint32(dst, row)
}

func getSeq(src []byte) (runtime.Seq, uint32, []byte, error) {
	if len(src) < 28 {
		return runtime.Seq{}, 0, nil, errShort
	}
	le := binary.LittleEndian
	s := runtime.Seq{Source: le.Uint64(src), Split: le.Uint64(src[8:]), Chunk: le.Uint64(src[16:])}
	return s, le.Uint32(src[24:]), src[28:], nil
}

// earlier reports whether position (s, r) comes before (ks, kr) in input order.
func earlier(s runtime.Seq, r uint32, ks runtime.Seq, kr uint32) bool {
	return s.Less(ks) || (s == ks && r < kr)
}

// byAcc computes max_by and min_by: the value of the argument at the row whose ordering
// value (By) is the largest / smallest. Rows with a null ordering value are skipped, and
// NaN loses to every number (as Polars); among equal ordering values the first row in
// input order wins. The value itself may be null.
type byAcc struct {
	max      bool
	out      arrow.DataType
	key, val valStore
	seq      []runtime.Seq
	row      []uint32
}

func (a *byAcc) grow(n int) {
	a.key.grow(n)
	a.val.grow(n)
	a.seq, a.row = expr.Grow(a.seq, n), expr.Grow(a.row, n)
}

// beats reports whether a candidate replaces the kept value, as Polars' arg_max and
// max_by choose: the larger (max) or smaller value by c (the candidate compared with the
// kept one), NaN losing to every number either way, and on a tie the earlier row.
func beats(c int, candNaN, keptNaN, max, earlier bool) bool {
	if candNaN != keptNaN {
		return keptNaN
	}
	if candNaN {
		c = 0
	}
	if max {
		c = -c
	}
	return c < 0 || (c == 0 && earlier)
}

func (a *byAcc) winsRow(c *colVals, r int, seq runtime.Seq, g uint32) bool {
	return beats(a.key.cmpRow(c, r, g), c.isNaN(r), a.key.isNaN(g), a.max, earlier(seq, uint32(r), a.seq[g], a.row[g]))
}

func (a *byAcc) winsGroup(src, dst uint32) bool {
	return beats(a.key.cmpGroups(src, dst), a.key.isNaN(src), a.key.isNaN(dst), a.max, earlier(a.seq[src], a.row[src], a.seq[dst], a.row[dst]))
}

func (a *byAcc) update(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, seq runtime.Seq) error {
	return errNeedsBy
}

func (a *byAcc) updatePair(ec *expr.EvalCtx, ids []uint32, ng int, col, by arrow.Array, seq runtime.Seq) error {
	a.grow(ng)
	if a.key.stor == storNull {
		return nil
	}
	keys, err := readCol(ec, by, a.key.stor)
	if err != nil {
		return err
	}
	vals, err := readCol(ec, col, a.val.stor)
	if err != nil {
		return err
	}
	nulls := by.NullN() > 0
	for i, g := range ids {
		if nulls && by.IsNull(i) {
			continue
		}
		if !a.key.valid[g] || a.winsRow(&keys, i, seq, g) {
			a.key.put(g, &keys, i)
			a.val.put(g, &vals, i)
			a.seq[g], a.row[g] = seq, uint32(i)
		}
	}
	return nil
}

func (a *byAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	return a.val.result(mem, a.out, gids)
}

func (a *byAcc) Merge(dst, src uint32) {
	a.grow(int(max(dst, src)) + 1)
	if !a.key.valid[src] {
		return
	}
	if !a.key.valid[dst] || a.winsGroup(src, dst) {
		a.key.move(dst, src)
		a.val.move(dst, src)
		a.seq[dst], a.row[dst] = a.seq[src], a.row[src]
	}
}

func (a *byAcc) Reset(g uint32) {
	a.key.reset(g)
	a.val.reset(g)
}

func (a *byAcc) save(dst []byte, g uint32) ([]byte, error) {
	dst = a.key.save(dst, g)
	if !at(a.key.valid, g) {
		return dst, nil
	}
	dst = a.val.save(dst, g)
	return appendSeq(dst, a.seq[g], a.row[g]), nil
}

func (a *byAcc) load(src []byte, g uint32, ng int) error {
	a.grow(ng)
	src, err := a.key.load(src, g, ng)
	if err != nil || !a.key.valid[g] {
		return err
	}
	if src, err = a.val.load(src, g, ng); err != nil {
		return err
	}
	a.seq[g], a.row[g], _, err = getSeq(src)
	return err
}

// argAcc computes arg_max and arg_min as Polars does: the position, within its group in
// input order (counting rows with nulls), of the first row with the largest / smallest
// non-null value (NaN losing to every number); null when the group has none. It keeps the best value and its place,
// and for each group the number of its rows in each input batch, so that the position
// is known however batches arrive.
type argAcc struct {
	max    bool
	key    valStore
	seq    []runtime.Seq
	row    []uint32
	rank   []int64                 // the best row's place among its group's rows of its batch
	counts []map[runtime.Seq]int64 // rows of the group per batch
	cur    []int64                 // scratch: rows of each group in the current batch
}

func (a *argAcc) grow(n int) {
	a.key.grow(n)
	a.seq, a.row, a.rank = expr.Grow(a.seq, n), expr.Grow(a.row, n), expr.Grow(a.rank, n)
	a.counts = expr.Grow(a.counts, n)
}

func (a *argAcc) winsRow(c *colVals, r int, seq runtime.Seq, g uint32) bool {
	return beats(a.key.cmpRow(c, r, g), c.isNaN(r), a.key.isNaN(g), a.max, earlier(seq, uint32(r), a.seq[g], a.row[g]))
}

func (a *argAcc) winsGroup(src, dst uint32) bool {
	return beats(a.key.cmpGroups(src, dst), a.key.isNaN(src), a.key.isNaN(dst), a.max, earlier(a.seq[src], a.row[src], a.seq[dst], a.row[dst]))
}

func (a *argAcc) update(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, seq runtime.Seq) error {
	a.grow(ng)
	a.cur = expr.Grow(a.cur, ng)
	vals, err := readCol(ec, col, a.key.stor)
	if err != nil {
		return err
	}
	var touched []uint32
	for i, g := range ids {
		if a.cur[g] == 0 {
			touched = append(touched, g)
			if a.counts[g] == nil {
				a.counts[g] = map[runtime.Seq]int64{}
			}
		}
		rank := a.counts[g][seq] + a.cur[g] // rows of an earlier batch with this seq come first
		a.cur[g]++
		if a.key.stor == storNull || col.IsNull(i) {
			continue
		}
		if !a.key.valid[g] || a.winsRow(&vals, i, seq, g) {
			a.key.put(g, &vals, i)
			a.seq[g], a.row[g], a.rank[g] = seq, uint32(i), rank
		}
	}
	for _, g := range touched {
		a.counts[g][seq] += a.cur[g]
		a.cur[g] = 0
	}
	return nil
}

func (a *argAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	a.grow(maxGid(gids))
	out := make([]int64, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if !a.key.valid[g] {
			continue
		}
		pos := a.rank[g]
		for s, n := range a.counts[g] {
			if s.Less(a.seq[g]) {
				pos += n
			}
		}
		out[i], valid[i] = pos, true
	}
	return expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, out, valid), nil
}

// Merge folds group src into dst. The position is exact when the two groups have no
// input batch in common (the operators that merge groups, session windows, refuse
// arg_max and arg_min).
func (a *argAcc) Merge(dst, src uint32) {
	a.grow(int(max(dst, src)) + 1)
	if a.key.valid[src] && (!a.key.valid[dst] || a.winsGroup(src, dst)) {
		a.key.move(dst, src)
		a.seq[dst], a.row[dst], a.rank[dst] = a.seq[src], a.row[src], a.rank[src]
	}
	if a.counts[dst] == nil {
		a.counts[dst] = map[runtime.Seq]int64{}
	}
	for s, n := range a.counts[src] {
		a.counts[dst][s] += n
	}
}

func (a *argAcc) Reset(g uint32) {
	a.key.reset(g)
	if int(g) < len(a.counts) {
		a.counts[g] = nil
	}
}

func (a *argAcc) save(dst []byte, g uint32) ([]byte, error) {
	dst = a.key.save(dst, g)
	if at(a.key.valid, g) {
		dst = appendSeq(dst, a.seq[g], a.row[g])
		dst = binary.LittleEndian.AppendUint64(dst, uint64(a.rank[g]))
	}
	counts := at(a.counts, g)
	seqs := make([]runtime.Seq, 0, len(counts))
	for s := range counts {
		seqs = append(seqs, s)
	}
	slices.SortFunc(seqs, runtime.Seq.Compare)
	dst = binary.AppendUvarint(dst, uint64(len(seqs)))
	for _, s := range seqs {
		dst = appendSeq(dst, s, 0)
		dst = binary.AppendUvarint(dst, uint64(counts[s]))
	}
	return dst, nil
}

func (a *argAcc) load(src []byte, g uint32, ng int) error {
	a.grow(ng)
	src, err := a.key.load(src, g, ng)
	if err != nil {
		return err
	}
	if a.key.valid[g] {
		if a.seq[g], a.row[g], src, err = getSeq(src); err != nil {
			return err
		}
		var r uint64
		if r, src, err = getU64(src); err != nil {
			return err
		}
		a.rank[g] = int64(r)
	}
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return errShort
	}
	src = src[k:]
	counts := make(map[runtime.Seq]int64, n)
	for ; n > 0; n-- {
		var s runtime.Seq
		if s, _, src, err = getSeq(src); err != nil {
			return err
		}
		c, k := binary.Uvarint(src)
		if k <= 0 {
			return errShort
		}
		counts[s] = int64(c)
		src = src[k:]
	}
	a.counts[g] = counts
	return nil
}
