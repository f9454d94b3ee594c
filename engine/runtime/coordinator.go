package runtime

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// The checkpoint coordinator (as Flink's CheckpointCoordinator). It triggers checkpoint
// id by handing a barrier to every running source subtask; sources inject it between two
// batches, after recording their positions; a task with several input channels blocks
// each channel whose barrier has arrived until every channel has delivered it (or ended),
// then saves its operators' state, passes the barrier on and acknowledges once the state
// is written in the background (snapwrite.go). When every task
// has acknowledged (a finished task counts as having acknowledged), the coordinator adds
// the sources' positions, commits the checkpoint (manifest last) and then tells every
// CheckpointHook that it is complete. One checkpoint is in flight at a time.

// CheckpointConfig turns checkpoints on for a job (Job.SetCheckpointing, before Launch).
type CheckpointConfig struct {
	// Storage receives periodic checkpoints; nil: only savepoints, on demand.
	Storage *state.Storage
	// Interval between periodic checkpoints; 0: only on demand.
	Interval time.Duration
	// Timeout is how long a checkpoint may take before it is aborted; 0:
	// DefaultCheckpointTimeout.
	Timeout time.Duration
	// Backend ("memory" or "pebble"), its memory limit and working directory, for the
	// backends operators save their keyed state into.
	Backend     string
	MemoryLimit int64
	WorkDir     string
	// MaxParallelism is the number of key groups.
	MaxParallelism int
	// Fingerprint identifies the plan (recorded in every manifest).
	Fingerprint string
	// Restore, if set, is the checkpoint or savepoint the job starts from.
	Restore *state.Checkpoint
	// AllowNonRestoredState lets a restore skip state of operators the plan no longer has.
	AllowNonRestoredState bool
	// FirstID is the id of the job's first checkpoint (ids increase across restarts).
	FirstID uint64
}

// CheckpointStats describes one completed checkpoint or savepoint of a job.
type CheckpointStats struct {
	ID         uint64           `json:"id"`
	Kind       string           `json:"kind"` // "checkpoint" or "savepoint"
	Path       string           `json:"path"`
	TimeUnixMs int64            `json:"time_unix_ms"`
	DurationMs int64            `json:"duration_ms"`
	SizeBytes  int64            `json:"size_bytes"`
	StateBytes map[string]int64 `json:"state_bytes"` // per operator id
}

// CheckpointCounters are the job's checkpoint metrics. Enabled reports whether the job
// has checkpoint storage (checkpoints on demand or every interval); savepoints are
// counted either way.
type CheckpointCounters struct {
	Enabled        bool   `json:"enabled"`
	Completed      int64  `json:"completed"`
	Failed         int64  `json:"failed"`
	InProgress     bool   `json:"in_progress"`
	LastID         uint64 `json:"last_id"`
	LastDurationMs int64  `json:"last_duration_ms"`
	LastSizeBytes  int64  `json:"last_size_bytes"`
	LastFailure    string `json:"last_failure,omitempty"`
}

// SourcePositioner is the state a source stage's subtasks share (TaskCtx.SourceShared):
// at commit it gives the positions the stage's splits are to be resumed from.
type SourcePositioner interface {
	CheckpointPositions(id uint64) ([]state.SourcePosition, error)
}

// SourceCompleter is source-stage shared state told when a checkpoint is complete (a Kafka
// source commits the checkpoint's offsets to its consumer group there, for monitoring).
// Its errors do not fail the job.
type SourceCompleter interface {
	SourceCheckpointComplete(id uint64)
}

// pendingCheckpoint is the checkpoint in flight.
type pendingCheckpoint struct {
	b       Barrier
	w       *state.Writer
	waiting map[*task]bool
	start   time.Time
	err     error         // the first failure: the checkpoint is aborted
	done    chan struct{} // closed once committed or aborted
	result  error
	stats   CheckpointStats
	// committing: every task has acknowledged and the commit runs; it can no longer be
	// aborted.
	committing bool
	aborted    bool
	// writes counts the tasks' asynchronous writes into w still running; an aborted
	// checkpoint's directory is deleted once none is left.
	writes int
}

