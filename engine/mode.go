package engine

import (
	"fmt"

	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// sourceBoundedness lists the sources of a plan that are unbounded (generators without a
// count) and those that may be (Arrow streams that are not finite tables).
func sourceBoundedness(n *lnode, unbounded, maybe *[]string) {
	switch n.op {
	case "datagen", "nexmark":
		if n.count < 0 {
			what := "datagen without number_of_rows"
			if n.op == "nexmark" {
				what = "nexmark without max_events"
			}
			*unbounded = append(*unbounded, fmt.Sprintf("%s (%s)", n.name, what))
		}
	case "scan_arrow":
		if !n.bounded {
			*maybe = append(*maybe, fmt.Sprintf("%s (an Arrow stream, which may be live)", n.name))
		}
	}
	for _, in := range n.inputs {
		sourceBoundedness(in, unbounded, maybe)
	}
}

// resolveRuntimeMode decides whether a bound plan runs in batch mode. "automatic" is batch
// when every source is bounded; "batch" is refused for an unbounded source (an Arrow stream
// of unknown length is taken at its word: the user says it ends).
func resolveRuntimeMode(mode string, root *lnode) (bool, error) {
	var unbounded, maybe []string
	sourceBoundedness(root, &unbounded, &maybe)
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
