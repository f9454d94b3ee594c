package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Job is a running plan. Its results are read with Next until io.EOF; Cancel stops it.
// All methods are safe for concurrent use.
type Job struct {
	ID       string
	schemas  []*arrow.Schema // of each output
	mem      memory.Allocator
	ctx      context.Context
	cancel   context.CancelCauseFunc
	results  chan result // one queue for all outputs, each batch tagged with its output
	done     chan struct{}
	err      error
	Counters Progress

	StopSources atomic.Bool // set once sources must stop reading (stop, limit)
	stopOnce    sync.Once
	Stopped     chan struct{} // closed when stopSources is set, to interrupt paced waits
	// sourceStops: per source (plan ordinal), a channel closed when that source must stop
	// reading, by itself (a limit over it alone) or with every other (StopReading).
	sourceStops struct {
		sync.Mutex
		chans  map[int]chan struct{}
		closed map[int]bool
		all    bool
	}
	stopNoDrain atomic.Bool
	Budget      *budget
	metrics     registry
	IsUnbounded bool
	// Spill says whether operators may move the rows they hold out of memory (spill.go).
	Spill SpillConfig

	mu         sync.Mutex
	writers    map[string][]*batch.FileWriter // by output directory
	committers []Committer                    // committer.go

	ckpt     *coordinator // checkpoints and savepoints
	tasks    []*task      // made by Prepare
	prepared bool
}

// result is one batch of a job's results and the index of the output it belongs to.
type result struct {
	rec arrow.RecordBatch
	out int
}

// Progress counts a job's work; read it with Snapshot.
type Progress struct {
	RowsRead     atomic.Int64
	rowsOut      atomic.Int64
	splitsDone   atomic.Int64
	SplitsPruned atomic.Int64
	filesDone    atomic.Int64
	TotalRows    int64
	TotalSplits  int64
	TotalFiles   int64
	fileSplits   []atomic.Int64 // splits left per file index
}

// ProgressSnapshot is a consistent-enough copy of a job's progress counters.
type ProgressSnapshot struct {
	RowsRead, RowsOut, SplitsDone, SplitsPruned, FilesDone int64
	TotalRows, TotalSplits, TotalFiles                     int64
	Done                                                   bool
}

func (p *Progress) SplitDone(file int) {
	p.splitsDone.Add(1)
	if file >= 0 && file < len(p.fileSplits) && p.fileSplits[file].Add(-1) == 0 {
		p.filesDone.Add(1)
	}
}

var errCancelled = errors.New("cancelled by the user")

func newJobID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Schema is the schema of the job's (first) output.
func (j *Job) Schema() *arrow.Schema { return j.schemas[0] }

// Schemas are the schemas of the job's outputs, by output index.
func (j *Job) Schemas() []*arrow.Schema { return j.schemas }

// SetOutputs sets the schemas of a job with several outputs (before it is launched).
func (j *Job) SetOutputs(schemas []*arrow.Schema) { j.schemas = schemas }

// Next returns the next result batch (the caller releases it), io.EOF after the last one,
// or the job's error. With several outputs, NextOutput says which output a batch is of.
func (j *Job) Next() (arrow.RecordBatch, error) {
	rec, _, err := j.NextOutput()
	return rec, err
}

// NextOutput returns the next result batch and the index of the output it belongs to.
// All outputs share one queue (under the byte budget), so reading them in the order they
// come can never wait on one output while another fills the budget.
func (j *Job) NextOutput() (arrow.RecordBatch, int, error) {
	r, ok := <-j.results
	if ok {
		j.Budget.release(batchBytes(r.rec))
		return r.rec, r.out, nil
	}
	<-j.done
	if j.err != nil {
		return nil, 0, j.err
	}
	return nil, 0, io.EOF
}

// Cancel stops the job at once; Next then returns a Cancelled error.
func (j *Job) Cancel() { j.cancel(errCancelled) }