type hookPart struct {
	opID    string
	subtask int
	data    []byte
	id      uint64 // the first checkpoint the part belongs to
}

// partsFor are the final parts that belong to checkpoint id: those of tasks that finished
// before that checkpoint's barrier reached them (a task that snapshotted id has its part
// from the barrier). Called with c.mu held.
func (c *coordinator) partsFor(id uint64) []hookPart {
	var out []hookPart
	for _, hp := range c.finalParts {
		if hp.id <= id {
			out = append(out, hp)
		}
	}
	return out
}

type coordinator struct {
	j   *Job
	cfg CheckpointConfig

	mu       sync.Mutex
	idle     *sync.Cond // signalled when pending becomes nil
	tasks    []*task
	finished map[*task]bool
	nextID   uint64
	pending  *pendingCheckpoint
	stats    []CheckpointStats
	counters CheckpointCounters
	closed   bool
	// finalParts are what hooks of finished tasks prepared when they finished: they are
	// written into every later checkpoint.
	finalParts []hookPart
	stopped    bool // a stop-with-savepoint succeeded: no more checkpoints
	// outcome of the checkpoints that ended (nil: completed), for AwaitCheckpoint.
	outcome map[uint64]error
	// failingCommit lets complete abort a checkpoint whose commit failed.
	failingCommit bool
	// completing counts the checkpoints being committed and notified (complete), which
	// close waits for: the sinks' end-of-job commit or abort comes after their
	// CheckpointComplete.
	completing sync.WaitGroup
}

// pendingID is the id of the checkpoint in flight, 0 if none.
func (c *coordinator) pendingID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		return 0
	}
	return c.pending.b.ID
}

func newCoordinator(j *Job, cfg CheckpointConfig) *coordinator {
	if cfg.MaxParallelism <= 0 {
		cfg.MaxParallelism = state.DefaultMaxParallelism
	}
	c := &coordinator{j: j, cfg: cfg, finished: map[*task]bool{}, nextID: max(1, cfg.FirstID), outcome: map[uint64]error{}}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// SetCheckpointing configures checkpoints (before Launch).
func (j *Job) SetCheckpointing(cfg CheckpointConfig) { j.ckpt = newCoordinator(j, cfg) }

// Checkpointing reports whether periodic checkpoints are on.
func (j *Job) Checkpointing() bool { return j.ckpt != nil && j.ckpt.cfg.Storage != nil }

// Checkpoints lists the checkpoints and savepoints the job has completed, oldest first.
func (j *Job) Checkpoints() []CheckpointStats {
	c := j.ckpt
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CheckpointStats(nil), c.stats...)
}

// CheckpointCounters returns the job's checkpoint counters.
func (j *Job) CheckpointCounters() CheckpointCounters {
	c := j.ckpt
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.counters
	cs.InProgress = c.pending != nil
	cs.Enabled = c.cfg.Storage != nil
	return cs
}

// Checkpoint triggers a checkpoint now and waits for it; it returns its id.
func (j *Job) Checkpoint(ctx context.Context) (CheckpointStats, error) {
	if j.ckpt.cfg.Storage == nil {
		return CheckpointStats{}, rberr.New(rberr.InvalidArgument, "checkpoints are off: set checkpoint_dir")
	}
	return j.ckpt.run(ctx, "", false)
}

// TriggerCheckpoint starts a checkpoint without waiting for it; it fails at once if one
// is in flight. It returns the checkpoint's id.
func (j *Job) TriggerCheckpoint() (uint64, error) {
	if j.ckpt.cfg.Storage == nil {
		return 0, rberr.New(rberr.InvalidArgument, "checkpoints are off: set checkpoint_dir")
	}
	p, err := j.ckpt.trigger("", false, false)
	if err != nil {
		return 0, err
	}
	return p.b.ID, nil
}

