package agg

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/runfile"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Spilling aggregation (grace hash aggregation, as DuckDB's and Spark's). With a state
// backend that spills (state_backend="pebble") and a memory cap (state_memory_limit), a
// group_by over a bounded input counts its table's memory (Table.MemBytes) against the
// cap. When the table outgrows it, every group's partial state (PartialBatchOf: keys,
// partial states, key hash) is written to one of spillFanout partitions chosen by bits
// of its key hash, a run file per partition and spill (runfile.Files, in the job's
// working directory), and the group_by goes on with an empty table. When the input ends,
// the groups still in memory are spilled as well and each partition in turn is merged
// (Table.MergePartial) into a fresh table and emitted: a partition holds about
// 1/spillFanout of the groups, so it fits the cap when the state is up to about
// spillFanout times the cap; one that still outgrows it is spilled again, into
// partitions by the next bits of the hash (as deep as maxSpillLevel). Every group's
// partial states meet in one partition, so the result is the one an unbounded memory
// gives; rows come out partition by partition (group_by's output has no order).
//
// A checkpoint saves the groups in memory as always (GroupsTable) and the spilled
// partial states, a run at a time, into SpilledGroupsTable; a restore merges both back,
// spilling again as the cap requires.
//
// What the cap does not cover: a changelog group_by (over an unbounded input) keeps its
// groups in memory; a pre-aggregation before the exchange holds at most PreAggMaxGroups
// groups. Window aggregations spill their windows' tables through a Spiller (below).

const (
	spillFanout   = 16
	spillBits     = 4
	maxSpillLevel = 64/spillBits - 1
	// spillRunRows bounds the rows of a batch of a run on disk.
	spillRunRows = 1 << 15
)

// MinSpillBytes: a table smaller than this is not spilled (a run file per partition is
// not worth so little; under a cap that small, tables hold what they must). It also ends
// the splitting of a partition into smaller ones.
const MinSpillBytes = 64 << 10

// SpilledGroupsTable is the state table of a group_by's spilled groups: partial states
// (PartialSchema), each group possibly in several rows, merged on restore.
const SpilledGroupsTable = "groups.spilled.v1"

// spillPart is the partition of key hash h at level (a multiply to mix the hash's bits,
// then spillBits of them, the highest first).
func spillPart(h uint64, level int) int {
	m := h * 0x9E3779B97F4A7C15
	return int(m >> (64 - spillBits*(level+1)) & (spillFanout - 1))
}

// aggSpill is the spilling of one table (or, below level 0, of one partition being
// merged).
type aggSpill struct {
	op      string
	limit   int64
	level   int
	runs    *runfile.Files // shared by every level
	parts   Parts
	schema  *arrow.Schema // of the partial states
	mem     memory.Allocator
	eval    *expr.EvalCtx
	metrics *runtime.SpillMetrics
	newT    func() *Table
	since   int64 // rows folded in since the table's memory was last estimated
	// before is the table's groups before the batch at hand; newPerRow the groups the
	// last batch added per row; perGroup the bytes per group at the last estimate.
	before    int
	newPerRow float64
	perGroup  float64
	shown     int64 // the estimate last added to metrics.Resident
	wrote     bool  // this level wrote runs
	// Spills counts the times a table was written out (at this level and below).
	Spills int
}

// newAggSpill returns the spilling of a group_by's table, or nil when the job keeps state
// in memory (no spilling backend or no cap) or the aggregation cannot be spilled (no key:
// one group). Every aggregation spills as its partial state, median and quantile as
// every value (a single group's values must fit in memory when its partition merges).
func newAggSpill(tc *runtime.TaskCtx, op string, keyTypes []arrow.DataType, aggs []Spec, newT func() *Table) *aggSpill {
	cfg := tc.Spill()
	if cfg.MemoryLimit <= 0 || cfg.Backend == "" || !state.Spills(cfg.Backend) || len(keyTypes) == 0 {
		return nil
	}
	s := &aggSpill{op: op, limit: cfg.MemoryLimit, schema: PartialSchema(keyTypes, aggs), mem: tc.Eval.Mem, eval: tc.Eval, newT: newT}
	if tc.Metrics != nil {
		s.metrics = &tc.Metrics.Spill
	}
	s.runs = &runfile.Files{Op: "group_by", What: "spilled aggregation state", Dir: cfg.Dir, Mem: tc.Eval.Mem, Metrics: s.metrics}
	return s
}

