package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/process"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// processOp is the logical operator "process": a keyed process function (Flink's
// KeyedProcessFunction) run by the host. Its binding and validation, the input columns
// it needs, its physical form and its explain text.
type processOp struct{}

func init() { registerLegacyOp("process", processOp{}, true) }

// procDef is what a bound process node keeps.
type procDef struct {
	main  *arrow.Schema
	sides []*arrow.Schema
	state []process.StateSpec
}

// decodeIPCSchema reads a base64 Arrow IPC schema message.
func decodeIPCSchema(name, what, b64 string) (*arrow.Schema, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, rberr.New(rberr.Plan, "%s: %s is not base64: %v", name, what, err)
	}
	r, err := ipc.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, rberr.New(rberr.Plan, "%s: %s is not an Arrow IPC schema: %v", name, what, err)
	}
	defer r.Release()
	return r.Schema(), nil
}

func (processOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if len(n.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: a process function needs keys (key_by)", name)
	}
	keys, err := bindKeys(n.Keys, ln, in, "key_by")
	if err != nil {
		return err
	}
	ln.keys = keys
	if n.UDF == 0 {
		return rberr.New(rberr.Plan, "%s: no function given", name)
	}
	ln.udf = n.UDF
	d := &procDef{}
	if n.OutputSchema == "" {
		return rberr.New(rberr.Plan, "%s: no output schema given", name)
	}
	if d.main, err = decodeIPCSchema(name, "output_schema", n.OutputSchema); err != nil {
		return err
	}
	for i, s := range n.SideSchemas {
		sch, err := decodeIPCSchema(name, fmt.Sprintf("side_schemas[%d]", i), s)
		if err != nil {
			return err
		}
		d.sides = append(d.sides, sch)
	}
	if n.StateSchema != "" {
		st, err := decodeIPCSchema(name, "state_schema", n.StateSchema)
		if err != nil {
			return err
		}
		if len(n.StateTTLs) != 0 && len(n.StateTTLs) != st.NumFields() {
			return rberr.New(rberr.Plan, "%s: state_ttls has %d entries for %d states", name, len(n.StateTTLs), st.NumFields())
		}
		seen := map[string]bool{}
		for i, f := range st.Fields() {
			if seen[f.Name] {
				return rberr.New(rberr.Plan, "%s: the state %q is declared twice", name, f.Name)
			}
			seen[f.Name] = true
			spec := process.StateSpec{Name: f.Name, Type: f.Type}
			if len(n.StateTTLs) > 0 {
				t := n.StateTTLs[i]
				if t.TTL != "" {
					ttl, err := plan.ParseDuration(t.TTL)
					if err != nil || ttl < 0 {
						return rberr.New(rberr.Plan, "%s: the TTL of state %q: %v", name, f.Name, runtime.ErrOrNegative(err))
					}
					spec.TTL = time.Duration(ttl) * time.Microsecond
				}
				switch t.Update {
				case "", "on_create_and_write":
				case "on_read_and_write":
					spec.UpdateOnRead = true
				default:
					return rberr.New(rberr.Plan, "%s: the TTL update of state %q must be \"on_create_and_write\" or \"on_read_and_write\", got %q", name, f.Name, t.Update)
				}
			}
			d.state = append(d.state, spec)
		}
	}
	ln.proc = d
	ln.schema = process.OutSchema(d.main, d.sides)
	ln.timeCol = ""
	return nil
}

func (processOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil) // the function sees every column
}

func (processOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	keys, types := keyExprs(n.keys)
	names := make([]string, len(n.keys))
	for i, k := range n.keys {
		names[i] = k.Name
	}
	inSchema := n.inputs[0].schema
	timeIdx := -1
	if tc := n.inputs[0].timeCol; tc != "" {
		timeIdx = inSchema.FieldIndices(tc)[0]
	}
	d := n.proc
	st := g.NewStage("process", g.Parallel, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: keys})
	st.Chain("process", func(int) runtime.Operator {
		return &process.ProcessOp{Name: n.name, Udf: n.udf, Keys: keys, KeyTypes: types, KeyNames: names, TimeIdx: timeIdx,
			InSchema: inSchema, Main: d.main, Sides: d.sides, State: d.state, Batch: g.BatchSize}
	})
	return flow{st: st}, nil
}

func (processOp) explain(n *lnode) string {
	keys := make([]string, len(n.keys))
	for i, k := range n.keys {
		keys[i] = k.String()
	}
	var st []string
	for _, s := range n.proc.state {
		t := s.Name + " " + expr.TypeName(s.Type)
		if s.TTL > 0 {
			t += " ttl " + plan.FormatDuration(s.TTL.Microseconds())
		}
		st = append(st, t)
	}
	detail := fmt.Sprintf("keys [%s], state [%s]", strings.Join(keys, ", "), strings.Join(st, ", "))
	if len(n.proc.sides) > 0 {
		detail += fmt.Sprintf(", %d side outputs", len(n.proc.sides))
	}
	return detail
}