// Savepoint writes a savepoint of the running job into dir (which must not exist or be
// empty) and waits for it.
func (j *Job) Savepoint(ctx context.Context, dir string) (CheckpointStats, error) {
	if dir == "" {
		return CheckpointStats{}, rberr.New(rberr.InvalidArgument, "savepoint: no directory given")
	}
	return j.ckpt.run(ctx, dir, false)
}

// StopWithSavepoint writes a savepoint, after whose barrier the sources stop; the job then
// ends without firing pending windows (as Flink's stop with a savepoint, without drain)
// and its sinks commit. If the savepoint fails the job goes on running.
func (j *Job) StopWithSavepoint(ctx context.Context, dir string) (CheckpointStats, error) {
	if dir == "" {
		return CheckpointStats{}, rberr.New(rberr.InvalidArgument, "stop: no savepoint directory given")
	}
	return j.ckpt.run(ctx, dir, true)
}

func (c *coordinator) run(ctx context.Context, dir string, final bool) (CheckpointStats, error) {
	p, err := c.trigger(dir, final, true)
	if err != nil {
		return CheckpointStats{}, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return CheckpointStats{}, ctx.Err()
	}
	if p.result != nil {
		return CheckpointStats{}, p.result
	}
	return p.stats, nil
}

// trigger starts a checkpoint (into dir: a savepoint). With wait, it waits for a
// checkpoint in flight to end first; without, it fails at once.
func (c *coordinator) trigger(dir string, final, wait bool) (*pendingCheckpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for wait && c.pending != nil && !c.closed {
		c.idle.Wait()
	}
	what := "checkpoint"
	if dir != "" {
		what = "savepoint"
	}
	switch {
	case c.closed:
		return nil, rberr.New(rberr.InvalidArgument, "cannot take a %s: the job has ended", what)
	case c.stopped:
		return nil, rberr.New(rberr.InvalidArgument, "cannot take a %s: the job is stopping", what)
	case c.pending != nil:
		return nil, rberr.New(rberr.InvalidArgument, "checkpoint %d is still in progress", c.pending.b.ID)
	}
	if c.sourcesEndedLocked() {
		return nil, rberr.New(rberr.InvalidArgument, "cannot take a %s: every source of the job has ended", what)
	}
	if c.j.StopSources.Load() {
		return nil, rberr.New(rberr.InvalidArgument, "cannot take a %s: the job is stopping", what)
	}
	for _, t := range c.tasks {
		if t.source != nil && !c.finished[t] && !c.replayable(t) {
			return nil, rberr.New(rberr.InvalidArgument, "cannot take a %s: %s reads a live Python stream, which cannot be read again after a restore", what, t.stage.name)
		}
	}
	id := c.nextID
	var w *state.Writer
	var err error
	if dir != "" {
		w, err = state.BeginSavepoint(dir)
	} else {
		w, err = c.cfg.Storage.Begin(id)
	}
	if err != nil {
		c.counters.Failed++
		c.counters.LastFailure = err.Error()
		return nil, err
	}
	c.nextID++
	b := Barrier{ID: id, Savepoint: dir != "", Final: final}
	p := &pendingCheckpoint{b: b, w: w, waiting: map[*task]bool{}, start: time.Now(), done: make(chan struct{})}
	for _, t := range c.tasks {
		if !c.finished[t] {
			p.waiting[t] = true
		}
	}
	c.pending = p
	for _, t := range c.tasks {
		if t.source != nil && !c.finished[t] {
			// One barrier at a time: a barrier an earlier, aborted checkpoint left behind
			// is replaced.
			select {
			case <-t.barrierIn:
			default:
			}
			t.barrierIn <- b
		}
	}
	return p, nil
}

// sourcesEnded reports whether every source subtask of the job has ended.
func (c *coordinator) sourcesEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sourcesEndedLocked()
}

