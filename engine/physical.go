package engine

import (
	goruntime "runtime"
	"slices"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// flow is the open end of the graph while building: the stage new operators chain onto,
// and whether its output is still in source order.
type flow struct {
	st       *runtime.Stage
	ordered  bool
	ordinals []int
	// part, when known, is how a hash exchange has spread the flow's rows over its
	// stage's subtasks (see partitioning).
	part *partitioning
}

// partitioning says that the rows of node's output are spread over the subtasks of the
// stage that produces them as a hash exchange on its columns cols (in order) spreads
// them: the rows of a key sit in the subtask that key's hash picks. An operator keyed on
// exactly those columns, at the same parallelism, then takes its input where it is
// (chained onto its stage, or a join by a forward edge), without moving a row or
// pre-aggregating (batch mode: a streaming job keeps its exchanges, which barriers and
// rescaling are tested with). It is tied to the node it describes: an operator that
// passes its input's flow on unchanged but changes its columns does not inherit it.
type partitioning struct {
	node *lnode
	cols []int
}

// partitionedOn reports whether f, the flow of node in, is partitioned on the columns
// keys (plain column references, of types) at parallelism parallel, so that a hash
// exchange on keys would leave every row where it is.
func (g *graph) partitionedOn(f flow, in *lnode, keys []expr.Expr, types []arrow.DataType, parallel int) bool {
	p := f.part
	if !g.Batch || p == nil || p.node != in || f.st.Parallel != parallel || len(keys) == 0 || len(keys) != len(p.cols) {
		return false
	}
	for i, k := range keys {
		c, ok := k.(*expr.ColExpr)
		if !ok || c.Idx != p.cols[i] || c.Idx >= in.schema.NumFields() || !arrow.TypeEqual(types[i], in.schema.Field(c.Idx).Type) {
			return false
		}
	}
	return true
}

// carried is f's partitioning as seen from node n's output, whose column i is its
// input's column from[i] (-1: computed): nil unless every partitioning column is kept.
func carried(f flow, in, n *lnode, from []int) *partitioning {
	p := f.part
	if p == nil || p.node != in {
		return nil
	}
	out := &partitioning{node: n}
	for _, c := range p.cols {
		at := slices.Index(from, c)
		if at < 0 {
			return nil
		}
		out.cols = append(out.cols, at)
	}
	return out
}

// graph is the physical plan while it is built from the bound logical plan: the stages
// and what the planner tracks about sources.
type graph struct {
	*runtime.Graph
	inputs      []array.RecordReader
	splitCounts map[int]int
	ordinal     int
	totalRows   int64
	totalSplits int
	files       []string
	unbounded   bool
	// A plan is a DAG: uses counts the consumers of each bound node (an output counts as
	// one), built holds the flow of a shared node once it is built.
	uses     map[*lnode]int
	built    map[*lnode]flow
	branches map[*lnode]int // consumers of a shared node built so far
	// dag is set when some node is shared or the plan has several outputs: no branch may
	// then stop the sources early (limit), as the others still read them.
	dag bool
	// limitQuorum, in a DAG whose every output ends in a limit (through single-input
	// operators), counts the limits that have yet to get their rows; nil otherwise.
	limitQuorum *atomic.Int32
	// ids are the nodes' stable operator ids (see assignIDs); restoring is set when the
	// job starts from a checkpoint.
	ids       map[*lnode]string
	restoring bool
	// checkpointing: the job takes checkpoints or restores one; savepoints: it may be
	// asked for savepoints (a broadcast join can be neither).
	checkpointing, savepoints bool
}

func newGraph(opts plan.Options, inputs []array.RecordReader) *graph {
	g := &graph{Graph: &runtime.Graph{Parallel: opts.Parallelism, MaxPar: opts.MaxParallelism, BatchSize: opts.BatchSize},
		inputs: inputs, splitCounts: map[int]int{}, checkpointing: opts.CheckpointDir != "" || opts.Restore != "", savepoints: opts.Savepoints}
	if g.Parallel <= 0 {
		g.Parallel = goruntime.NumCPU()
	}
	if g.MaxPar <= 0 {
		g.MaxPar = state.DefaultMaxParallelism
	}
	if g.Parallel > g.MaxPar {
		g.Parallel = g.MaxPar
	}
	if g.BatchSize <= 0 {
		g.BatchSize = 65536
	}
	return g
}

// countUses counts the consumers of every node reachable from the outputs.
func (g *graph) countUses(outs []*lnode) {
	g.uses, g.built, g.branches = map[*lnode]int{}, map[*lnode]flow{}, map[*lnode]int{}
	seen := map[*lnode]bool{}
	var walk func(n *lnode)
	walk = func(n *lnode) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.inputs {
			g.uses[in]++
			walk(in)
		}
	}
	for _, out := range outs {
		g.uses[out]++
		walk(out)
	}
	g.dag = len(outs) > 1
	for _, c := range g.uses {
		g.dag = g.dag || c > 1
	}
	g.limitQuorum = nil
	limits := 0
	for _, n := range walkNodes(outs) {
		if n.op == "limit" {
			limits++
		}
	}
	for _, out := range outs {
		n := out
		for n.op != "limit" && len(n.inputs) == 1 && g.uses[n] <= 1 {
			n = n.inputs[0]
		}
		if n.op != "limit" {
			return
		}
	}
	g.limitQuorum = new(atomic.Int32)
	g.limitQuorum.Store(int32(limits))
}