// spilled reports whether any group was written out at this level (and not yet drained).
func (s *aggSpill) spilled() bool { return s != nil && s.wrote }

// show sets the table's memory in the metrics.
func (s *aggSpill) show(n int64) {
	if s.metrics != nil {
		s.metrics.Resident.Add(n - s.shown)
	}
	s.shown = n
}

// check is called after rows rows were folded into t: when t's memory exceeds the cap it
// spills it and returns the empty table to go on with (else t). A table with values out
// of line is measured when the rows since the last measure reach a fourth of its groups.
func (s *aggSpill) check(t *Table, rows int) (*Table, error) {
	if s == nil {
		return t, nil
	}
	s.since += int64(rows)
	ng := t.NumGroups()
	if rows > 0 {
		s.newPerRow = float64(ng-s.before) / float64(rows)
	}
	if t.VariableSize() && s.since < max(int64(ng)/4, 4096) {
		return t, nil
	}
	s.since = 0
	n := t.MemBytes()
	s.show(n)
	if ng > 0 {
		s.perGroup = float64(n) / float64(ng)
	}
	if n <= s.limit || n < MinSpillBytes {
		return t, nil
	}
	return s.spillAll(t)
}

// reserve is called before rows rows are folded into t: when the groups they are likely
// to add (as many per row as the last batch added, of the size of those held) would take
// t over the cap, it spills t first and returns the empty table to go on with (else t),
// so that a large batch does not take the table far over the cap before check sees it.
func (s *aggSpill) reserve(t *Table, rows int) (*Table, error) {
	if s == nil {
		return t, nil
	}
	s.before = t.NumGroups()
	if s.before == 0 || s.shown < MinSpillBytes || float64(s.shown)+float64(rows)*s.newPerRow*s.perGroup <= float64(s.limit) {
		return t, nil
	}
	s.before = 0
	return s.spillAll(t)
}

// chunkRows is how many rows of rec to fold in at a time: all of them, but a batch of
// partial states (from a pre-aggregation: up to PreAggMaxGroups groups, each perhaps a new
// one) a part of about a fourth of the cap at a time, so that one batch does not take the
// table far over the cap. (Rows are never split: first and last order rows by their
// place in their batch.)
func (s *aggSpill) chunkRows(rec arrow.RecordBatch) int64 {
	n := max(rec.NumRows(), 1)
	if s == nil || !IsPartial(rec.Schema()) || s.perGroup <= 0 {
		return n
	}
	return min(n, max(int64(float64(s.limit)/4/s.perGroup), 1024))
}

// spillAll spills t and returns the empty table to go on with (t itself beyond the last
// level of partitions, where splitting cannot help).
func (s *aggSpill) spillAll(t *Table) (*Table, error) {
	if s.level > maxSpillLevel {
		return t, nil
	}
	if err := s.spill(t); err != nil {
		return t, err
	}
	t.discard()
	s.show(0)
	return s.newT(), nil
}

// spill writes every group of t to its partition, a run per partition.
func (s *aggSpill) spill(t *Table) error {
	if t.NumGroups() == 0 {
		return nil
	}
	if err := s.writeParts(t, &s.parts); err != nil {
		return err
	}
	s.Spills++
	s.wrote = true
	return nil
}

// Parts are the runs of spilled partial states of one table, by partition (the indexes
// of runs in the spill's run files).
type Parts [spillFanout][]int

// Empty reports whether nothing was spilled into p (nil included).
func (p *Parts) Empty() bool {
	if p == nil {
		return true
	}
	for _, runs := range p {
		if len(runs) > 0 {
			return false
		}
	}
	return true
}

