package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// PlanVersion is the version of the plan document this engine reads.
const PlanVersion = 1

// Plan is the logical plan as it crosses the C ABI: one JSON document.
//
//	{"version": 1, "root": <node>, "options": {"parallelism": 2, "batch_size": 65536, "runtime_mode": "automatic"}}
//
// A plan is a DAG: a node may carry an "id" and be used again elsewhere as {"ref": "<id>"}
// (it is then bound and run once, its output fanned out to every consumer), and a document
// may give several results as "outputs": [<node>, ...] in place of "root". ParsePlan
// resolves references, so that a shared node is the same *Node wherever it is used, and
// fills Outputs (with Root alone when the document gives "root").
type Plan struct {
	Version int     `json:"version"`
	Root    *Node   `json:"root,omitempty"`
	Outputs []*Node `json:"outputs,omitempty"`
	Options Options `json:"options"`
}

// Options tune how a plan runs. None of them changes its result, except RuntimeMode, which
// says whether event-time operators see all of a bounded input before they decide (batch)
// or judge rows against watermarks as they come (streaming).
type Options struct {
	// Parallelism is the number of parallel subtasks per operator; 0 means the number of cores.
	Parallelism int `json:"parallelism,omitempty"`
	// BatchSize is the largest number of rows a source puts in one batch; 0 means 65536.
	BatchSize int `json:"batch_size,omitempty"`
	// MaxParallelism is the number of key groups; 0 means 128.
	MaxParallelism int `json:"max_parallelism,omitempty"`
	// BufferBytes bounds the bytes of batches queued between a job's operators and in its
	// unread results (each queue still takes one batch when it is empty); 0 means 64 MiB.
	BufferBytes int64 `json:"buffer_bytes,omitempty"`
	// RuntimeMode is "automatic" (the default: batch if every source is bounded, else
	// streaming), "batch" or "streaming", as Flink's execution.runtime-mode.
	RuntimeMode string `json:"runtime_mode,omitempty"`

	// Fault tolerance (docs/fault-tolerance.md).
	// CheckpointDir turns periodic checkpoints on: they are written into it.
	CheckpointDir string `json:"checkpoint_dir,omitempty"`
	// CheckpointInterval is a duration ("10s"); empty means 10s when CheckpointDir is set.
	CheckpointInterval string `json:"checkpoint_interval,omitempty"`
	// CheckpointTimeout is how long a checkpoint may take before it is aborted (a
	// duration); empty means runtime.DefaultCheckpointTimeout (10 minutes, as Flink).
	CheckpointTimeout string `json:"checkpoint_timeout,omitempty"`
	// CheckpointsRetained is how many completed checkpoints are kept; 0 means 3.
	CheckpointsRetained int `json:"checkpoints_retained,omitempty"`
	// StateBackend is "memory" (the default) or "pebble"; StateMemoryLimit caps Pebble's
	// memory per operator subtask (bytes; 0 means 64 MiB).
	StateBackend     string `json:"state_backend,omitempty"`
	StateMemoryLimit int64  `json:"state_memory_limit,omitempty"`
	// Restore is "latest" (the newest complete checkpoint in CheckpointDir; none: start
	// afresh) or the path of a checkpoint or savepoint to start from.
	Restore string `json:"restore,omitempty"`
	// AllowNonRestoredState lets a restore drop state of operators the plan no longer
	// has; AllowPlanChange lets it restore a checkpoint of a plan with other sources.
	AllowNonRestoredState bool `json:"allow_non_restored_state,omitempty"`
	AllowPlanChange       bool `json:"allow_plan_change,omitempty"`
	// Savepoints says that the job may be asked for savepoints (the host holds its
	// handle): the planner then does not choose broadcast joins on its own.
	Savepoints bool `json:"savepoints,omitempty"`
}

// Node is one operator of the logical plan: the fields every node has, and the operator's
// own arguments. In the document they are one JSON object (node.go):
//
//	{"op": "filter", "id": "big", "input": {...}, "predicate": {...}}
//
// Each operator's arguments are its own type, with its registration in the engine
// (engine/op_<name>.go: FilterArgs, JoinArgs, ScanParquetArgs, ...), which decodes them
// and refuses fields the operator does not take. Shared parts of arguments live here:
// expressions (Expr), windows (WindowDef), datagen fields (FieldDef), a source's event
// time (EventTimeDef), Kafka (KafkaDef) and text file (TextDef) settings.
type Node struct {
	Op     string  // the operator ("op"): its registered name
	ID     string  // "id": names the node in messages; a target of refs
	UID    string  // "uid": stable operator id in checkpoints (default: kind and position)
	Ref    string  // "ref": this node is the node with that id (resolved by ParsePlan)
	Input  *Node   // "input" of an operator with one input
	Inputs []*Node // "inputs" of an operator with several (union, join)
	// Args are the operator's arguments (the node's other fields): raw JSON
	// (json.RawMessage) as parsed, and the operator's argument type once the engine has
	// decoded them, or as a plan built in Go gives them.
	Args any
}