func (c *coordinator) sourcesEndedLocked() bool {
	for _, t := range c.tasks {
		if t.source != nil && !c.finished[t] {
			return false
		}
	}
	return true
}

func (c *coordinator) replayable(t *task) bool {
	return t.stage.Replayable == nil || t.stage.Replayable()
}

// writer returns the writer of checkpoint id while it is in flight and not failed.
func (c *coordinator) writer(id uint64) *state.Writer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil || c.pending.b.ID != id || c.pending.err != nil {
		return nil
	}
	return c.pending.w
}

// beginWrite returns checkpoint id if it is in flight and not failed, counting a task's
// asynchronous write into it (which must call endWrite).
func (c *coordinator) beginWrite(id uint64) *pendingCheckpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	if p == nil || p.b.ID != id || p.err != nil {
		return nil
	}
	p.writes++
	return p
}

// endWrite records that task t's write into checkpoint p has ended (err: it failed) and
// acknowledges p for t. The last write into an aborted checkpoint deletes its directory.
func (c *coordinator) endWrite(t *task, p *pendingCheckpoint, err error) {
	c.mu.Lock()
	p.writes--
	remove := p.aborted && p.writes == 0
	c.mu.Unlock()
	if remove {
		_ = p.w.Abort()
		return
	}
	c.ack(t, p.b.ID, err)
}

// isAborted reports whether checkpoint p was aborted.
func (c *coordinator) isAborted(p *pendingCheckpoint) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.aborted
}

// ack records that task t has snapshotted checkpoint id (err: it failed to).
func (c *coordinator) ack(t *task, id uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	if p == nil || p.b.ID != id {
		return
	}
	if err != nil && p.err == nil {
		p.err = rberr.Wrap(rberr.KindOf(err), err, "checkpoint %d: %s", id, describeTask(t))
	}
	delete(p.waiting, t)
	c.maybeComplete()
}

// taskEnded records that task t has ended (err: it failed).
func (c *coordinator) taskEnded(t *task, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished[t] = true
	p := c.pending
	if p == nil {
		return
	}
	if err != nil && p.err == nil {
		p.err = rberr.Wrap(rberr.KindOf(err), err, "checkpoint %d aborted: %s failed", p.b.ID, describeTask(t))
	}
	if err == nil && p.err == nil && p.waiting[t] && t.source == nil && c.j.stopNoDrain.Load() {
		// Stopped without drain before the barrier reached it, the task drops its state
		// (pending windows): the checkpoint would lack it.
		p.err = rberr.New(rberr.Cancelled, "checkpoint %d aborted: the job stopped before its barrier reached %s", p.b.ID, describeTask(t))
	}
	delete(p.waiting, t)
	c.maybeComplete()
}

// maybeComplete finishes the pending checkpoint once no task is left to acknowledge, or
// aborts it at once on a failure. Called with c.mu held.
func (c *coordinator) maybeComplete() {
	p := c.pending
	if p.committing {
		return
	}
	if p.err != nil {
		c.abort(p, p.err)
		return
	}
	if len(p.waiting) > 0 {
		return
	}
	p.committing = true
	parts := c.partsFor(p.b.ID)
	c.completing.Add(1)
	go func() {
		defer c.completing.Done()
		c.complete(p, parts)
	}()
}

// abort fails the pending checkpoint p. Called with c.mu held.
func (c *coordinator) abort(p *pendingCheckpoint, err error) {
	if c.pending != p || (p.committing && !c.failingCommit) {
		return
	}
	c.failingCommit = false
	p.aborted = true
	if p.writes == 0 {
		_ = p.w.Abort()
	} // else the last write to end deletes it (endWrite)
	c.counters.Failed++
	c.counters.LastFailure = err.Error()
	p.result = err
	c.outcome[p.b.ID] = err
	c.pending = nil
	close(p.done)
	c.idle.Broadcast()
	// Tasks aligning on it stop waiting (see task.abandon).
	for _, t := range c.tasks {
		t.wake()
	}
}

