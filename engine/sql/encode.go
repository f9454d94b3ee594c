package sql

import (
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// Encode copies a plan tree for its JSON document: a node reached more than once is
// written once with an "id" and referred to elsewhere as {"ref": id}; nodes in leaves are
// written as {"ref": leaves[node]} (the caller substitutes its own nodes for them).
func Encode(root *plan.Node, leaves map[*plan.Node]string) *plan.Node {
	uses := map[*plan.Node]int{}
	var count func(n *plan.Node)
	count = func(n *plan.Node) {
		if n == nil {
			return
		}
		uses[n]++
		if uses[n] > 1 {
			return
		}
		if _, ok := leaves[n]; ok {
			return
		}
		count(n.Input)
		for _, in := range n.Inputs {
			count(in)
		}
	}
	count(root)
	ids := map[*plan.Node]string{}
	var walk func(n *plan.Node) *plan.Node
	walk = func(n *plan.Node) *plan.Node {
		if n == nil {
			return nil
		}
		if ref, ok := leaves[n]; ok {
			return &plan.Node{Ref: ref}
		}
		if id, ok := ids[n]; ok {
			return &plan.Node{Ref: id}
		}
		c := *n
		c.ID = ""
		if uses[n] > 1 {
			c.ID = "sql" + itoa(len(ids))
			ids[n] = c.ID
		}
		c.Input = walk(n.Input)
		if n.Inputs != nil {
			c.Inputs = make([]*plan.Node, len(n.Inputs))
			for i, in := range n.Inputs {
				c.Inputs[i] = walk(in)
			}
		}
		return &c
	}
	return walk(root)
}
