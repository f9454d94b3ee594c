package engine

import (
	"fmt"
	"strings"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// explainLogical renders a bound plan as an indented tree, with each operator's output
// columns.
func explainLogical(n *lnode, indent string) string {
	var b strings.Builder
	var detail string
	if op, ok := logicalOps[n.op]; ok {
		detail = op.explain(n)
	}
	fmt.Fprintf(&b, "%s%s: %s -> %s\n", indent, n.name, detail, expr.DescribeSchema(n.schema))
	for _, in := range n.inputs {
		b.WriteString(explainLogical(in, indent+"  "))
	}
	return b.String()
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