// complete commits checkpoint p (manifest last), then tells every hook.
func (c *coordinator) complete(p *pendingCheckpoint, parts []hookPart) {
	err := c.commit(p, parts)
	c.mu.Lock()
	if err != nil {
		c.failingCommit = true
		c.abort(p, err)
		c.mu.Unlock()
		return
	}
	if p.b.Final {
		c.stopped = true
	}
	c.counters.Completed++
	c.counters.LastID = p.b.ID
	c.counters.LastDurationMs = p.stats.DurationMs
	c.counters.LastSizeBytes = p.stats.SizeBytes
	c.stats = append(c.stats, p.stats)
	if len(c.stats) > 100 {
		c.stats = c.stats[len(c.stats)-100:]
	}
	c.outcome[p.b.ID] = nil
	c.pending = nil
	c.idle.Broadcast()
	c.mu.Unlock()
	if p.b.Final {
		// Stop-with-savepoint (or with a checkpoint): the sources stop after the barrier
		// and the job ends without firing pending windows, which are in its state.
		c.j.stopNow(false)
	}
	p.result = c.notifyComplete(p.b.ID)
	close(p.done)
}

// notifyComplete calls CheckpointComplete on every hook of the job.
func (c *coordinator) notifyComplete(id uint64) error {
	var first error
	for _, t := range c.tasks {
		for _, op := range t.chain {
			if h, ok := op.(CheckpointHook); ok {
				if err := h.CheckpointComplete(id); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	if first != nil {
		c.j.cancel(first) // a sink that cannot commit fails the job
		return first
	}
	for _, s := range c.sourceStages() {
		if sc, ok := s.shared.(SourceCompleter); ok {
			sc.SourceCheckpointComplete(id)
		}
	}
	return nil
}

func (c *coordinator) commit(p *pendingCheckpoint, parts []hookPart) error {
	for _, s := range c.sourceStages() {
		pos, ok := s.shared.(SourcePositioner)
		if !ok {
			continue
		}
		entries, err := pos.CheckpointPositions(p.b.ID)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p.w.AddSourcePosition(s.NodeID, e.Split, e.Position)
		}
	}
	for _, hp := range parts {
		if err := p.w.WriteFile(hookFile(hp.opID, hp.subtask), hp.data); err != nil {
			return err
		}
	}
	cp, err := p.w.Commit(state.JobOptions{MaxParallelism: c.cfg.MaxParallelism, PlanFingerprint: c.cfg.Fingerprint})
	if err != nil {
		return err
	}
	kind := "checkpoint"
	if p.b.Savepoint {
		kind = "savepoint"
	}
	st := CheckpointStats{ID: p.b.ID, Kind: kind, Path: cp.Dir, TimeUnixMs: cp.Manifest.CreatedUnixMs,
		DurationMs: time.Since(p.start).Milliseconds(), StateBytes: map[string]int64{}}
	for _, f := range cp.Manifest.Files {
		st.SizeBytes += f.Size
		if op, ok := fileOperator(f.Path); ok {
			st.StateBytes[op] += f.Size
		}
	}
	p.stats = st
	return nil
}

func (c *coordinator) sourceStages() []*Stage {
	var out []*Stage
	seen := map[*Stage]bool{}
	for _, t := range c.tasks {
		if t.source != nil && !seen[t.stage] {
			seen[t.stage] = true
			out = append(out, t.stage)
		}
	}
	return out
}

// loop triggers periodic checkpoints until the job ends.
func (c *coordinator) loop(done <-chan struct{}) {
	if c.cfg.Storage == nil || c.cfg.Interval <= 0 {
		return
	}
	tk := time.NewTicker(c.cfg.Interval)
	defer tk.Stop()
	// The timeout is checked a tenth of it apart (at most a second), apart from the
	// interval, which may be longer.
	ex := time.NewTicker(min(max(c.timeout()/10, time.Millisecond), time.Second))
	defer ex.Stop()
	for {
		select {
		case <-done:
			return
		case <-ex.C:
			c.expire()
		case <-tk.C:
			c.expire()
			_, _ = c.trigger("", false, false) // skipped while one is in flight or sources ended
		}
	}
}

// DefaultCheckpointTimeout is how long a checkpoint may take before it is
// aborted (Flink's default), so that one whose barrier is held up for good does not block
// the next ones.
const DefaultCheckpointTimeout = 10 * time.Minute

func (c *coordinator) timeout() time.Duration {
	if c.cfg.Timeout > 0 {
		return c.cfg.Timeout
	}
	return DefaultCheckpointTimeout
}

// expire aborts the checkpoint (or savepoint) in flight if it has taken longer than the
// timeout.
func (c *coordinator) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pending; p != nil && time.Since(p.start) > c.timeout() {
		c.abort(p, rberr.New(rberr.Cancelled, "checkpoint %d aborted: it took longer than checkpoint_timeout (%s)", p.b.ID, c.timeout()))
	}
}

// close aborts a checkpoint in flight when the job ends, and refuses new ones. It waits
// for a checkpoint that is being committed (it can no longer be aborted) to be done.
func (c *coordinator) close() {
	c.mu.Lock()
	c.closed = true
	if c.pending != nil {
		c.abort(c.pending, rberr.New(rberr.Cancelled, "checkpoint %d aborted: the job ended", c.pending.b.ID))
	}
	c.idle.Broadcast()
	c.mu.Unlock()
	c.completing.Wait()
}

// covered reports whether what the job's sinks got is covered by its checkpoints once
// the job has ended: always, unless checkpoints are on and the job was stopped without
// drain other than at a stop checkpoint or savepoint (the one it asked for failed).
// Then the rows after its last completed checkpoint are no part of any checkpoint (a
// restore from that checkpoint reads them again), and its sinks must not commit them.
func (c *coordinator) covered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Storage == nil || c.stopped || !c.j.stopNoDrain.Load()
}

