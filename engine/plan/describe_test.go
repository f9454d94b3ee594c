package plan

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
)

// A Describer gives every node of a tree the text Describe gives it, whichever node it
// renders first, and a node shared by two parents the same text in both.
func TestDescriberRendersAsDescribe(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	col := func(name string) *Expr { return &Expr{Col: &name} }
	var nodes []*Expr
	var gen func(depth int) *Expr
	gen = func(depth int) *Expr {
		var e *Expr
		switch k := r.Intn(7); {
		case depth == 0 || k == 0:
			e = col(fmt.Sprint("c", r.Intn(3)))
		case k == 1:
			e = &Expr{Lit: json.RawMessage(fmt.Sprint(r.Intn(100))), Type: "int64"}
		case k == 2:
			e = &Expr{Fn: "add", Args: []*Expr{gen(depth - 1), gen(depth - 1)}}
		case k == 3:
			e = &Expr{Fn: "str_replace", Args: []*Expr{gen(depth - 1)}, Options: map[string]any{"pattern": "a", "n": -1}}
		case k == 4:
			e = &Expr{Cast: "float64", Args: []*Expr{gen(depth - 1)}}
		case k == 5:
			a := "x"
			e = &Expr{Alias: &a, Args: []*Expr{gen(depth - 1)}}
		default:
			e = &Expr{Fn: "over", Args: []*Expr{gen(depth - 1), gen(depth - 1)}, Options: map[string]any{"partition_by": 1}}
		}
		nodes = append(nodes, e)
		return e
	}
	for range 50 {
		nodes = nodes[:0]
		root := gen(6)
		if len(nodes) > 2 { // a shared subtree
			root = &Expr{Fn: "mul", Args: []*Expr{root, nodes[len(nodes)/2]}}
			nodes = append(nodes, root)
		}
		d := &Describer{}
		for _, i := range r.Perm(len(nodes)) {
			if got, want := d.Describe(nodes[i]), nodes[i].Describe(); got != want {
				t.Fatalf("Describer: %s, Describe: %s", got, want)
			}
		}
	}
}
