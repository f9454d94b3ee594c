package engine

import (
	"fmt"
	"strings"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
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
		parts[i] = fmt.Sprintf("%s = %s(%s)", a.Name, a.Fn, arg)
	}
	return strings.Join(parts, ", ")
}

// windowText renders a window definition: "tumbling window of 10s on \"ts\"",
// "sliding window of 10s every 2s ...", "session window with gap 5s ...", "cumulate window
// of 1h in steps of 10m ...", with its offset and its time (event time of a column, or
// processing time).
func windowText(n *lnode) string {
	d := n.winDef
	dur := func(s string) string {
		us, err := plan.ParseDuration(s)
		if err != nil {
			return s
		}
		return plan.FormatDuration(us)
	}
	var text string
	switch d.Kind {
	case "sliding":
		text = fmt.Sprintf("sliding window of %s every %s", dur(d.Size), dur(d.Slide))
	case "session":
		text = fmt.Sprintf("session window with gap %s", dur(d.Gap))
	case "cumulate":
		text = fmt.Sprintf("cumulate window of %s in steps of %s", dur(d.Size), dur(d.Step))
	default:
		text = fmt.Sprintf("%s window of %s", d.Kind, dur(d.Size))
	}
	if d.Offset != "" {
		text += ", offset " + dur(d.Offset)
	}
	if n.processing {
		return text + " in processing time"
	}
	return fmt.Sprintf("%s on %q", text, n.winTime)
}
