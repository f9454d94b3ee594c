package runtime

import (
	"fmt"
	"strings"
	"sync"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// Stage is a set of parallel subtasks running the same chain of operators. Consecutive
// operators that need no exchange are chained into one stage (as Flink chains them).
type Stage struct {
	id       int
	name     string
	Parallel int
	ops      []func(subtask int) Operator
	opNames  []string
	Source   func(subtask int) SourceFn
	inputs   []Edge
	tasks    []*task
	isOutput bool
	g        *Graph
	// NodeID is the stable id of the plan node whose building created the stage (a
	// source's id for a source stage); opIDs the stable id of each chained operator.
	NodeID string
	opIDs  []string
	// Replayable, if set, tells whether the stage's source can be read again from a
	// position (nil: it can).
	Replayable func() bool
	// Gauges, if set on a source stage, reports the source's own metrics (a Kafka
	// source's partitions and lag), shown with the source operator's metrics.
	Gauges func() any
	// shared is what the subtasks of a source stage share (TaskCtx.SourceShared).
	sharedMu sync.Mutex
	shared   any
}

type Edge struct {
	From *Stage
	Part partitioning
	Keys []expr.Expr
	// Hashed (with PartHash): batches whose schema is marked with KeyHashMeta carry their
	// rows' key hashes (the hashes of Keys, as expr.HashColumns computes them) in their
	// last column, a uint64 column, and the exchange routes them by it without evaluating
	// Keys (a pre-aggregation computes them once; the aggregation after the exchange uses
	// them too). Other batches are routed by Keys.
	Hashed bool
}

// pgraph is the physical graph: stages of parallel subtasks connected by edges.
type Graph struct {
	stages    []*Stage
	Parallel  int
	MaxPar    int
	BatchSize int
	Batch     bool // batch runtime mode: no row is late (see resolveRuntimeMode)
	// NodeID is the stable id of the plan node being built: stages and operators created
	// meanwhile take it (see Stage.NodeID).
	NodeID string
	ids    map[string]int
}

func (g *Graph) NewStage(name string, parallel int, inputs ...Edge) *Stage {
	s := &Stage{id: len(g.stages), name: name, Parallel: parallel, inputs: inputs, NodeID: g.NodeID, g: g}
	g.stages = append(g.stages, s)
	return s
}

// opID is the stable id of the next operator chained while building node NodeID: the
// node's id, with "/1", "/2", ... for its further operators.
func (g *Graph) opID() string {
	if g.ids == nil {
		g.ids = map[string]int{}
	}
	n := g.ids[g.NodeID]
	g.ids[g.NodeID]++
	if n == 0 {
		return g.NodeID
	}
	return fmt.Sprintf("%s/%d", g.NodeID, n)
}

func (s *Stage) Chain(name string, f func(int) Operator) {
	s.ops = append(s.ops, f)
	s.opIDs = append(s.opIDs, s.g.opID())
	s.opNames = append(s.opNames, name)
	if len(s.opNames) == 1 && s.Source == nil {
		s.name = name
	}
}

// ChainHelper chains an operator that a node's plan adds only in some physical shapes
// (the reorder before a gather, which depends on the input's parallelism): its id is
// NodeID + "/" + name and does not count, so the node's own operators keep their ids
// whatever the parallelism of a restored run.
func (s *Stage) ChainHelper(name string, f func(int) Operator) {
	s.ops = append(s.ops, f)
	s.opIDs = append(s.opIDs, s.g.NodeID+"/"+name)
	s.opNames = append(s.opNames, name)
	if len(s.opNames) == 1 && s.Source == nil {
		s.name = name
	}
}

// wire creates the tasks and their input channels, one per upstream subtask of each
// input edge, of capacity queue messages each.
func (g *Graph) wire(queue int) {
	for _, s := range g.stages {
		s.tasks = make([]*task, s.Parallel)
		for i := range s.tasks {
			t := &task{stage: s, index: i, queue: queue}
			if s.Source != nil {
				t.source = s.Source(i)
			}
			s.tasks[i] = t
		}
	}
	for _, s := range g.stages {
		for side, e := range s.inputs {
			for ui, up := range e.From.tasks {
				r := &router{part: e.Part, keys: e.Keys, hashed: e.Hashed, maxPar: g.MaxPar, side: side}
				if e.Part == partForward {
					t := s.tasks[ui%len(s.tasks)]
					r.targets = []*task{t}
					r.chIdx = []int{t.addInput(side)}
				} else {
					for _, t := range s.tasks {
						r.targets = append(r.targets, t)
						r.chIdx = append(r.chIdx, t.addInput(side))
					}
				}
				up.addRouter(r)
			}
		}
	}
}

// Explain renders the physical graph.
func (g *Graph) Explain() string {
	var b strings.Builder
	mode := plan.ModeStreaming
	if g.Batch {
		mode = plan.ModeBatch
	}
	fmt.Fprintf(&b, "runtime mode: %s\n", mode)
	for _, s := range g.stages {
		name := s.name
		if s.Source == nil && len(s.opNames) > 0 {
			name = strings.Join(s.opNames, " -> ")
		} else if len(s.opNames) > 0 {
			name += " -> " + strings.Join(s.opNames, " -> ")
		}
		var ins []string
		for _, e := range s.inputs {
			kind := map[partitioning]string{partForward: "forward", PartSplit: "rebalance", PartHash: "hash", PartGather: "gather", PartBroadcast: "broadcast"}[e.Part]
			ins = append(ins, fmt.Sprintf("%s from stage %d", kind, e.From.id))
		}
		in := ""
		if len(ins) > 0 {
			in = " <- " + strings.Join(ins, ", ")
		}
		fmt.Fprintf(&b, "stage %d: %s [parallelism %d]%s\n", s.id, name, s.Parallel, in)
	}
	return b.String()
}