// Stop asks the sources to stop reading and lets the job end cleanly, without waiting.
//
// With drain, the end of input fires every pending window and timer (as if the input had
// ended); with checkpoints on, a final checkpoint then commits everything the sinks got
// (Flink's stop-with-savepoint --drain), and a restore reads on from where the sources
// stopped.
//
// Without drain, pending windows are not fired. With checkpoints on, the job stops at a
// checkpoint (as Flink's stop-with-savepoint, into the checkpoint directory): the sources
// stop right after its barrier, pending windows are in its state, the sinks commit what
// came before it, and restore="latest" resumes exactly there. If that checkpoint fails,
// the job stops at once and its sinks commit nothing after its last checkpoint, from
// which a restore reads the rest again (if every source has ended by then, nothing is
// stopped: the job ends as at the end of its input). Without checkpoints, pending windows
// are dropped.
func (j *Job) Stop(drain bool) {
	if !drain && j.ckpt != nil && j.ckpt.cfg.Storage != nil && !j.StopSources.Load() {
		go func() {
			if _, err := j.ckpt.run(j.ctx, "", true); err != nil && !j.ckpt.sourcesEnded() {
				j.stopNow(false)
			}
			// Sources that have all ended are not stopped: the job ends as its input did.
		}()
		return
	}
	j.stopNow(drain)
}

// stopNow stops the sources at once (see Stop).
func (j *Job) stopNow(drain bool) {
	if !drain {
		j.stopNoDrain.Store(true)
	}
	j.StopReading()
}

// StopReading tells every source to stop reading, and interrupts sources that are waiting
// (paced generators).
func (j *Job) StopReading() {
	j.stopOnce.Do(func() {
		j.StopSources.Store(true)
		close(j.Stopped)
		ss := &j.sourceStops
		ss.Lock()
		defer ss.Unlock()
		ss.all = true
		for o, c := range ss.chans {
			if !ss.closed[o] {
				ss.closed[o] = true
				close(c)
			}
		}
	})
}

// SourceStop is the channel closed when source ordinal must stop reading: once the job's
// sources stop (StopReading) or StopReadingSources names it.
func (j *Job) SourceStop(ordinal int) <-chan struct{} {
	ss := &j.sourceStops
	ss.Lock()
	defer ss.Unlock()
	return j.sourceStopLocked(ordinal)
}

func (j *Job) sourceStopLocked(ordinal int) chan struct{} {
	ss := &j.sourceStops
	if ss.chans == nil {
		ss.chans, ss.closed = map[int]chan struct{}{}, map[int]bool{}
	}
	c, ok := ss.chans[ordinal]
	if !ok {
		c = make(chan struct{})
		ss.chans[ordinal] = c
		if ss.all {
			ss.closed[ordinal] = true
			close(c)
		}
	}
	return c
}

// StopReadingSources tells the given sources (plan ordinals) to stop reading, as a limit
// does that has its rows when nothing else reads them; the job's other sources go on.
func (j *Job) StopReadingSources(ordinals []int) {
	ss := &j.sourceStops
	ss.Lock()
	defer ss.Unlock()
	for _, o := range ordinals {
		c := j.sourceStopLocked(o)
		if !ss.closed[o] {
			ss.closed[o] = true
			close(c)
		}
	}
}

// Metrics returns the job's per-operator metrics.
func (j *Job) Metrics() []OperatorMetrics { return j.metrics.snapshot() }

// Unbounded reports whether some source of the job never ends by itself.
func (j *Job) Unbounded() bool { return j.IsUnbounded }

// Wait blocks until the job has ended, discarding results not yet read, and returns its
// error.
func (j *Job) Wait() error {
	for {
		rec, err := j.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rec.Release()
	}
}

// Close cancels the job if it is still running, waits for it and frees unread results.
func (j *Job) Close() {
	select {
	case <-j.done:
	default:
		j.Cancel()
	}
	for r := range j.results {
		j.Budget.release(batchBytes(r.rec))
		r.rec.Release()
	}
	<-j.done
}

// Progress returns the job's counters.
func (j *Job) Progress() ProgressSnapshot {
	p := &j.Counters
	done := false
	select {
	case <-j.done:
		done = true
	default:
	}
	return ProgressSnapshot{RowsRead: p.RowsRead.Load(), RowsOut: p.rowsOut.Load(),
		SplitsDone: p.splitsDone.Load(), SplitsPruned: p.SplitsPruned.Load(), FilesDone: p.filesDone.Load(),
		TotalRows: p.TotalRows, TotalSplits: p.TotalSplits, TotalFiles: p.TotalFiles, Done: done}
}

// AddWriter registers a subtask's writer of the write_parquet sink into dir.
func (j *Job) AddWriter(dir string, w *batch.FileWriter) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.writers == nil {
		j.writers = map[string][]*batch.FileWriter{}
	}
	j.writers[dir] = append(j.writers[dir], w)
}

