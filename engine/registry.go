package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// logicalOp is the logical operator of one plan node, made by its registration (see the
// op_*.go files, one per operator) from the node's arguments, and filled by binding with
// what it resolved: compiled expressions, column indexes, its physical settings.
// Everything the engine knows about an operator is in its type: these four methods, and
// those of the optional interfaces it implements where it differs from the default:
//
//	updatingInput        takes an updating input (default: refuses one; changelog.go)
//	rowEstimator         estimates its rows (default: unknown; estimate.go)
//	boundedSource        a source that may not end (mode.go)
//	sourceFingerprinter  a source: what it reads, for checkpoints (checkpoint.go)
//	checkpointChecker    may refuse checkpoints (checkpoint.go)
//	fileScan, fileSink   reads or writes files, for progress and commits (job.go)
type logicalOp interface {
	// bind validates node n against its inputs (binding them) and fills itself and ln: its
	// inputs, output schema and compiled expressions, with column indexes resolved once.
	bind(b *binder, n *plan.Node, ln *lnode) error
	// require passes down to its inputs the columns it needs, given those needed of its
	// output (nil: all of them), for projection pushdown into the scans.
	require(b *binder, n *plan.Node, ln *lnode, need map[string]bool)
	// build adds its physical form to the graph; prune is the predicate of a filter
	// directly above it, if any (a scan may skip splits by it).
	build(g *graph, n *lnode, prune *plan.Expr) (flow, error)
	// explain is its detail in the logical plan of explain, in the user's terms.
	explain(n *lnode) string
}

// opReg is the registration of an operator whose arguments (the fields of its plan node
// other than op, id, uid, ref, input and inputs) are of type A.
type opReg[A any] struct {
	// new makes the operator of one node from its arguments (a fresh one for each binding).
	new func(args *A) logicalOp
	// stateful: its physical operator keeps checkpointed state or effects (checkpoints
	// then name it: a restore checks the plan still has it).
	stateful bool
	// rewrite, if set, rewrites a node before binding (once its arguments are decoded); it
	// may turn the node into another operator, with that operator's arguments.
	rewrite func(n *plan.Node, args *A)
}

// opDef is a registered operator, its argument type erased.
type opDef struct {
	stateful bool
	// args returns the node's arguments in the operator's type: decoded from the raw JSON
	// of a plan document (unknown fields refused), or as a plan built in Go gives them.
	args    func(n *plan.Node, name string) (any, error)
	newOp   func(args any) logicalOp
	rewrite func(n *plan.Node)
}

var logicalOps = map[string]*opDef{}

// registerOp registers a logical operator under its "op" name.
func registerOp[A any](name string, r opReg[A]) {
	if _, dup := logicalOps[name]; dup {
		panic("operator registered twice: " + name)
	}
	def := &opDef{stateful: r.stateful,
		args:  func(n *plan.Node, opName string) (any, error) { return nodeArgs[A](n, opName) },
		newOp: func(args any) logicalOp { return r.new(args.(*A)) }}
	if r.rewrite != nil {
		def.rewrite = func(n *plan.Node) { r.rewrite(n, n.Args.(*A)) }
	}
	logicalOps[name] = def
}

// noArgs are the arguments of an operator that takes none.
type noArgs struct{}

// nodeArgs returns n's arguments as an A (see opDef.args).
func nodeArgs[A any](n *plan.Node, name string) (*A, error) {
	switch a := n.Args.(type) {
	case nil:
		return new(A), nil
	case *A:
		return a, nil
	case A:
		return &a, nil
	case json.RawMessage:
		args := new(A)
		dec := json.NewDecoder(bytes.NewReader(a))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(args); err != nil {
			return nil, argsError(err, name, args)
		}
		return args, nil
	}
	return nil, rberr.New(rberr.Internal, "%s: arguments of type %T, not %T", name, n.Args, (*A)(nil))
}

// argsError describes a node's arguments that do not decode, naming the operator and the
// field: an unknown field (with the closest one it takes), or a value of the wrong type.
func argsError(err error, name string, args any) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return rberr.New(rberr.Plan, "%s: %q must be %s, got %s", name, te.Field, jsonTypeName(te.Type), te.Value)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		msg := fmt.Sprintf("%s: unknown field %s", name, field)
		if args != nil {
			if s := plan.Suggest(strings.Trim(field, `"`), jsonFields(reflect.TypeOf(args))); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
		}
		return rberr.New(rberr.Plan, "%s", msg)
	}
	return rberr.Wrap(rberr.Plan, err, "%s: malformed arguments", name)
}

// jsonTypeName names a Go type as the JSON value it decodes from.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// jsonFields lists the JSON field names of a struct type (embedded structs included).
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case f.Anonymous && tag == "":
			names = append(names, jsonFields(f.Type)...)
		case tag != "":
			names = append(names, tag)
		case f.IsExported():
			names = append(names, f.Name)
		}
	}
	return names
}

// opNames lists the registered operators, for "did you mean" suggestions.
func opNames() []string {
	names := make([]string, 0, len(logicalOps))
	for name := range logicalOps {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
