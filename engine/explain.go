package engine

import (
	"fmt"
	"strings"

	"github.com/riverbed-engine/riverbed/engine/expr"
)

// explainLogical renders a bound plan as an indented tree, with each operator's output
// columns.
func explainLogical(n *lnode, indent string) string {
	var b strings.Builder
	var detail string
	switch n.op {
	case "scan_parquet":
		detail = fmt.Sprintf("%d files, %d row groups, columns %s", len(n.dataset.Files), len(n.dataset.Splits), fieldNames(n))
		if n.wm != nil {
			detail += fmt.Sprintf(", event time %q (watermark %dus behind)", n.wm.Column, n.wm.Bound)
		}
	case "scan_arrow":
		detail = fmt.Sprintf("input %d", n.source)
	case "filter":
		detail = n.pred.String()
	case "select", "with_columns":
		parts := make([]string, len(n.exprs))
		for i, e := range n.exprs {
			if c, ok := e.Expr.(*expr.ColExpr); ok && c.Name == e.Name {
				parts[i] = e.Name
			} else {
				parts[i] = fmt.Sprintf("%s = %s", e.Name, e.Expr)
			}
		}
		detail = strings.Join(parts, ", ")
	case "aggregate":
		keys := make([]string, len(n.keys))
		for i, k := range n.keys {
			keys[i] = k.String()
		}
		aggs := make([]string, len(n.aggs))
		for i, a := range n.aggs {
			arg := ""
			if a.Arg != nil {
				arg = a.Arg.String()
			}
			aggs[i] = fmt.Sprintf("%s = %s(%s)", a.Name, a.Fn, arg)
		}
		detail = fmt.Sprintf("keys [%s], aggs [%s]", strings.Join(keys, ", "), strings.Join(aggs, ", "))
	case "limit":
		detail = fmt.Sprint(n.limit)
	case "window_agg":
		keys := make([]string, len(n.keys))
		for i, k := range n.keys {
			keys[i] = k.String()
		}
		aggs := make([]string, len(n.aggs))
		for i, a := range n.aggs {
			aggs[i] = a.Name + " = " + a.Fn
		}
		detail = fmt.Sprintf("%s window %+v on %q, keys [%s], aggs [%s], allowed lateness %dus",
			n.winDef.Kind, *n.winDef, n.winTime, strings.Join(keys, ", "), strings.Join(aggs, ", "), n.lateness)
		if n.lateOutput {
			detail += ", emitting late rows"
		}
	case "join":
		detail = n.join.How + " join"
	case "datagen", "nexmark":
		bound := "unbounded"
		if n.count >= 0 {
			bound = fmt.Sprintf("%d rows", n.count)
		}
		detail = fmt.Sprintf("%s, rate %v/s", bound, n.rate)
	case "dedup":
		detail = fmt.Sprintf("within %dus", n.within)
	case "topn":
		detail = fmt.Sprintf("top %d by %s", n.limit, n.orderBy)
		if n.withTies {
			detail += " with ties"
		}
	case "write_parquet":
		detail = n.path
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