// CommitWriters commits the files of the sink into dir and hands its summary (the files
// written) to the results as output out. Subtasks that wrote no rows write no
// file, except that a job writing no rows at all into a directory that keeps no other
// Parquet files commits one empty file, so that the directory reads back as an empty
// table with the job's schema.
func (j *Job) CommitWriters(dir string, replace []string, appending bool, out int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	total := int64(0)
	writers := j.writers[dir]
	for _, w := range writers {
		total += w.Rows()
	}
	var commit []*batch.FileWriter
	for i, w := range writers {
		if w.Rows() == 0 && (total > 0 || appending || i > 0) {
			_ = w.Abort() // nothing was written: no file to remove
			continue
		}
		commit = append(commit, w)
	}
	// One atomic commit for every subtask's files and the files an overwrite replaces.
	committed, err := batch.CommitAll(dir, commit, replace)
	if err != nil {
		for _, w := range writers {
			_ = w.Abort()
		}
		return err
	}
	var files []string
	var rows []int64
	for _, f := range committed {
		files = append(files, f.Path)
		rows = append(rows, f.Rows)
	}
	rec := summaryBatch(j.mem, files, rows)
	_ = j.Budget.acquire(context.Background(), batchBytes(rec), func() bool { return true })
	j.results <- result{rec, out}
	return nil
}

func (j *Job) abortWriters() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ws := range j.writers {
		for _, w := range ws {
			_ = w.Abort()
		}
	}
}

// CollectOp hands result batches of one output to the job's reader.
type CollectOp struct {
	BaseOp
	Job    *Job
	Output int // the index of the output it collects
}

func (o *CollectOp) ProcessBatch(m Message, _ Emitter) error {
	if m.Rec.NumRows() == 0 {
		m.Rec.Release()
		return nil
	}
	o.Job.Counters.rowsOut.Add(m.Rec.NumRows())
	n := batchBytes(m.Rec)
	if err := o.Job.Budget.acquire(o.Job.ctx, n, func() bool { return len(o.Job.results) == 0 }); err != nil {
		m.Rec.Release()
		return err
	}
	select {
	case o.Job.results <- result{m.Rec, o.Output}:
		return nil
	case <-o.Job.ctx.Done():
		m.Rec.Release()
		o.Job.Budget.release(n)
		return o.Job.ctx.Err()
	}
}

func (o *CollectOp) ProcessMarker(Message, Emitter) error  { return nil }
func (o *CollectOp) ProcessWatermark(int64, Emitter) error { return nil }

type discard struct{}

func (discard) Emit(m Message) error {
	if m.Rec != nil {
		m.Rec.Release()
	}
	return nil
}

// Err returns the job's error once it has ended; nil while it runs or if it succeeded.
func (j *Job) Err() error {
	select {
	case <-j.done:
		return j.err
	default:
		return nil
	}
}

func summaryBatch(mem memory.Allocator, files []string, rows []int64) arrow.RecordBatch {
	pb := array.NewStringBuilder(mem)
	defer pb.Release()
	rb := array.NewInt64Builder(mem)
	defer rb.Release()
	pb.AppendValues(files, nil)
	rb.AppendValues(rows, nil)
	p, r := pb.NewArray(), rb.NewArray()
	defer p.Release()
	defer r.Release()
	return array.NewRecordBatch(WriteSummarySchema, []arrow.Array{p, r}, int64(len(files)))
}

// NewJob makes the job that will run a graph producing results of schema.
func NewJob(ctx context.Context, schema *arrow.Schema, mem memory.Allocator, bufferBytes int64) *Job {
	jctx, cancel := context.WithCancelCause(ctx)
	return &Job{ID: newJobID(), schemas: []*arrow.Schema{schema}, mem: mem, ctx: jctx, cancel: cancel,
		results: make(chan result, 4), done: make(chan struct{}), Stopped: make(chan struct{}),
		Budget: newBudget(bufferBytes)}
}

// InitProgress sets the job's totals: rows and splits to read, and the splits of each
// input file (a file with none counts as done).
func (j *Job) InitProgress(totalRows int64, totalSplits int, fileSplits []int64) {
	j.Counters.TotalRows = totalRows
	j.Counters.TotalSplits = int64(totalSplits)
	j.Counters.TotalFiles = int64(len(fileSplits))
	j.Counters.fileSplits = make([]atomic.Int64, len(fileSplits))
	for i, n := range fileSplits {
		j.Counters.fileSplits[i].Store(n)
		if n == 0 {
			j.Counters.filesDone.Add(1)
		}
	}
}