// EventTimeDef is the event time of a source, part of every source's arguments (its
// fields are the source node's own): the column that carries it, how far rows may come
// out of order (a duration: the watermark trails the largest event time seen by it), and
// how long a split may go without rows before it is idle (a duration; absent: never).
type EventTimeDef struct {
	EventTime         string `json:"event_time,omitempty"`
	MaxOutOfOrderness string `json:"max_out_of_orderness,omitempty"`
	IdleTimeout       string `json:"idle_timeout,omitempty"`
}

// WindowDef describes the windows of a window_agg: kind "tumbling" (size), "sliding"
// (size, slide), "session" (gap) or "cumulate" (step, size = max size); time "event"
// (default) or "processing"; on names the event-time column (default: the source's).
type WindowDef struct {
	Kind   string `json:"kind"`
	Size   string `json:"size,omitempty"`
	Slide  string `json:"slide,omitempty"`
	Gap    string `json:"gap,omitempty"`
	Step   string `json:"step,omitempty"`
	Offset string `json:"offset,omitempty"`
	Time   string `json:"time,omitempty"`
	On     string `json:"on,omitempty"`
}

// FieldDef is one column of a datagen source.
type FieldDef struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Kind   string  `json:"kind,omitempty"`
	Min    float64 `json:"min,omitempty"`
	Max    float64 `json:"max,omitempty"`
	Length int     `json:"length,omitempty"`
	Nulls  float64 `json:"nulls,omitempty"`
}

// Expr is one expression node. Exactly one of Col, Lit (with Type), Fn, Agg, Alias or
// Cast is set:
//
//	{"col": "amount"}
//	{"lit": 5, "type": "int64"}          a null literal is {"lit": null, "type": "float64"}
//	{"fn": "add", "args": [e1, e2]}       options such as {"pattern": "x"} go in "options"
//	{"agg": "sum", "args": [e]}           count() has no args
//	{"alias": "name", "args": [e]}
//	{"cast": "int64", "args": [e]}
type Expr struct {
	Col     *string         `json:"col,omitempty"`
	Lit     json.RawMessage `json:"lit,omitempty"`
	Type    string          `json:"type,omitempty"`
	Fn      string          `json:"fn,omitempty"`
	Agg     string          `json:"agg,omitempty"`
	Alias   *string         `json:"alias,omitempty"`
	Cast    string          `json:"cast,omitempty"`
	Args    []*Expr         `json:"args,omitempty"`
	Options map[string]any  `json:"options,omitempty"`
}

// ParsePlan decodes and checks the envelope of a plan document. Operator-level checks
// happen in Bind.
func ParsePlan(doc []byte) (*Plan, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		if strings.Contains(err.Error(), "exceeded max depth") {
			// encoding/json's nesting limit (10,000): two levels per operation of a chain
			return nil, rberr.New(rberr.Plan, "the plan is nested more than 10,000 levels deep (an expression of about 5,000 operations in a chain, or as many operators): fold a long sum as a balanced tree ((a + b) + (c + d)), or split the pipeline")
		}
		return nil, rberr.Wrap(rberr.Plan, err, "malformed plan document")
	}
	if p.Version != PlanVersion {
		return nil, rberr.New(rberr.Plan, "plan version %d is not supported by this engine (it reads version %d); upgrade riverbed so the Python package and the engine match", p.Version, PlanVersion)
	}
	switch {
	case p.Root != nil && len(p.Outputs) > 0:
		return nil, rberr.New(rberr.Plan, "plan gives both \"root\" and \"outputs\"; give one of them")
	case p.Root != nil:
		p.Outputs = []*Node{p.Root}
	case len(p.Outputs) == 0:
		return nil, rberr.New(rberr.Plan, "plan has no root operator (give \"root\" or \"outputs\")")
	}
	if err := resolveRefs(&p); err != nil {
		return nil, err
	}
	p.Root = p.Outputs[0]
	if p.Options.Parallelism < 0 || p.Options.Parallelism > 1024 {
		return nil, rberr.New(rberr.Plan, "parallelism must be between 1 and 1024, got %d", p.Options.Parallelism)
	}
	if p.Options.BufferBytes < 0 {
		return nil, rberr.New(rberr.Plan, "buffer_bytes must be positive, got %d", p.Options.BufferBytes)
	}
	if p.Options.BatchSize < 0 {
		return nil, rberr.New(rberr.Plan, "batch_size must be positive, got %d", p.Options.BatchSize)
	}
	if p.Options.MaxParallelism < 0 || p.Options.MaxParallelism > 32768 {
		return nil, rberr.New(rberr.Plan, "max_parallelism must be between 1 and 32768, got %d", p.Options.MaxParallelism)
	}
	if err := checkRuntimeMode(p.Options.RuntimeMode); err != nil {
		return nil, err
	}
	return &p, nil
}

// Describe renders an expression the way a user wrote it, for error messages and explain.
func (e *Expr) Describe() string { return (*Describer)(nil).Describe(e) }

// Describer renders expressions as Describe does, remembering each node's text: a caller
// that describes every node of a tree (the compiler names each call it makes) renders
// each node once, where Describe renders the whole subtree again at every level (a sum
// folded over thousands of columns is that deep). A nil Describer remembers nothing.
type Describer struct{ memo map[*Expr]string }

