package engine

import (
	"fmt"
	"strings"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// stage is a set of parallel subtasks running the same chain of operators. Consecutive
// operators that need no exchange are chained into one stage (as Flink chains them).
type stage struct {
	id       int
	name     string
	parallel int
	ops      []func(subtask int) operator
	opNames  []string
	source   func(subtask int) sourceFn
	inputs   []edge
	tasks    []*task
	isOutput bool
}

type edge struct {
	from *stage
	part partitioning
	keys []expr.Expr
}

// pgraph is the physical graph: stages of parallel subtasks connected by edges.
type pgraph struct {
	stages    []*stage
	parallel  int
	maxPar    int
	batchSize int
	batch     bool // batch runtime mode: no row is late (see resolveRuntimeMode)
}

func (g *pgraph) newStage(name string, parallel int, inputs ...edge) *stage {
	s := &stage{id: len(g.stages), name: name, parallel: parallel, inputs: inputs}
	g.stages = append(g.stages, s)
	return s
}

func (s *stage) chain(name string, f func(int) operator) {
	s.ops = append(s.ops, f)
	s.opNames = append(s.opNames, name)
	if len(s.opNames) == 1 && s.source == nil {
		s.name = name
	}
}

// wire creates the tasks and their channels.
func (g *pgraph) wire(queue int) {
	for _, s := range g.stages {
		s.tasks = make([]*task, s.parallel)
		for i := range s.tasks {
			t := &task{stage: s, index: i}
			if s.source == nil {
				t.in = make(chan message, queue)
			} else {
				t.source = s.source(i)
			}
			s.tasks[i] = t
		}
	}
	for _, s := range g.stages {
		for side, e := range s.inputs {
			for ui, up := range e.from.tasks {
				r := &router{part: e.part, keys: e.keys, maxPar: g.maxPar, side: side}
				if e.part == partForward {
					t := s.tasks[ui%len(s.tasks)]
					r.targets = []*task{t}
					r.chIdx = []int{t.nInputs}
					t.nInputs++
				} else {
					for _, t := range s.tasks {
						r.targets = append(r.targets, t)
						r.chIdx = append(r.chIdx, t.nInputs)
						t.nInputs++
					}
				}
				up.out = r
			}
		}
	}
}

// explain renders the physical graph.
func (g *pgraph) explain() string {
	var b strings.Builder
	mode := plan.ModeStreaming
	if g.batch {
		mode = plan.ModeBatch
	}
	fmt.Fprintf(&b, "runtime mode: %s\n", mode)
	for _, s := range g.stages {
		name := s.name
		if s.source == nil && len(s.opNames) > 0 {
			name = strings.Join(s.opNames, " -> ")
		} else if len(s.opNames) > 0 {
			name += " -> " + strings.Join(s.opNames, " -> ")
		}
		var ins []string
		for _, e := range s.inputs {
			kind := map[partitioning]string{partForward: "forward", partSplit: "rebalance", partHash: "hash", partGather: "gather"}[e.part]
			ins = append(ins, fmt.Sprintf("%s from stage %d", kind, e.from.id))
		}
		in := ""
		if len(ins) > 0 {
			in = " <- " + strings.Join(ins, ", ")
		}
		fmt.Fprintf(&b, "stage %d: %s [parallelism %d]%s\n", s.id, name, s.parallel, in)
	}
	return b.String()
}