// finalCheckpoint commits, after a job whose sources all ended, a checkpoint in which
// every split is read, so that a restore reads nothing again, and lets the hooks commit.
//
// A job that the user stopped with drain (or a limit stopped) gets one too: its sources
// recorded where they stopped (see source.Run), so that a restore reads on from there,
// and every row its sinks got, windows fired at the drain included, is committed by it
// (Flink's stop-with-savepoint --drain). A stop without drain ends at a stop checkpoint
// or savepoint instead (c.stopped), or, if that failed, with nothing more committed.
func (c *coordinator) finalCheckpoint() error {
	c.mu.Lock()
	if c.cfg.Storage == nil || c.stopped || c.j.stopNoDrain.Load() {
		c.mu.Unlock()
		return nil
	}
	for c.pending != nil {
		c.idle.Wait()
	}
	id := c.nextID
	c.nextID++
	parts := c.partsFor(id)
	c.mu.Unlock()
	w, err := c.cfg.Storage.Begin(id)
	if err != nil {
		return err
	}
	p := &pendingCheckpoint{b: Barrier{ID: id, Final: true}, w: w, start: time.Now(), done: make(chan struct{})}
	if err := c.commit(p, parts); err != nil {
		_ = w.Abort()
		return err
	}
	c.mu.Lock()
	c.counters.Completed++
	c.counters.LastID = id
	c.stats = append(c.stats, p.stats)
	c.mu.Unlock()
	return c.notifyComplete(id)
}

// prepareFinal runs, in a task's goroutine, when the task has finished its input: its
// hooks prepare what belongs to the next checkpoint (Flink's final checkpoint), which is
// then written into every later checkpoint.
func (c *coordinator) prepareFinal(t *task) error {
	if c.cfg.Storage == nil {
		return nil
	}
	c.mu.Lock()
	// The part belongs to the checkpoint in flight if the task has not snapshotted it
	// (its barrier had not reached the task), else to the checkpoints after it.
	b := Barrier{ID: c.nextID, Final: true}
	if p := c.pending; p != nil && p.waiting[t] {
		b.ID = p.b.ID
	}
	c.mu.Unlock()
	for i, op := range t.chain {
		h, ok := op.(CheckpointHook)
		if !ok {
			continue
		}
		data, err := h.PrepareCheckpoint(b)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.finalParts = append(c.finalParts, hookPart{opID: t.stage.opIDs[i], subtask: t.index, data: data, id: b.ID})
		c.mu.Unlock()
	}
	return nil
}

