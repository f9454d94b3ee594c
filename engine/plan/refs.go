package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// resolveRefs replaces every {"ref": id} node by the node carrying that id, so that a
// shared node is one *Node, and checks the result is a DAG: ids unique, references known,
// no cycles.
func resolveRefs(p *Plan) error {
	ids := map[string]*Node{}
	var collect func(n *Node) error
	collect = func(n *Node) error {
		if n == nil {
			return nil
		}
		if n.Ref != "" {
			if n.Op != "" || n.ID != "" || n.UID != "" || n.Input != nil || len(n.Inputs) > 0 || n.Args != nil {
				return rberr.New(rberr.Plan, "a reference {\"ref\": %q} takes no other fields (found an operator, id, input or arguments next to it)", n.Ref)
			}
			return nil
		}
		if n.ID != "" {
			if _, dup := ids[n.ID]; dup {
				return rberr.New(rberr.Plan, "two operators have the id %q; ids must be unique in a plan", n.ID)
			}
			ids[n.ID] = n
		}
		if err := collect(n.Input); err != nil {
			return err
		}
		for _, in := range n.Inputs {
			if err := collect(in); err != nil {
				return err
			}
		}
		return nil
	}
	for _, out := range p.Outputs {
		if err := collect(out); err != nil {
			return err
		}
	}
	target := func(n *Node) (*Node, error) {
		if n == nil || n.Ref == "" {
			return n, nil
		}
		t, ok := ids[n.Ref]
		if !ok {
			known := make([]string, 0, len(ids))
			for id := range ids {
				known = append(known, id)
			}
			sort.Strings(known)
			msg := fmt.Sprintf("reference to unknown id %q", n.Ref)
			if s := Suggest(n.Ref, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if len(known) == 0 {
				msg += " (no operator in the plan has an id)"
			}
			return nil, rberr.New(rberr.Plan, "%s", msg)
		}
		return t, nil
	}
	// Replace references in place; every node of the original tree is visited once.
	var replace func(n *Node) error
	replace = func(n *Node) error {
		if n == nil || n.Ref != "" {
			return nil
		}
		var err error
		if n.Input != nil {
			in := n.Input
			if n.Input, err = target(in); err != nil {
				return err
			}
			if err := replace(in); err != nil {
				return err
			}
		}
		for i, in := range n.Inputs {
			if n.Inputs[i], err = target(in); err != nil {
				return err
			}
			if err := replace(in); err != nil {
				return err
			}
		}
		return nil
	}
	for i, out := range p.Outputs {
		if err := replace(out); err != nil {
			return err
		}
		t, err := target(out)
		if err != nil {
			return err
		}
		p.Outputs[i] = t
	}
	return checkAcyclic(p.Outputs)
}

// checkAcyclic reports a cycle through references as a plan error naming its operators.
func checkAcyclic(outputs []*Node) error {
	const (
		visiting = 1
		done     = 2
	)
	state := map[*Node]int{}
	var path []*Node
	var visit func(n *Node) error
	visit = func(n *Node) error {
		if n == nil || state[n] == done {
			return nil
		}
		if state[n] == visiting {
			var names []string
			start := 0
			for i, p := range path {
				if p == n {
					start = i
				}
			}
			for _, p := range path[start:] {
				names = append(names, nodeName(p))
			}
			names = append(names, nodeName(n))
			return rberr.New(rberr.Plan, "plan has a cycle: %s; an operator cannot (indirectly) read its own output", strings.Join(names, " -> "))
		}
		state[n] = visiting
		path = append(path, n)
		if err := visit(n.Input); err != nil {
			return err
		}
		for _, in := range n.Inputs {
			if err := visit(in); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, out := range outputs {
		if err := visit(out); err != nil {
			return err
		}
	}
	return nil
}

func nodeName(n *Node) string {
	if n.ID != "" {
		return fmt.Sprintf("%s %q", n.Op, n.ID)
	}
	return n.Op
}