// build turns a bound logical plan into stages and returns its open end; prune is the
// predicate of a filter directly above n, if any (see logicalOp.build). A shared node
// (one with several consumers) is built once; each consumer gets its own stage fed by a
// forward edge from it, so that every consumer sees every batch, split marker, watermark
// and end of input, and chains its operators without disturbing the others.
func (g *graph) build(n *lnode, prune *plan.Expr) (flow, error) {
	if g.uses[n] <= 1 {
		return g.buildNode(n, prune)
	}
	f, ok := g.built[n]
	if !ok {
		var err error
		// No split pruning by one consumer's filter: the others need every row.
		if f, err = g.buildNode(n, nil); err != nil {
			return f, err
		}
		g.built[n] = f
	}
	st := g.NewStage("fan-out", f.st.Parallel, runtime.Edge{From: f.st, Part: runtime.PartForward})
	out := flow{st: st, ordered: f.ordered, ordinals: f.ordinals, part: f.part}
	if g.branches[n]++; g.branches[n] > 1 && f.ordered {
		// Later branches carry the source under new ordinals, so that a union of two
		// branches can still restore source order (the same batch comes through both).
		remap := map[int]int{}
		out.ordinals = nil
		for _, o := range f.ordinals {
			remap[o] = g.ordinal
			if c, ok := g.splitCounts[o]; ok {
				g.splitCounts[g.ordinal] = c
			}
			out.ordinals = append(out.ordinals, g.ordinal)
			g.ordinal++
		}
		st.Chain("fan-out", func(int) runtime.Operator { return &runtime.ReseqOp{Ordinals: remap} })
	}
	return out, nil
}

func (g *graph) buildNode(n *lnode, prune *plan.Expr) (flow, error) {
	if n.impl == nil {
		return flow{}, rberr.New(rberr.Internal, "no physical operator for %q", n.op)
	}
	return g.buildNodeWith(n, func() (flow, error) { return n.impl.build(g, n, prune) })
}

// buildNodeWith builds n's physical form with build (n's own, or one its consumer
// fuses into it).
func (g *graph) buildNodeWith(n *lnode, build func() (flow, error)) (flow, error) {
	prev := g.NodeID
	g.NodeID = g.ids[n]
	defer func() { g.NodeID = prev }()
	return build()
}

// gatherInOrder is a one-subtask stage that receives every row of in (of schema), in
// input order (a reorder puts parallel subtasks' batches back in order when in is
// ordered).
func (g *graph) gatherInOrder(name string, in flow, schema *arrow.Schema) *runtime.Stage {
	st := g.NewStage(name, 1, runtime.Edge{From: in.st, Part: runtime.PartGather})
	g.addReorder(st, in, schema)
	return st
}