// writeParts writes every group of t to its partition of into, a run per partition.
func (s *aggSpill) writeParts(t *Table, into *Parts) error {
	var byPart [spillFanout][]uint32
	for g, h := range t.Hashes()[:t.NumGroups()] {
		p := spillPart(h, s.level)
		byPart[p] = append(byPart[p], uint32(g))
	}
	for p, gids := range byPart {
		if len(gids) == 0 {
			continue
		}
		rec, err := t.PartialBatchOf(s.mem, s.schema, gids)
		if err != nil {
			return err
		}
		err = s.writeRun(rec)
		rec.Release()
		if err != nil {
			return err
		}
		into[p] = append(into[p], s.runs.Count()-1)
	}
	return nil
}

// writeRun writes rec (partial states) as a run, in batches of at most spillRunRows.
func (s *aggSpill) writeRun(rec arrow.RecordBatch) error {
	return s.runs.WriteFrom(s.schema, func(add func(arrow.RecordBatch) error) error {
		for at := int64(0); at < rec.NumRows(); at += spillRunRows {
			if err := add(rec.NewSlice(at, min(at+spillRunRows, rec.NumRows()))); err != nil {
				return err
			}
		}
		return nil
	})
}

// byPart returns the rows of each partition of a batch of partial states (its key
// hashes last).
func (s *aggSpill) byPart(rec arrow.RecordBatch) ([spillFanout][]int32, error) {
	var rows [spillFanout][]int32
	hc, ok := rec.Column(int(rec.NumCols()) - 1).(*array.Uint64)
	if !ok {
		return rows, rberr.New(rberr.Internal, "%s: partial states without their key hashes", s.op)
	}
	for i, h := range hc.Uint64Values() {
		p := spillPart(h, s.level)
		rows[p] = append(rows[p], int32(i))
	}
	return rows, nil
}

// sub is the spilling of one partition being merged: the next level's.
func (s *aggSpill) sub() *aggSpill {
	return &aggSpill{op: s.op, limit: s.limit, level: s.level + 1, runs: s.runs, schema: s.schema, mem: s.mem, eval: s.eval, metrics: s.metrics, newT: s.newT}
}

// fold merges a batch of partial states into pt within sub's cap, and returns the table
// to go on with.
func (s *aggSpill) fold(ec *runtime.TaskCtx, pt *Table, sub *aggSpill, rec arrow.RecordBatch) (*Table, error) {
	n := int(rec.NumRows())
	var err error
	if pt, err = sub.reserve(pt, n); err != nil {
		return pt, err
	}
	if err := pt.MergePartial(ec.Eval, rec); err != nil {
		return pt, err
	}
	return sub.check(pt, n)
}

// mergeRuns folds the batches of runs into pt (fold), and returns the table to go on
// with.
func (s *aggSpill) mergeRuns(ec *runtime.TaskCtx, pt *Table, sub *aggSpill, runs []int) (*Table, error) {
	defer s.runs.CloseFiles()
	for _, r := range runs {
		src, err := s.runs.OpenRun(r)
		if err != nil {
			return pt, err
		}
		for {
			rec, err := src()
			if err != nil {
				return pt, err
			}
			if rec == nil {
				break
			}
			pt, err = s.fold(ec, pt, sub, rec)
			rec.Release()
			if err != nil {
				return pt, err
			}
		}
	}
	return pt, nil
}

// drain gives emit every group: t's alone if nothing was spilled; else, having spilled
// t too, each partition's groups merged into a table of their own (drained in turn at
// the next level), whose runs are deleted once read. emit must not keep the table.
func (s *aggSpill) drain(ec *runtime.TaskCtx, t *Table, emit func(*Table) error) error {
	if !s.spilled() {
		return emit(t)
	}
	if err := s.spill(t); err != nil {
		return err
	}
	t.discard()
	s.show(0)
	for p := range s.parts {
		if len(s.parts[p]) == 0 {
			continue
		}
		sub := s.sub()
		pt, err := s.mergeRuns(ec, s.newT(), sub, s.parts[p])
		if err == nil {
			for _, r := range s.parts[p] {
				s.runs.RemoveRun(r)
			}
			s.parts[p] = nil
		}
		if err := s.finishPart(ec, sub, pt, emit, err); err != nil {
			return err
		}
	}
	return nil
}

