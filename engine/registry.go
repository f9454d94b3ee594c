package engine

import (
	"sort"

	"github.com/riverbed-engine/riverbed/engine/plan"
)

// logicalOp is one operator of the logical plan, registered once under its "op" name (see
// the op_*.go files, one per operator). Everything the engine knows about an operator is
// in its type; the plan document's fields for it are in plan.Node.
type logicalOp interface {
	// bind validates node n against its inputs (binding them) and fills ln: its inputs,
	// output schema and compiled expressions, with column indexes resolved once.
	bind(b *binder, n *plan.Node, ln *lnode) error
	// require passes down to its inputs the columns it needs, given those needed of its
	// output (nil: all of them), for projection pushdown into the scans.
	require(b *binder, n *plan.Node, ln *lnode, need map[string]bool)
	// build adds its physical form to the graph; filterAbove is the filter directly above
	// it, if any (a scan prunes splits by it).
	build(g *graph, n *lnode, filterAbove *lnode) (flow, error)
	// explain is its detail in the logical plan of explain, in the user's terms.
	explain(n *lnode) string
}

var logicalOps = map[string]logicalOp{}

// registerOp registers a logical operator under its "op" name.
func registerOp(name string, op logicalOp) {
	if _, dup := logicalOps[name]; dup {
		panic("operator registered twice: " + name)
	}
	logicalOps[name] = op
}

// opNames lists the registered operators, for "did you mean" suggestions.
func opNames() []string {
	names := make([]string, 0, len(logicalOps))
	for name := range logicalOps {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