// addReorder chains a reorder (basic.ReorderOp) onto st, which gathers the ordered flow
// in, unless in is in order already (one subtask, one source). A restored job always
// has one: the checkpoint it restores may hold the rows a reorder had buffered (it was
// taken at another parallelism), and a restored source skips the splits read before
// the checkpoint, which the reorder passes as done (runtime.SkippedSplits).
func (g *graph) addReorder(st *runtime.Stage, in flow, schema *arrow.Schema) {
	if !in.ordered {
		return
	}
	if !g.restoring && in.st.Parallel == 1 && len(in.ordinals) <= 1 {
		return
	}
	ords := append([]int(nil), in.ordinals...)
	counts := g.splitCounts
	st.ChainHelper("reorder", func(int) runtime.Operator { return basic.NewReorderOp(ords, counts, schema) })
}

// sourceClock makes the streaming event-time clock of a source subtask (one lane), or nil.
func sourceClock(n *lnode) func() *source.Clock {
	if n.wm == nil {
		return nil
	}
	col := n.timeIdx
	bound := n.wm.Bound
	return func() *source.Clock { return source.NewClock(1, col, bound) }
}

// keyedInput is the input of an operator that partitions its rows by keys (group_by,
// window aggregation, dedup, top-N): the input built, the keys' expressions and types,
// and the operator's parallelism: the job's, or 1 without keys (one subtask sees every
// row).
type keyedInput struct {
	in       flow
	keys     []expr.Expr
	types    []arrow.DataType
	parallel int
	local    bool // in is partitioned on the keys already (graph.partitionedOn)
}

// buildKeyed builds n's single input for an operator keyed by keys.
func (g *graph) buildKeyed(n *lnode, keys []expr.Bound) (keyedInput, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return keyedInput{in: in}, err
	}
	k := keyedInput{in: in, parallel: g.Parallel}
	k.keys, k.types = keyExprs(keys)
	if len(k.keys) == 0 {
		k.parallel = 1
	}
	k.local = g.partitionedOn(in, n.inputs[0], k.keys, k.types, k.parallel)
	return k, nil
}

// stage is the operator's stage, fed through the hash exchange on the keys, or its
// input's own stage (the operator chained onto it) where the input is partitioned on them
// already (local); hashed: the input's batches may carry their key hashes
// (runtime.Edge.Hashed, a pre-aggregation's).
func (k keyedInput) stage(g *graph, name string, hashed bool) *runtime.Stage {
	if k.local {
		return k.in.st
	}
	return g.NewStage(name, k.parallel, runtime.Edge{From: k.in.st, Part: runtime.PartHash, Keys: k.keys, Hashed: hashed})
}

// output is the partitioning of the keyed operator n's output whose first columns are
// its keys' values (a group_by's).
func (k keyedInput) output(n *lnode) *partitioning {
	if len(k.keys) == 0 {
		return nil
	}
	p := &partitioning{node: n}
	for i := range k.keys {
		p.cols = append(p.cols, i)
	}
	return p
}

// keyExprs splits bound keys into their expressions and types.
func keyExprs(bs []expr.Bound) ([]expr.Expr, []arrow.DataType) {
	keys := make([]expr.Expr, len(bs))
	types := make([]arrow.DataType, len(bs))
	for i, k := range bs {
		keys[i], types[i] = k.Expr, k.Type()
	}
	return keys, types
}

// pacedBlock is how many rows a generator puts in one batch. Unpaced generators fill whole
// batches; a paced one (rate rows per second over all subtasks) emits a batch, and with it
// a watermark, at least every 200 ms (Flink's default watermark interval) on each of its
// parallel subtasks, so a slow source still delivers rows and advances event time promptly.
func pacedBlock(rate float64, batchSize, parallel int) int64 {
	block := int64(batchSize)
	if rate > 0 {
		perInterval := int64(rate * 0.2 / float64(max(1, parallel)))
		block = max(1, min(block, perInterval))
	}
	return block
}
