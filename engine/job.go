package engine

import (
	"context"
	"fmt"
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
	outs, err := Bind(p, inputs)
	if err != nil {
		return "", err
	}
	if err := checkSinks(outs); err != nil {
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
	if g.Batch, err = resolveRuntimeMode(p.Options.RuntimeMode, outs); err != nil {
		return "", err
	}
	if _, err := g.buildOutputs(outs, nil); err != nil {
		return "", err
	}
	return "logical plan:\n" + explainOutputs(outs) + "\nphysical plan:\n" + g.Explain(), nil
}

// buildOutputs builds every output of a plan, each ending in its own collect stage (with
// a CollectOp tagged with its output index when j is given).
func (g *graph) buildOutputs(outs []*lnode, j *runtime.Job) ([]flow, error) {
	g.countUses(outs)
	ids, err := assignIDs(outs)
	if err != nil {
		return nil, err
	}
	g.ids = ids
	flows := make([]flow, len(outs))
	for i, root := range outs {
		f, err := g.build(root, nil)
		if err != nil {
			return nil, err
		}
		flows[i] = f
	}
	for i, root := range outs {
		f := flows[i]
		if _, ok := root.impl.(fileSink); ok && j == nil {
			continue // explain shows the sink as the end of its branch
		}
		name := "collect"
		if len(outs) > 1 {
			name = fmt.Sprintf("collect output %d", i)
		}
		g.NodeID = fmt.Sprintf("output-%d", i)
		out := g.NewStage(name, 1, runtime.Edge{From: f.st, Part: runtime.PartGather})
		g.addReorder(out, f, root.schema)
		if j != nil {
			idx := i
			out.Chain(name, func(int) runtime.Operator { return &runtime.CollectOp{Job: j, Output: idx} })
		}
	}
	return flows, nil
}

// fileSink is implemented by the operators that write files into a directory, which the
// job checks before it starts and commits when it ends (sink.CheckOutputDir,
// Job.CommitWriters).
type fileSink interface {
	// sinkDir is the directory and the mode ("error", "append", "overwrite").
	sinkDir() (dir, mode string)
}

// checkSinks refuses write_parquet anywhere but as an output, and two sinks writing into
// one directory.
func checkSinks(outs []*lnode) error {
	isOut := map[*lnode]bool{}
	dirs := map[string]bool{}
	for _, o := range outs {
		if isOut[o] {
			continue
		}
		isOut[o] = true
		dir := ""
		if s, ok := o.impl.(fileSink); ok {
			dir, _ = s.sinkDir()
		} else if s, ok := o.impl.(snapshotSink); ok {
			dir, _ = s.snapshotDir()
		} else {
			continue
		}
		if dirs[dir] {
			return rberr.New(rberr.Plan, "two file sinks (write_parquet, write_parquet_snapshot, write_csv, write_ndjson) write into %q; give each its own directory", dir)
		}
		dirs[dir] = true
	}
	for _, n := range walkNodes(outs) {
		_, files := n.impl.(fileSink)
		_, snap := n.impl.(snapshotSink)
		if (files || snap) && !isOut[n] {
			return rberr.New(rberr.Plan, "%s: a %s sink must be an output of the plan, not the input of another operator", n.name, n.op)
		}
	}
	return nil
}

// walkNodes lists every node reachable from the outputs once, inputs before consumers.
func walkNodes(outs []*lnode) []*lnode {
	seen := map[*lnode]bool{}
	var list []*lnode
	var walk func(n *lnode)
	walk = func(n *lnode) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.inputs {
			walk(in)
		}
		list = append(list, n)
	}
	for _, o := range outs {
		walk(o)
	}
	return list
}

