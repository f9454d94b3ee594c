package engine

import (
	"context"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/sink"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Explain binds a plan and describes its logical and physical form without running it.
func Explain(doc []byte, inputs []*arrow.Schema) (string, error) {
	p, err := plan.ParsePlan(doc)
	if err != nil {
		return "", err
	}
	root, err := Bind(p, inputs)
	if err != nil {
		return "", err
	}
	readers := make([]array.RecordReader, len(inputs))
	for i, s := range inputs {
		r, err := array.NewRecordReader(s, nil)
		if err != nil {
			return "", rberr.Wrap(rberr.Internal, err, "explain")
		}
		readers[i] = r
	}
	defer func() {
		for _, r := range readers {
			if r != nil {
				r.Release()
			}
		}
	}()
	g := newGraph(p.Options, readers)
	if g.Batch, err = resolveRuntimeMode(p.Options.RuntimeMode, root); err != nil {
		return "", err
	}
	f, err := g.build(root, nil)
	if err != nil {
		return "", err
	}
	if root.op != "write_parquet" {
		out := g.NewStage("collect", 1, runtime.Edge{From: f.st, Part: runtime.PartGather})
		g.addReorder(out, f)
	}
	return "logical plan:\n" + explainLogical(root, "  ") + "\nphysical plan:\n" + g.Explain(), nil
}

// Start validates a plan and starts running it. inputs are the Arrow streams that the
// plan's scan_arrow operators read, by index; Start takes ownership of them (they are
// released when the job ends, or now if Start fails). mem allocates every buffer the job
// produces.
func Start(ctx context.Context, doc []byte, inputs []array.RecordReader, mem memory.Allocator) (_ *runtime.Job, err error) {
	owned := append([]array.RecordReader(nil), inputs...)
	var releaseOnce sync.Once
	releaseInputs := func() {
		releaseOnce.Do(func() {
			for _, r := range owned {
				if r != nil {
					r.Release()
				}
			}
		})
	}
	defer func() {
		if err != nil {
			releaseInputs()
		}
	}()
	p, err := plan.ParsePlan(doc)
	if err != nil {
		return nil, err
	}
	schemas := make([]*arrow.Schema, len(inputs))
	for i, r := range inputs {
		schemas[i] = r.Schema()
	}
	root, err := Bind(p, schemas)
	if err != nil {
		return nil, err
	}
	var replace []string
	appending := false
	if root.op == "write_parquet" {
		replace, appending, err = sink.CheckOutputDir(root.path, planMode(p.Root), root.inputs[0].schema)
		if err != nil {
			return nil, err
		}
	}
	g := newGraph(p.Options, append([]array.RecordReader(nil), inputs...))
	if g.Batch, err = resolveRuntimeMode(p.Options.RuntimeMode, root); err != nil {
		return nil, err
	}
	f, err := g.build(root, nil)
	if err != nil {
		return nil, err
	}
	j := runtime.NewJob(ctx, root.schema, mem, p.Options.BufferBytes)
	fileSplits := make([]int64, len(g.files))
	fileBase := 0
	for _, n := range collectScans(root) {
		for _, sp := range n.dataset.Splits {
			fileSplits[fileBase+sp.FileIndex]++
		}
		fileBase += len(n.dataset.Files)
	}
	j.InitProgress(g.totalRows, g.totalSplits, fileSplits)
	out := g.NewStage("collect", 1, runtime.Edge{From: f.st, Part: runtime.PartGather})
	g.addReorder(out, f)
	out.Chain("collect", func(int) runtime.Operator { return &runtime.CollectOp{Job: j} })
	j.IsUnbounded = g.unbounded
	var commit func() error
	if root.op == "write_parquet" {
		commit = func() error { return j.CommitWriters(replace, appending) }
	}
	j.Launch(g.Graph, releaseInputs, commit)
	return j, nil
}

func planMode(n *plan.Node) string { return n.Mode }

func collectScans(n *lnode) []*lnode {
	var out []*lnode
	if n.op == "scan_parquet" {
		out = append(out, n)
	}
	for _, in := range n.inputs {
		out = append(out, collectScans(in)...)
	}
	return out
}

// OutputSchema validates a plan and returns the schema of its results.
func OutputSchema(p *plan.Plan, inputs []*arrow.Schema) (*arrow.Schema, error) {
	root, err := Bind(p, inputs)
	if err != nil {
		return nil, err
	}
	return root.schema, nil
}
