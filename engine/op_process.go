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
type processOp struct {
	ProcessArgs
	keys  []expr.Bound
	main  *arrow.Schema
	sides []*arrow.Schema
	state []process.StateSpec
}

// ProcessArgs are the arguments of "process": the keys (key_by), the host's function (its
// id), and its schemas as Arrow IPC schema messages, base64: the main output, each side
// output, and the state (one field per state descriptor), with per-state TTLs (see
// docs/process-functions.md).
type ProcessArgs struct {
	Keys         []*plan.Expr `json:"keys,omitempty"`
	UDF          int64        `json:"udf,omitempty"`
	OutputSchema string       `json:"output_schema,omitempty"`
	SideSchemas  []string     `json:"side_schemas,omitempty"`
	StateSchema  string       `json:"state_schema,omitempty"`
	StateTTLs    []StateTTL   `json:"state_ttls,omitempty"`
}

// StateTTL is the time to live of one state of a process function (as Flink's
// StateTtlConfig): ttl a duration ("" or "0s": never expires), update "on_create_and_write"
// (default) or "on_read_and_write".
type StateTTL struct {
	TTL    string `json:"ttl,omitempty"`
	Update string `json:"update,omitempty"`
}

func init() {
	registerOp("process", opReg[ProcessArgs]{new: func(a *ProcessArgs) logicalOp { return &processOp{ProcessArgs: *a} }, stateful: true})
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

func (o *processOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if len(o.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: a process function needs keys (key_by)", name)
	}
	if o.keys, err = bindKeys(o.Keys, ln, in, "key_by"); err != nil {
		return err
	}
	if o.UDF == 0 {
		return rberr.New(rberr.Plan, "%s: no function given", name)
	}
	if o.OutputSchema == "" {
		return rberr.New(rberr.Plan, "%s: no output schema given", name)
	}
	if o.main, err = decodeIPCSchema(name, "output_schema", o.OutputSchema); err != nil {
		return err
	}
	for i, s := range o.SideSchemas {
		sch, err := decodeIPCSchema(name, fmt.Sprintf("side_schemas[%d]", i), s)
		if err != nil {
			return err
		}
		o.sides = append(o.sides, sch)
	}
	if o.StateSchema != "" {
		st, err := decodeIPCSchema(name, "state_schema", o.StateSchema)
		if err != nil {
			return err
		}
		if len(o.StateTTLs) != 0 && len(o.StateTTLs) != st.NumFields() {
			return rberr.New(rberr.Plan, "%s: state_ttls has %d entries for %d states", name, len(o.StateTTLs), st.NumFields())
		}
		seen := map[string]bool{}
		for i, f := range st.Fields() {
			if seen[f.Name] {
				return rberr.New(rberr.Plan, "%s: the state %q is declared twice", name, f.Name)
			}
			seen[f.Name] = true
			spec := process.StateSpec{Name: f.Name, Type: f.Type}
			if len(o.StateTTLs) > 0 {
				t := o.StateTTLs[i]
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
			o.state = append(o.state, spec)
		}
	}
	ln.schema = process.OutSchema(o.main, o.sides)
	ln.timeCol = ""
	return nil
}

func (o *processOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil) // the function sees every column
}

func (o *processOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	keys, types := keyExprs(o.keys)
	names := make([]string, len(o.keys))
	for i, k := range o.keys {
		names[i] = k.Name
	}
	inSchema := n.inputs[0].schema
	timeIdx := -1
	if tc := n.inputs[0].timeCol; tc != "" {
		timeIdx = inSchema.FieldIndices(tc)[0]
	}
	st := g.NewStage("process", g.Parallel, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: keys})
	st.Chain("process", func(int) runtime.Operator {
		return &process.ProcessOp{Name: n.name, Udf: o.UDF, Keys: keys, KeyTypes: types, KeyNames: names, TimeIdx: timeIdx,
			InSchema: inSchema, Main: o.main, Sides: o.sides, State: o.state, Batch: g.BatchSize}
	})
	return flow{st: st}, nil
}

func (o *processOp) explain(*lnode) string {
	keys := make([]string, len(o.keys))
	for i, k := range o.keys {
		keys[i] = k.String()
	}
	var st []string
	for _, s := range o.state {
		t := s.Name + " " + expr.TypeName(s.Type)
		if s.TTL > 0 {
			t += " ttl " + plan.FormatDuration(s.TTL.Microseconds())
		}
		st = append(st, t)
	}
	detail := fmt.Sprintf("keys [%s], state [%s]", strings.Join(keys, ", "), strings.Join(st, ", "))
	if len(o.sides) > 0 {
		detail += fmt.Sprintf(", %d side outputs", len(o.sides))
	}
	return detail
}