// finishPart gives emit the groups of partition table pt, merged at sub's level (unless
// merging it failed with err), and frees it.
func (s *aggSpill) finishPart(ec *runtime.TaskCtx, sub *aggSpill, pt *Table, emit func(*Table) error, err error) error {
	if err == nil && (pt.NumGroups() > 0 || sub.spilled()) {
		err = sub.drain(ec, pt, emit)
	}
	sub.show(0)
	pt.discard()
	s.Spills += sub.Spills
	return err
}

// save writes every spilled partial state into table SpilledGroupsTable of b, a run at
// a time.
func (s *aggSpill) save(ec *runtime.TaskCtx, op string, b state.Backend) error {
	if !s.spilled() {
		return nil
	}
	for p := range s.parts {
		for _, r := range s.parts[p] {
			src, err := s.runs.OpenRun(r)
			if err != nil {
				return err
			}
			w := newPartialWriter(ec, op, s.schema)
			for {
				rec, err := src()
				if err == nil && rec != nil {
					err = w.add(rec, ec.MaxParallelism())
					rec.Release()
					if err == nil {
						continue
					}
				}
				if err != nil {
					s.runs.CloseFiles()
					w.Release()
					return err
				}
				break
			}
			s.runs.CloseFiles()
			if err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove deletes the runs.
func (s *aggSpill) remove() {
	if s != nil {
		s.runs.Remove()
		s.show(0)
	}
}

// partialWriter writes batches of partial states into SpilledGroupsTable, by the key
// group of their key hash (the last column).
type partialWriter struct{ *keyed.StateWriter }

func newPartialWriter(tc *runtime.TaskCtx, op string, schema *arrow.Schema) partialWriter {
	return partialWriter{keyed.NewStateWriter(tc.Eval, op, SpilledGroupsTable, schema)}
}

func (w partialWriter) add(rec arrow.RecordBatch, maxPar int) error {
	hc, ok := rec.Column(int(rec.NumCols()) - 1).(*array.Uint64)
	if !ok {
		return rberr.New(rberr.Internal, "%s: spilled partial states without their key hashes", w.Op)
	}
	kgs := make([]int, rec.NumRows())
	for i, h := range hc.Uint64Values() {
		kgs[i] = state.KeyGroup(h, maxPar)
	}
	return w.Add(rec, kgs)
}

// discard drops the table's memory without giving its hash table to the pool of freed
// tables (the pool's memory is outside any cap).
func (h *Table) discard() {
	if h.groups != nil {
		h.groups.Release()
		h.groups = nil
	}
	h.accs, h.slab = nil, nil
}

// Spiller spills the tables of an operator that keeps several (a window aggregation's
// windows and slices) under one memory cap: each table's groups go to partitions of its
// own (Parts) in run files the Spiller keeps, and Merge brings one partition of several
// tables' state together at a time. One per operator subtask; nil when the job keeps
// state in memory.
type Spiller struct{ s *aggSpill }

// NewSpiller returns the Spiller of an operator subtask (op names it in errors and its
// run directory) whose tables have keys of keyTypes and aggregations aggs; newT makes an
// empty table. Nil where newAggSpill is.
func NewSpiller(tc *runtime.TaskCtx, op string, keyTypes []arrow.DataType, aggs []Spec, newT func() *Table) *Spiller {
	s := newAggSpill(tc, op, keyTypes, aggs, newT)
	if s == nil {
		return nil
	}
	s.runs.Op = op
	return &Spiller{s: s}
}

// Limit is the memory cap.
func (sp *Spiller) Limit() int64 { return sp.s.limit }

// Show sets the memory the operator's tables hold in its metrics.
func (sp *Spiller) Show(n int64) { sp.s.show(n) }

// Spill writes every group of t into parts into (t can be discarded then).
func (sp *Spiller) Spill(t *Table, into *Parts) error {
	if t.NumGroups() == 0 {
		return nil
	}
	sp.s.Spills++
	return sp.s.writeParts(t, into)
}

// SpillBatch writes a batch of partial states (PartialSchema) into parts into.
func (sp *Spiller) SpillBatch(rec arrow.RecordBatch, into *Parts) error {
	rows, err := sp.s.byPart(rec)
	if err != nil {
		return err
	}
	sp.s.Spills++
	for p, idx := range rows {
		if len(idx) == 0 {
			continue
		}
		part, err := runtime.TakeRows(sp.s.eval, rec, idx)
		if err != nil {
			return err
		}
		err = sp.s.writeRun(part)
		part.Release()
		if err != nil {
			return err
		}
		into[p] = append(into[p], sp.s.runs.Count()-1)
	}
	return nil
}

// Merge gives emit, one partition at a time, a table of the groups of that partition of
// parts (spilled state), tables and batches (partial states) merged; a partition that
// outgrows the cap is spilled and merged again a part at a time, so emit may get several
// tables for one partition (each group in one of them). Nothing given is changed: the
// spilled runs stay (Remove deletes them). emit must not keep the table.
func (sp *Spiller) Merge(ec *runtime.TaskCtx, parts []*Parts, tables []*Table, batches []arrow.RecordBatch, emit func(*Table) error) error {
	return sp.MergeParts(ec, parts, tables, batches, nil, emit)
}

// PartOf is the partition of the groups of key hash h (as Table.Hashes holds them).
func (sp *Spiller) PartOf(h uint64) int { return spillPart(h, sp.s.level) }

// MergeParts is Merge of the partitions in want only (PartOf), all of them when want is
// nil.
func (sp *Spiller) MergeParts(ec *runtime.TaskCtx, parts []*Parts, tables []*Table, batches []arrow.RecordBatch, want map[int]bool, emit func(*Table) error) error {
	s := sp.s
	var tableParts [][spillFanout][]uint32
	for _, t := range tables {
		var byPart [spillFanout][]uint32
		for g, h := range t.Hashes()[:t.NumGroups()] {
			p := spillPart(h, s.level)
			byPart[p] = append(byPart[p], uint32(g))
		}
		tableParts = append(tableParts, byPart)
	}
	var batchParts [][spillFanout][]int32
	for _, b := range batches {
		rows, err := s.byPart(b)
		if err != nil {
			return err
		}
		batchParts = append(batchParts, rows)
	}
	for p := range spillFanout {
		if want != nil && !want[p] {
			continue
		}
		sub := s.sub()
		pt := s.newT()
		var err error
		for _, ps := range parts {
			if ps != nil && err == nil {
				pt, err = s.mergeRuns(ec, pt, sub, ps[p])
			}
		}
		for i, t := range tables {
			if gids := tableParts[i][p]; len(gids) > 0 && err == nil {
				var rec arrow.RecordBatch
				if rec, err = t.PartialBatchOf(s.mem, s.schema, gids); err == nil {
					pt, err = s.fold(ec, pt, sub, rec)
					rec.Release()
				}
			}
		}
		for i, b := range batches {
			if idx := batchParts[i][p]; len(idx) > 0 && err == nil {
				var rec arrow.RecordBatch
				if rec, err = runtime.TakeRows(ec.Eval, b, idx); err == nil {
					pt, err = s.fold(ec, pt, sub, rec)
					rec.Release()
				}
			}
		}
		if err := s.finishPart(ec, sub, pt, emit, err); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes the runs of parts p and empties it.
func (sp *Spiller) Remove(p *Parts) {
	if p == nil {
		return
	}
	for i, runs := range p {
		for _, r := range runs {
			sp.s.runs.RemoveRun(r)
		}
		p[i] = nil
	}
}

// Spills counts the tables and batches written out.
func (sp *Spiller) Spills() int { return sp.s.Spills }

// Close deletes every run.
func (sp *Spiller) Close() {
	if sp != nil {
		sp.s.remove()
	}
}

// Discard drops the table's memory without giving its hash table to the pool of freed
// tables (for a table spilled to disk).
func (h *Table) Discard() { h.discard() }

// Resident is the memory the operator's tables hold, as last shown.
func (sp *Spiller) Resident() int64 { return sp.s.shown }
