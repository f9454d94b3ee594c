package agg

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
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
// groups in memory, as window aggregations do; a pre-aggregation before the exchange
// holds at most PreAggMaxGroups groups.

const (
	spillFanout   = 16
	spillBits     = 4
	maxSpillLevel = 64/spillBits - 1
	// spillRunRows bounds the rows of a batch of a run on disk.
	spillRunRows = 1 << 15
)

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
	parts   [spillFanout][]int
	schema  *arrow.Schema // of the partial states
	mem     memory.Allocator
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
// one group; median and quantile: their partial state is every value).
func newAggSpill(tc *runtime.TaskCtx, op string, keyTypes []arrow.DataType, aggs []Spec, newT func() *Table) *aggSpill {
	cfg := tc.Spill()
	if cfg.MemoryLimit <= 0 || cfg.Backend == "" || !state.Spills(cfg.Backend) || len(keyTypes) == 0 || !PreAggregatable(aggs) {
		return nil
	}
	s := &aggSpill{op: op, limit: cfg.MemoryLimit, schema: PartialSchema(keyTypes, aggs), mem: tc.Eval.Mem, newT: newT}
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
	if n <= s.limit {
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
	if s.before == 0 || float64(s.shown)+float64(rows)*s.newPerRow*s.perGroup <= float64(s.limit) {
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
	n := t.NumGroups()
	if n == 0 {
		return nil
	}
	var byPart [spillFanout][]uint32
	for g, h := range t.Hashes()[:n] {
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
		err = s.runs.WriteFrom(s.schema, func(add func(arrow.RecordBatch) error) error {
			for at := int64(0); at < rec.NumRows(); at += spillRunRows {
				if err := add(rec.NewSlice(at, min(at+spillRunRows, rec.NumRows()))); err != nil {
					return err
				}
			}
			return nil
		})
		rec.Release()
		if err != nil {
			return err
		}
		s.parts[p] = append(s.parts[p], s.runs.Count()-1)
	}
	s.Spills++
	s.wrote = true
	return nil
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
		sub := &aggSpill{op: s.op, limit: s.limit, level: s.level + 1, runs: s.runs, schema: s.schema, mem: s.mem, metrics: s.metrics, newT: s.newT}
		pt := s.newT()
		for _, r := range s.parts[p] {
			src, err := s.runs.OpenRun(r)
			if err != nil {
				pt.discard()
				return err
			}
			for {
				rec, err := src()
				if err == nil && rec != nil {
					n := int(rec.NumRows())
					if pt, err = sub.reserve(pt, n); err == nil {
						err = pt.MergePartial(ec.Eval, rec)
					}
					rec.Release()
					if err == nil {
						pt, err = sub.check(pt, n)
					}
					if err == nil {
						continue
					}
				}
				if err != nil {
					s.runs.CloseFiles()
					pt.discard()
					return err
				}
				break
			}
			s.runs.RemoveRun(r)
		}
		s.runs.CloseFiles()
		s.parts[p] = nil
		err := sub.drain(ec, pt, emit)
		sub.show(0)
		pt.discard()
		if err != nil {
			return err
		}
		s.Spills += sub.Spills
	}
	return nil
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
	h.Accs = nil
}