// hookFile is where a hook's prepared part of one subtask is stored in a checkpoint.
func hookFile(opID string, subtask int) string {
	return fmt.Sprintf("hooks/%s/%d.bin", url.PathEscape(opID), subtask)
}

// hookParts returns the parts every subtask of operator opID prepared in checkpoint cp.
func hookParts(cp *state.Checkpoint, opID string) ([]string, bool) {
	prefix := "hooks/" + url.PathEscape(opID) + "/"
	var files []string
	for _, f := range cp.Manifest.Files {
		if strings.HasPrefix(f.Path, prefix) {
			files = append(files, f.Path)
		}
	}
	sort.Slice(files, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimSuffix(path.Base(files[i]), ".bin"))
		b, _ := strconv.Atoi(strings.TrimSuffix(path.Base(files[j]), ".bin"))
		return a < b
	})
	return files, len(files) > 0
}

// fileOperator returns the operator id a checkpoint file belongs to (keyed state under
// op-<id>/, hook parts under hooks/<id>/).
func fileOperator(p string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(p, "op-"):
		rest = p[3:]
	case strings.HasPrefix(p, "hooks/"):
		rest = p[6:]
	default:
		return "", false
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", false
	}
	id, err := url.PathUnescape(rest[:i])
	if err != nil {
		return "", false
	}
	return id, true
}

// CheckpointedOperators lists the ids of the operators that checkpoint cp holds state
// for (keyed state or hook parts).
func CheckpointedOperators(cp *state.Checkpoint) []string {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, op := range cp.Manifest.Operators {
		add(op.ID)
	}
	for _, f := range cp.Manifest.Files {
		if strings.HasPrefix(f.Path, "hooks/") {
			if id, ok := fileOperator(f.Path); ok {
				add(id)
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkRestore checks that the checkpoint the job restores fits the plan: the same number
// of key groups, and no state of an operator or source the plan no longer has (unless
// AllowNonRestoredState). A stateful operator without state in it starts empty.
func (c *coordinator) checkRestore(g *Graph) error {
	cp := c.cfg.Restore
	if cp == nil {
		return nil
	}
	if mp := cp.Manifest.Job.MaxParallelism; mp != c.cfg.MaxParallelism {
		return rberr.New(rberr.InvalidArgument, "cannot restore %s: it was taken with max_parallelism=%d and this job has %d; key groups cannot be redistributed across a change of max_parallelism", cp.Dir, mp, c.cfg.MaxParallelism)
	}
	if c.cfg.AllowNonRestoredState {
		return nil
	}
	known := map[string]bool{}
	for _, id := range c.j.StatefulOperators() {
		known[id] = true
	}
	for _, op := range CheckpointedOperators(cp) {
		if !known[op] {
			return rberr.New(rberr.InvalidArgument, "cannot restore %s: it holds state of operator %q, which this plan does not have (give the operator its former uid, or pass allow_non_restored_state=True to drop that state)", cp.Dir, op)
		}
	}
	sources := map[string]bool{}
	for _, s := range g.stages {
		if s.Source != nil {
			sources[s.NodeID] = true
		}
	}
	for _, sp := range cp.Manifest.Sources {
		if !sources[sp.Source] {
			return rberr.New(rberr.InvalidArgument, "cannot restore %s: it holds positions of source %q, which this plan does not have (give the source its former uid, or pass allow_non_restored_state=True to drop them)", cp.Dir, sp.Source)
		}
	}
	return nil
}
