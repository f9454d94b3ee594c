package engine

import (
	"fmt"

	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// sourceBoundedness lists the sources of a plan that are unbounded (generators without a
// count) and those that may be (Arrow streams that are not finite tables).
func sourceBoundedness(outs []*lnode, unbounded, maybe *[]string) {
	for _, n := range walkNodes(outs) {
		nodeBoundedness(n, unbounded, maybe)
	}
}

// boundedSource is implemented by the sources that may not end.
type boundedSource interface {
	// boundedness says why n is unbounded (unbounded: "read_kafka without end="), or why
	// it may be (maybe: "an Arrow stream, which may be live"); both empty when it ends.
	boundedness(n *lnode) (unbounded, maybe string)
}

func nodeBoundedness(n *lnode, unbounded, maybe *[]string) {
	if s, ok := n.impl.(boundedSource); ok {
		u, m := s.boundedness(n)
		if u != "" {
			*unbounded = append(*unbounded, fmt.Sprintf("%s (%s)", n.name, u))
		}
		if m != "" {
			*maybe = append(*maybe, fmt.Sprintf("%s (%s)", n.name, m))
		}
	}
}

// resolveRuntimeMode decides whether a bound plan runs in batch mode. "automatic" is batch
// when every source is bounded; "batch" is refused for an unbounded source (an Arrow stream
// of unknown length is taken at its word: the user says it ends).
func resolveRuntimeMode(mode string, outs []*lnode) (bool, error) {
	var unbounded, maybe []string
	sourceBoundedness(outs, &unbounded, &maybe)
	switch mode {
	case plan.ModeStreaming:
		return false, nil
	case plan.ModeBatch:
		if len(unbounded) > 0 {
			return false, rberr.New(rberr.Plan, "runtime_mode=\"batch\" needs bounded sources, and %s is unbounded; bound it (max_events / number_of_rows) or use runtime_mode=\"streaming\"", unbounded[0])
		}
		return true, nil
	}
	return len(unbounded) == 0 && len(maybe) == 0, nil
}