// Start validates a plan and starts running it. inputs are the Arrow streams that the
// plan's scan_arrow operators read, by index; Start takes ownership of them (they are
// released when the job ends, or now if Start fails). mem allocates every buffer the job
// produces. A plan with several outputs runs them as one job; its results are tagged with
// their output's index (Job.NextOutput).
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
	outs, err := Bind(p, schemas)
	if err != nil {
		return nil, err
	}
	if err := checkSinks(outs); err != nil {
		return nil, err
	}
	g := newGraph(p.Options, append([]array.RecordReader(nil), inputs...))
	if g.Batch, err = resolveRuntimeMode(p.Options.RuntimeMode, outs); err != nil {
		return nil, err
	}
	ids, err := assignIDs(outs)
	if err != nil {
		return nil, err
	}
	ckcfg, err := checkpointConfig(p.Options, outs, ids, g.MaxPar)
	if err != nil {
		return nil, err
	}
	g.restoring = ckcfg.Restore != nil
	type sinkCommit struct {
		dir       string
		replace   []string
		appending bool
		out       int
	}
	var sinks []sinkCommit
	for i, root := range outs {
		fs, ok := root.impl.(fileSink)
		if !ok || (i > 0 && outs[i-1] == root) {
			continue
		}
		dir, mode := fs.sinkDir()
		dup := false
		for _, s := range sinks {
			dup = dup || s.dir == dir
		}
		if dup {
			continue // the same sink given twice as an output: it writes once
		}
		if ckcfg.Restore != nil {
			// A restored job continues the output of the run it restores: the directory
			// holds that run's committed files, which "error" would refuse and "overwrite"
			// remove (docs/fault-tolerance.md).
			mode = "append"
		}
		replace, appending, err := sink.CheckOutputDir(root.op, dir, mode, root.inputs[0].schema)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, sinkCommit{dir, replace, appending, i})
	}
	for _, root := range outs {
		// A restored job continues the snapshots of the run it restores: the sink's
		// restore commits the restored one and removes the newer ones.
		if s, ok := root.impl.(snapshotSink); ok && ckcfg.Restore == nil {
			dir, mode := s.snapshotDir()
			if err := sink.CheckSnapshotDir(root.name, dir, mode); err != nil {
				return nil, err
			}
		}
	}
	outSchemas := make([]*arrow.Schema, len(outs))
	for i, o := range outs {
		outSchemas[i] = o.schema
	}
	j := runtime.NewJob(ctx, outSchemas[0], mem, p.Options.BufferBytes)
	j.SetOutputs(outSchemas)
	if _, err := g.buildOutputs(outs, j); err != nil {
		return nil, err
	}
	fileSplits := make([]int64, 0, len(g.files))
	for _, s := range collectScans(outs) {
		fileSplits = append(fileSplits, s.splitsPerFile()...)
	}
	j.InitProgress(g.totalRows, g.totalSplits, fileSplits)
	j.IsUnbounded = g.unbounded
	j.SetCheckpointing(ckcfg)
	j.Spill = spillConfig(ckcfg)
	if err := j.Prepare(g.Graph); err != nil {
		return nil, err
	}
	var commit func() error
	if len(sinks) > 0 {
		commit = func() error {
			for _, s := range sinks {
				if err := j.CommitWriters(s.dir, s.replace, s.appending, s.out); err != nil {
					return err
				}
			}
			return nil
		}
	}
	j.Launch(g.Graph, releaseInputs, commit)
	return j, nil
}

// fileScan is implemented by the sources that read files (for progress by file).
type fileScan interface {
	// splitsPerFile is the number of splits of each file it reads, in the order of the
	// files it adds to graph.files.
	splitsPerFile() []int64
}

// collectScans lists the file scans in the order the planner builds them (each once).
func collectScans(outs []*lnode) []fileScan {
	var out []fileScan
	seen := map[*lnode]bool{}
	var walk func(n *lnode)
	walk = func(n *lnode) {
		if seen[n] {
			return
		}
		seen[n] = true
		if s, ok := n.impl.(fileScan); ok {
			out = append(out, s)
		}
		for _, in := range n.inputs {
			walk(in)
		}
	}
	for _, o := range outs {
		walk(o)
	}
	return out
}

// OutputSchema validates a plan and returns the schema of its results (of its first
// output).
func OutputSchema(p *plan.Plan, inputs []*arrow.Schema) (*arrow.Schema, error) {
	outs, err := OutputSchemas(p, inputs)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// OutputSchemas validates a plan and returns the schema of each of its outputs.
func OutputSchemas(p *plan.Plan, inputs []*arrow.Schema) ([]*arrow.Schema, error) {
	return OutputSchemasWith(p, inputs, nil)
}

// OutputSchemasWith is OutputSchemas with the datasets binding opens kept in cache.
func OutputSchemasWith(p *plan.Plan, inputs []*arrow.Schema, cache *BindCache) ([]*arrow.Schema, error) {
	outs, err := bindWith(p, inputs, cache)
	if err != nil {
		return nil, err
	}
	if err := checkSinks(outs); err != nil {
		return nil, err
	}
	res := make([]*arrow.Schema, len(outs))
	for i, o := range outs {
		res[i] = o.schema
	}
	return res, nil
}

// OutputInfo is what a planner building on a plan (the SQL planner) needs to know of its
// output: its schema, its event-time column ("" if none) and whether a source under it is
// unbounded (or may be: a live Arrow stream).
type OutputInfo struct {
	Schema    *arrow.Schema
	EventTime string
	Unbounded bool
	Updating  bool // a changelog (docs/changelog.md)
}

// DescribeOutput validates a plan and describes its (first) output.
func DescribeOutput(p *plan.Plan, inputs []*arrow.Schema) (OutputInfo, error) {
	return DescribeOutputWith(p, inputs, nil)
}

// DescribeOutputWith is DescribeOutput with the datasets binding opens kept in cache.
func DescribeOutputWith(p *plan.Plan, inputs []*arrow.Schema, cache *BindCache) (OutputInfo, error) {
	outs, err := bindWith(p, inputs, cache)
	if err != nil {
		return OutputInfo{}, err
	}
	var unbounded, maybe []string
	sourceBoundedness(outs[:1], &unbounded, &maybe)
	return OutputInfo{Schema: outs[0].schema, EventTime: outs[0].timeCol, Unbounded: len(unbounded)+len(maybe) > 0,
		Updating: outs[0].changelog != ""}, nil
}
