package engine

import (
	"fmt"
	"strings"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
)

// explainOutputs renders a bound plan as indented trees, one per output, with each
// operator's output columns. A shared node is shown in full where it first appears, marked
// "[shared #k]", and elsewhere as "see shared #k".
func explainOutputs(outs []*lnode) string {
	uses := map[*lnode]int{}
	for _, n := range walkNodes(outs) {
		for _, in := range n.inputs {
			uses[in]++
		}
	}
	for _, o := range outs {
		uses[o]++
	}
	e := &explainer{uses: uses, shown: map[*lnode]int{}}
	if len(outs) == 1 {
		e.node(outs[0], "  ")
		return e.b.String()
	}
	for i, o := range outs {
		fmt.Fprintf(&e.b, "  output %d:\n", i)
		e.node(o, "    ")
	}
	return e.b.String()
}

type explainer struct {
	b     strings.Builder
	uses  map[*lnode]int
	shown map[*lnode]int // shared nodes already shown, by number
}

func (e *explainer) node(n *lnode, indent string) {
	if k, ok := e.shown[n]; ok {
		fmt.Fprintf(&e.b, "%s%s: see shared #%d\n", indent, n.name, k)
		return
	}
	var detail string
	if n.impl != nil {
		detail = n.impl.explain(n)
	}
	mark := ""
	if e.uses[n] > 1 {
		k := len(e.shown) + 1
		e.shown[n] = k
		mark = fmt.Sprintf(" [shared #%d]", k)
	}
	fmt.Fprintf(&e.b, "%s%s: %s -> %s%s\n", indent, n.name, detail, expr.DescribeSchema(n.schema), mark)
	for _, in := range n.inputs {
		e.node(in, indent+"  ")
	}
}

func fieldNames(n *lnode) string {
	names := make([]string, n.schema.NumFields())
	for i, f := range n.schema.Fields() {
		names[i] = f.Name
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// aggsText renders aggregations as the user wrote them: "n = count(*)",
// "max_price = max(price)".
func aggsText(aggs []agg.Spec) string {
	return aggsTextNamed(aggs, true)
}

// aggStateText renders aggregations as their states depend on them: functions and
// arguments, not output names (a checkpoint's state restores into a renamed output).
func aggStateText(aggs []agg.Spec) string {
	return "aggs [" + aggsTextNamed(aggs, false) + "]"
}

func aggsTextNamed(aggs []agg.Spec, named bool) string {
	parts := make([]string, len(aggs))
	for i, a := range aggs {
		arg := "*"
		if c, ok := a.Arg.(*expr.ColExpr); ok {
			arg = c.Name
		} else if a.Arg != nil {
			arg = a.Arg.String()
		}
		if o := a.OptionText(); o != "" {
			arg += ", " + o
		}
		parts[i] = fmt.Sprintf("%s(%s)", a.Fn, arg)
		if named {
			parts[i] = a.Name + " = " + parts[i]
		}
	}
	return strings.Join(parts, ", ")
}