// Launch wires the graph's tasks, registers their metrics and runs them in the
// background. releaseInputs is called once the tasks have ended; commit, if not nil, after
// they succeeded (else the job's writers are aborted).
func (j *Job) Launch(g *Graph, releaseInputs func(), commit func() error) {
	jctx, cancel, mem := j.ctx, j.cancel, j.mem
	if err := j.Prepare(g); err != nil {
		j.err = err
		cancel(err)
		releaseInputs()
		close(j.results)
		close(j.done)
		return
	}
	tasks := j.tasks
	go j.ckpt.loop(j.done)
	go func() {
		var err error
		defer func() {
			// The job always ends, whatever happens here: a panic fails it.
			if r := recover(); r != nil {
				j.err = rberr.New(rberr.Internal, "panic while running the job: %v\n%s", r, debug.Stack())
				cancel(j.err)
				j.abortCommitters()
				releaseInputs()
				close(j.results)
				close(j.done)
			}
		}()
		err = runTasks(jctx, cancel, tasks, func(t *task) *TaskCtx {
			tc := &TaskCtx{Ctx: jctx, Eval: expr.NewEvalCtx(jctx, mem), Job: j, subtask: t.index, parallel: t.stage.Parallel, maxPar: g.MaxPar, task: t}
			if t.out != nil {
				for _, r := range t.out.all() {
					r.tc = tc
				}
			}
			return tc
		})
		releaseInputs()
		j.ckpt.close()
		if err == nil {
			// Every source ended (or the job stopped): a final checkpoint in which every
			// split is read lets the hooks (sinks) commit, and a restore read nothing again.
			err = j.ckpt.finalCheckpoint()
		}
		// A job stopped without drain whose stop checkpoint failed commits nothing after
		// its last checkpoint (see coordinator.covered).
		covered := j.ckpt.covered()
		if err == nil && commit != nil && covered {
			err = commit()
		} else {
			j.abortWriters()
		}
		if err == nil && covered {
			err = j.commitAll()
		} else {
			j.abortCommitters()
		}
		if err != nil {
			j.err = err
			if errors.Is(err, errCancelled) || (errors.Is(err, context.Canceled) && context.Cause(jctx) == errCancelled) {
				j.err = rberr.New(rberr.Cancelled, "the job was cancelled")
			}
		}
		close(j.results)
		close(j.done)
	}()
}

// Prepare wires the graph's tasks and checks that the checkpoint the job restores (if
// any) fits the plan. Launch calls it if the caller did not.
func (j *Job) Prepare(g *Graph) error {
	if j.prepared {
		return nil
	}
	j.prepared = true
	if j.ckpt == nil {
		j.ckpt = newCoordinator(j, CheckpointConfig{MaxParallelism: g.MaxPar})
	}
	g.wire(4)
	var tasks []*task
	for _, s := range g.stages {
		for _, t := range s.tasks {
			t.chain = make([]Operator, len(s.ops))
			for i, mk := range s.ops {
				t.chain[i] = mk(t.index)
			}
			if t.out == nil {
				t.out = &router{sink: discard{}}
			}
			idx := 0
			if s.Source != nil || len(s.ops) == 0 {
				m := newOpMetrics(s.id, idx, t.index, s.name)
				if s.Source != nil {
					m.gauges = s.Gauges
				}
				t.metrics = append(t.metrics, j.metrics.add(m))
				idx++
			}
			for i, name := range s.opNames {
				m := newOpMetrics(s.id, idx+i, t.index, name)
				m.id = s.opIDs[i]
				t.metrics = append(t.metrics, j.metrics.add(m))
			}
			t.build()
			t.budget = j.Budget
			if t.source != nil {
				t.barrierIn = make(chan Barrier, 1)
			}
			tasks = append(tasks, t)
		}
	}
	j.tasks = tasks
	j.ckpt.tasks = tasks
	return j.ckpt.checkRestore(g)
}

// StatefulOperators lists the ids of the graph's operators that are checkpointed (keyed
// state or a checkpoint hook), once Prepare has run.
func (j *Job) StatefulOperators() []string {
	seen := map[string]bool{}
	var ids []string
	for _, t := range j.tasks {
		for i, op := range t.chain {
			_, ks := op.(KeyedState)
			_, h := op.(CheckpointHook)
			if (ks || h) && !seen[t.stage.opIDs[i]] {
				seen[t.stage.opIDs[i]] = true
				ids = append(ids, t.stage.opIDs[i])
			}
		}
	}
	return ids
}

// WriteSummarySchema is the result of a write_parquet job: one row per file written.
var WriteSummarySchema = arrow.NewSchema([]arrow.Field{
	{Name: "path", Type: arrow.BinaryTypes.String},
	{Name: "rows", Type: arrow.PrimitiveTypes.Int64},
}, nil)