// Describe is e.Describe(), from the texts d remembers.
func (d *Describer) Describe(e *Expr) string {
	if e == nil {
		return "<nil>"
	}
	if d == nil {
		return d.describe(e)
	}
	if t, ok := d.memo[e]; ok {
		return t
	}
	if d.memo == nil {
		d.memo = map[*Expr]string{}
	}
	t := d.describe(e)
	d.memo[e] = t
	return t
}

func (d *Describer) describe(e *Expr) string {
	switch {
	case e.Col != nil:
		return fmt.Sprintf("col(%q)", *e.Col)
	case e.Lit != nil:
		var text string
		if strings.HasPrefix(e.Type, "decimal") && json.Unmarshal(e.Lit, &text) == nil {
			return fmt.Sprintf("lit(Decimal(%q))", text) // as written, not as its JSON string
		}
		return fmt.Sprintf("lit(%s)", string(e.Lit))
	case e.Alias != nil:
		return fmt.Sprintf("%s.alias(%q)", d.argOrNil(e.Args, 0), *e.Alias)
	case e.Cast != "":
		return fmt.Sprintf("%s.cast(%s)", d.argOrNil(e.Args, 0), e.Cast)
	case e.Agg != "":
		if len(e.Args) == 0 {
			return e.Agg + "()"
		}
		return fmt.Sprintf("%s.%s()", d.argOrNil(e.Args, 0), e.Agg)
	case e.Fn != "":
		if sym, ok := infix[e.Fn]; ok && len(e.Args) == 2 {
			return fmt.Sprintf("(%s %s %s)", d.Describe(e.Args[0]), sym, d.Describe(e.Args[1]))
		}
		if e.Fn == "over" {
			return d.describeOver(e)
		}
		var b bytes.Buffer
		b.WriteString(e.Fn + "(")
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Describe(a))
		}
		keys := make([]string, 0, len(e.Options))
		for k := range e.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, ", %s=%v", k, e.Options[k])
		}
		b.WriteString(")")
		return b.String()
	}
	return "<empty expression>"
}

// describeOver writes over(...) as the Python API does: its expression, then
// .over(partition keys, order_by=[...], other options). Its arguments are the expression,
// the partition keys (as many as the partition_by option says) and the order keys.
func (d *Describer) describeOver(e *Expr) string {
	var b bytes.Buffer
	b.WriteString(d.argOrNil(e.Args, 0) + ".over(")
	np, _ := e.Options["partition_by"].(float64)
	if n, ok := e.Options["partition_by"].(json.Number); ok {
		f, _ := n.Float64()
		np = f
	}
	if v, ok := e.Options["partition_by"].(int); ok {
		np = float64(v)
	}
	var parts, order []string
	for i, a := range e.Args[min(1, len(e.Args)):] {
		if float64(i) < np {
			parts = append(parts, d.Describe(a))
		} else {
			order = append(order, d.Describe(a))
		}
	}
	b.WriteString(strings.Join(parts, ", "))
	sep := func() {
		if b.Bytes()[b.Len()-1] != '(' {
			b.WriteString(", ")
		}
	}
	if len(order) > 0 {
		sep()
		fmt.Fprintf(&b, "order_by=[%s]", strings.Join(order, ", "))
	}
	keys := make([]string, 0, len(e.Options))
	for k := range e.Options {
		if k != "partition_by" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		sep()
		fmt.Fprintf(&b, "%s=%v", k, e.Options[k])
	}
	b.WriteString(")")
	return b.String()
}

func (d *Describer) argOrNil(args []*Expr, i int) string {
	if i < len(args) {
		return d.Describe(args[i])
	}
	return "<missing>"
}

var infix = map[string]string{
	"add": "+", "sub": "-", "mul": "*", "div": "/", "eq": "==", "ne": "!=", "lt": "<",
	"le": "<=", "gt": ">", "ge": ">=", "and": "&", "or": "|",
}

// Runtime modes, as Flink's execution.runtime-mode.
//
// In batch mode event-time operators see all of a bounded input before they decide: sources
// stamp no split watermarks on their batches and send a watermark only where it provably
// never passes a row still to come (a Parquet row group's minimum event time from its
// statistics, a generator's next row), so no row is ever late and results do not depend on
// batch size, file split or parallelism. In streaming mode sources generate watermarks as
// they read (max event time seen minus max_out_of_orderness), and rows behind them are late.
const (
	ModeAutomatic = "automatic"
	ModeBatch     = "batch"
	ModeStreaming = "streaming"
)

func checkRuntimeMode(m string) error {
	switch m {
	case "", ModeAutomatic, ModeBatch, ModeStreaming:
		return nil
	}
	msg := fmt.Sprintf("runtime_mode must be \"automatic\", \"batch\" or \"streaming\", got %q", m)
	if s := Suggest(m, []string{ModeAutomatic, ModeBatch, ModeStreaming}); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return rberr.New(rberr.Plan, "%s", msg)
}
