package runtime

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// The runtime is push-based: every parallel subtask is a goroutine that receives messages
// on one bounded channel per input (an input is one upstream subtask of one input edge)
// and pushes its output to the input channels of the next stage. Data and control travel
// in the same channels, in order: batches, split markers, watermarks, control messages
// (checkpoint barriers), end of input. A full channel blocks the sender, so a slow
// operator backpressures its sources; a task may stop reading one input (BlockInput)
// while it reads the others, as barrier alignment needs.

type msgKind uint8

const (
	MsgBatch      msgKind = iota
	MsgSplitDone          // all batches of split seq have been sent on this channel
	MsgSourceDone         // source ordinal seq>>48 has n splits in all
	MsgWatermark          // event time has reached n on this channel
	MsgIdle               // this channel carries no data for now: do not wait for its watermark
	MsgControl            // in-band control (Ctl): a checkpoint barrier and the like
	msgEnd                // this channel will carry nothing more
)

// WatermarkMax is the final watermark: every window and timer fires.
const WatermarkMax = math.MaxInt64

// Message is what flows between subtasks.
type Message struct {
	Kind msgKind
	Rec  arrow.RecordBatch // msgBatch; owned by whoever holds the message
	Seq  Seq               // batch order: source ordinal, split, chunk
	N    int64             // msgSourceDone: split count; msgWatermark: the watermark
	Ctl  any               // MsgControl: what the control message says (e.g. a barrier)
	ch   int               // input channel index at the receiver, stamped by the sender
	// wm is, for a batch, the watermark of its source split when it was emitted (valid if
	// hasWM). Windows judge lateness by it, so that which rows are late depends on the
	// order of rows within each split, not on how parallel readers interleave.
	WM    int64
	HasWM bool
	// side is the index of the input edge a batch came through (0 = left, 1 = right of a
	// join), stamped by the sender's router.
	Side int
	// bytes is what a queued batch holds of the job's buffer budget (stamped by the sender,
	// given back by the receiver).
	bytes int64
}

// Input is the index of the input channel the message came through at its receiver
// (see TaskCtx.BlockInput).
func (m Message) Input() int { return m.ch }

// With returns a batch message carrying rec in place of m's batch, keeping its order and
// split watermark.
func (m Message) With(rec arrow.RecordBatch) Message {
	m.Rec = rec
	return m
}

// Seq is a batch's place in the input order: the source's ordinal in the plan, the split
// of that source, and the chunk within the split (a source's offset of the batch's first
// row in its split: a row, an event index). Seqs order lexicographically. Each part has
// 64 bits of its own, so no count of splits or chunks can wrap into another part.
type Seq struct {
	Source, Split, Chunk uint64
}

// Less reports whether s comes before o in input order.
func (s Seq) Less(o Seq) bool {
	if s.Source != o.Source {
		return s.Source < o.Source
	}
	if s.Split != o.Split {
		return s.Split < o.Split
	}
	return s.Chunk < o.Chunk
}

// Compare returns -1, 0 or 1 as s is before, equal to or after o.
func (s Seq) Compare(o Seq) int {
	switch {
	case s == o:
		return 0
	case s.Less(o):
		return -1
	}
	return 1
}

// SeqUnordered marks batches of rows an operator made (window results, join pairs,
// groups): they have no input order, and come after every ordered batch. Operators that
// break ties by input order break ties between such rows by their columns instead, so the
// choice does not depend on arrival.
var SeqUnordered = Seq{math.MaxUint64, math.MaxUint64, math.MaxUint64}

// MakeSeq is the sequence of chunk of split of the source with the given ordinal.
func MakeSeq(ordinal int, split, chunk int64) Seq {
	return Seq{Source: uint64(ordinal), Split: uint64(split), Chunk: uint64(chunk)}
}

// SplitOf drops the chunk from a sequence.
func SplitOf(seq Seq) Seq { seq.Chunk = 0; return seq }

// Emitter receives an operator's output.
type Emitter interface {
	Emit(m Message) error
}

// Operator is one step of a chain. Only processBatch is required in spirit; embedding
// baseOp gives the defaults: markers and watermarks pass through, finish does nothing.
type Operator interface {
	Open(tc *TaskCtx) error
	ProcessBatch(m Message, out Emitter) error
	ProcessMarker(m Message, out Emitter) error
	ProcessWatermark(wm int64, out Emitter) error
	Finish(out Emitter) error
	Close()
}

type BaseOp struct{}

func (BaseOp) Open(*TaskCtx) error                        { return nil }
func (BaseOp) ProcessMarker(m Message, out Emitter) error { return out.Emit(m) }
func (BaseOp) ProcessWatermark(wm int64, out Emitter) error {
	return out.Emit(Message{Kind: MsgWatermark, N: wm})
}
func (BaseOp) Finish(Emitter) error { return nil }
func (BaseOp) Close()               {}

// ControlHandler is implemented by operators that act on control messages (MsgControl).
// Operators that do not implement it pass control messages on unchanged, whatever their
// ProcessMarker does with split markers.
type ControlHandler interface {
	ProcessControl(m Message, out Emitter) error
}

// InputEnder is implemented by the first operator of a stage with several inputs (a
// join) that acts when one of its inputs has ended: every channel of that input (edge)
// has delivered its end, before the other inputs have necessarily ended. A join that has
// seen the whole of one side streams the other past it (a build/probe join).
type InputEnder interface {
	EndInput(side int, out Emitter) error
}

// InputPreferrer is implemented by the first operator of a stage with several inputs
// that would rather read one of them first (a join its smaller, build side); side -1: no
// preference. The task takes a message of that input whenever one is queued, and of the
// others only when it has none queued. With hold, it reads the others not at all until
// the preferred input has ended (their senders wait, as behind a full channel), but while
// a checkpoint barrier is being aligned: only for inputs that share no upstream, since
// holding one back would otherwise stall the upstream that also feeds the other.
type InputPreferrer interface {
	PreferredInput() (side int, hold bool)
}

// TaskCtx is what an operator may use at run time.
type TaskCtx struct {
	Ctx      context.Context
	Eval     *expr.EvalCtx
	Job      *Job
	subtask  int
	parallel int
	maxPar   int        // key groups of the job (0: state.DefaultMaxParallelism)
	Metrics  *opMetrics // of the operator this context was given to
	task     *task
}

// Subtask is the index of the operator's subtask, in [0, Parallelism()).
func (tc *TaskCtx) Subtask() int { return tc.subtask }

// Parallelism is the number of parallel subtasks of the operator's stage.
func (tc *TaskCtx) Parallelism() int { return max(tc.parallel, 1) }

// MaxParallelism is the job's number of key groups: keyed state is addressed by
// state.KeyGroup(hash, MaxParallelism()) with the hash the hash exchange routes by.
func (tc *TaskCtx) MaxParallelism() int {
	if tc.maxPar <= 0 {
		return state.DefaultMaxParallelism
	}
	return tc.maxPar
}

// NewStandaloneTaskCtx is a context for running an operator outside a job, as subtask
// subtask of parallel with maxPar key groups: for operator tests, which feed messages to
// the operator's methods directly. Its metrics are the operator's own, not registered
// anywhere; BlockInput is not available.
func NewStandaloneTaskCtx(ctx context.Context, mem memory.Allocator, subtask, parallel, maxPar int) *TaskCtx {
	return &TaskCtx{Ctx: ctx, Eval: expr.NewEvalCtx(ctx, mem), Job: &Job{}, subtask: subtask, parallel: parallel,
		maxPar: maxPar, Metrics: newOpMetrics(0, 0, subtask, "standalone")}
}

// NumInputs is the number of input channels of the operator's subtask (0 for a source).
func (tc *TaskCtx) NumInputs() int {
	if tc.task == nil {
		return 0
	}
	return len(tc.task.ins)
}

// BlockInput stops the subtask from reading input channel i (Message.Input) until
// UnblockInput(i): its messages wait in its channel, whose sender is held back once the
// channel is full or the job's byte budget is spent, while the other inputs go on being
// read. This is how aligned checkpoint barriers hold an input whose barrier has arrived.
// Only the subtask's own operators (its goroutine) may call it.
func (tc *TaskCtx) BlockInput(i int) {
	tc.task.ins[i].blocked.Store(true)
	// Senders waiting for the task to have nothing to read may now pass (see starved).
	tc.Job.Budget.release(0)
}

// UnblockInput lets the subtask read input channel i again.
func (tc *TaskCtx) UnblockInput(i int) { tc.task.ins[i].blocked.Store(false) }

// InputQueued is the number of messages waiting in input channel i.
func (tc *TaskCtx) InputQueued(i int) int { return len(tc.task.ins[i].ch) }

// chainLink feeds a message to one operator of the chain; the operator's output goes to
// next (counted).
type chainLink struct {
	op   Operator
	next Emitter
	m    *opMetrics
}

func (c *chainLink) Emit(m Message) error {
	switch m.Kind {
	case MsgBatch:
		c.m.recordsIn.Add(m.Rec.NumRows())
		c.m.batchesIn.Add(1)
		return c.op.ProcessBatch(m, c.next)
	case MsgWatermark:
		return c.op.ProcessWatermark(m.N, c.next)
	case msgEnd:
		return nil // handled by the task
	case MsgControl:
		if h, ok := c.op.(ControlHandler); ok {
			return h.ProcessControl(m, c.next)
		}
		return c.next.Emit(m)
	default:
		return c.op.ProcessMarker(m, c.next)
	}
}

// task runs one subtask of a stage: a chain of operators fed by an input channel (or a
// source) and writing to an output router.
type task struct {
	stage   *Stage
	index   int
	ins     []*inbox      // one per input channel (upstream subtask of an input edge)
	notify  chan struct{} // a sender has queued a message on some input (capacity 1)
	queue   int           // capacity of each input channel
	chain   []Operator
	metrics []*opMetrics // per operator; for a source stage the source's come first
	outs    []Emitter    // where operator i emits (counted)
	head    Emitter      // where the input (or the source) emits
	out     *router
	source  SourceFn
	budget  *budget // the job's buffer budget (set when the job starts)
	// barrierIn hands a source subtask the barrier to inject (capacity 1).
	barrierIn chan Barrier
	align     alignment
	// write is the task's asynchronous checkpoint write in flight, if any (snapwrite.go).
	write *snapshotWrite
	// stopping: the barrier of a stop without drain (Barrier.Final) has passed; the task
	// does no processing-time work after it (ticks: state expiry, mini-batches,
	// processing-time timers), whose output would be in no checkpoint.
	stopping bool
}

// inbox is one input channel of a task.
type inbox struct {
	ch      chan Message
	blocked atomic.Bool // not read until unblocked (TaskCtx.BlockInput); read by senders
	held    atomic.Bool // not read while another input is preferred (InputPreferrer)
	ended   bool
	side    int // the input (edge) of the stage this channel belongs to
}

// addInput gives the task one more input channel, of input side, and returns its index.
func (t *task) addInput(side int) int {
	t.ins = append(t.ins, &inbox{ch: make(chan Message, t.queue), side: side})
	if t.notify == nil {
		t.notify = make(chan struct{}, 1)
	}
	return len(t.ins) - 1
}

// starved reports whether a batch for input i must be taken whatever the byte budget:
// the task has nothing else to read (every input it reads is empty) and input i is empty.
// This is the budget's deadlock rule; applied per task rather than per input channel, a
// task holds at most about one batch over the budget however many inputs it has.
func (t *task) starved(i int) bool {
	if len(t.ins[i].ch) != 0 {
		return false
	}
	for _, in := range t.ins {
		if !in.blocked.Load() && !in.held.Load() && len(in.ch) > 0 {
			return false
		}
	}
	return true
}

// hold holds back (or releases) every input but side (InputPreferrer).
func (t *task) hold(tc *TaskCtx, side int, on bool) {
	for _, in := range t.ins {
		if in.side != side {
			in.held.Store(on)
		}
	}
	if on {
		tc.Job.Budget.release(0) // as BlockInput: senders waiting for the budget may pass
	}
}

// sideEnded reports whether every channel of input side has ended.
func (t *task) sideEnded(side int) bool {
	for _, in := range t.ins {
		if in.side == side && !in.ended {
			return false
		}
	}
	return true
}

// wake tells the task that a message was queued on one of its inputs.
func (t *task) wake() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// SourceFn produces a source subtask's output; it returns when the input is exhausted.
type SourceFn func(tc *TaskCtx, out Emitter) error

// ticker is implemented by operators that need a periodic call (processing-time timers).
type ticker interface {
	TickInterval() time.Duration
	OnTick(out Emitter) error
}

// build links the chain: head -> op0 -> op1 -> ... -> router, counting each operator's
// input and output.
func (t *task) build() {
	next := Emitter(t.out)
	t.outs = make([]Emitter, len(t.chain))
	links := make([]Emitter, len(t.chain))
	opMs := t.metrics[len(t.metrics)-len(t.chain):]
	for i := len(t.chain) - 1; i >= 0; i-- {
		t.outs[i] = &countingEmitter{next: next, m: opMs[i]}
		links[i] = &chainLink{op: t.chain[i], next: t.outs[i], m: opMs[i]}
		next = links[i]
	}
	t.head = next
	if t.source != nil || len(t.chain) == 0 {
		t.head = &countingEmitter{next: next, m: t.metrics[0]}
	}
	last := t.metrics[len(t.metrics)-1]
	for _, r := range t.out.all() {
		r.m = last
	}
}

func (t *task) run(tc *TaskCtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = rberr.New(rberr.Internal, "panic in %s (subtask %d): %v\n%s", t.stage.name, t.index, r, debug.Stack())
		}
		// The checkpoint write still running ends before the task does (which
		// acknowledges the checkpoint); a failed task's writes nothing more.
		t.awaitWrite(err != nil)
		for _, op := range t.chain {
			op.Close()
		}
		if err != nil {
			t.drain()
		}
	}()
	opMs := t.metrics[len(t.metrics)-len(t.chain):]
	for i, op := range t.chain {
		c := *tc
		c.Metrics = opMs[i]
		if err := op.Open(&c); err != nil {
			return err
		}
	}
	if err := t.restore(tc); err != nil {
		return err
	}
	if t.source != nil {
		c := *tc
		c.Metrics = t.metrics[0]
		if err := t.source(&c, t.head); err != nil {
			return err
		}
	} else if err := t.loop(tc); err != nil {
		return err
	}
	// The write of the last checkpoint the task took acknowledges it before the task
	// finishes: what it prepares on finishing belongs to the checkpoints after that one
	// (see prepareFinal).
	t.awaitWrite(false)
	if tc.Job.stopNoDrain.Load() {
		// A stop without drain: end the stream without firing pending windows.
		return t.out.end()
	}
	// End of input: the final watermark, then finish each operator in chain order.
	if err := t.head.Emit(Message{Kind: MsgWatermark, N: WatermarkMax}); err != nil {
		return err
	}
	for i, op := range t.chain {
		if err := op.Finish(t.outs[i]); err != nil {
			return err
		}
	}
	if tc.Job.ckpt != nil {
		if err := tc.Job.ckpt.prepareFinal(t); err != nil {
			return err
		}
	}
	return t.out.end()
}

// loop reads the input channels until every one has ended, keeping the minimum
// watermark over the input channels that are not idle. It reads the inputs that are not
// blocked in turn, so none is starved, and waits when none has a message.
func (t *task) loop(tc *TaskCtx) error {
	n := len(t.ins)
	wms := make([]int64, n)
	idle := make([]bool, n)
	for i := range wms {
		wms[i] = math.MinInt64
	}
	current := int64(math.MinInt64)
	ended := 0
	// Every upstream subtask broadcasts a source's split count (MsgSourceDone); passed on
	// once, not once per input: else each stage of nested unions multiplied the copies by
	// its parallelism (2^20 of them through 20 unions at parallelism 2).
	sourcesDone := map[uint64]bool{}
	var tick <-chan time.Time
	for _, op := range t.chain {
		if tk, ok := op.(ticker); ok && tk.TickInterval() > 0 {
			tm := time.NewTicker(tk.TickInterval())
			defer tm.Stop()
			tick = tm.C
			break
		}
	}
	onTick := func() error {
		if t.stopping {
			return nil
		}
		for i, op := range t.chain {
			if tk, ok := op.(ticker); ok {
				if err := tk.OnTick(t.outs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	next := 0 // the input to try first, round robin
	prefer, hold, holding := -1, false, false
	var ender InputEnder
	if len(t.chain) > 0 && n > 1 {
		if p, ok := t.chain[0].(InputPreferrer); ok {
			prefer, hold = p.PreferredInput()
		}
		ender, _ = t.chain[0].(InputEnder)
	}
	defer func() {
		if holding {
			t.hold(tc, prefer, false)
		}
	}()
	// poll takes a queued message of the first readable channel from next on (of input
	// side only, if side >= 0), and says how many channels it could read and the last.
	poll := func(side int) (m Message, got bool, readable, only int) {
		only = -1
		for k := 0; k < n; k++ {
			i := next + k
			if i >= n {
				i -= n
			}
			in := t.ins[i]
			if in.ended || in.blocked.Load() || in.held.Load() || (side >= 0 && in.side != side) {
				continue
			}
			readable++
			only = i
			select {
			case m = <-in.ch:
				next = i + 1
				if next == n {
					next = 0
				}
				return m, true, readable, only
			default:
			}
		}
		return m, false, readable, only
	}
	for ended < n {
		if hold {
			// Hold the other inputs back until the preferred one has ended, but while a
			// barrier is aligned (its other inputs' barriers are behind their rows).
			want := !t.align.active && !t.sideEnded(prefer)
			if want != holding {
				t.hold(tc, prefer, want)
				holding = want
			}
			if !want && t.sideEnded(prefer) {
				hold = false
			}
		}
		// A cancelled job stops here, before taking a message (drain frees what is queued).
		if err := tc.Ctx.Err(); err != nil {
			return err
		}
		if t.align.active {
			if err := t.abandon(tc); err != nil {
				return err
			}
		}
		if tick != nil {
			select {
			case <-tick:
				if err := onTick(); err != nil {
					return err
				}
			default:
			}
		}
		// Take a message from the first input, from next on, that has one: of the
		// preferred input first (InputPreferrer).
		var m Message
		got := false
		if prefer >= 0 {
			m, got, _, _ = poll(prefer)
		}
		readable, only := 0, -1
		if !got {
			m, got, readable, only = poll(-1)
		}
		if !got {
			// Nothing queued: wait for a sender (on the one readable input directly).
			var one chan Message
			if readable == 1 {
				one = t.ins[only].ch
			}
			select {
			case m = <-one:
				got = true
			case <-t.notify:
			case <-tick:
				if err := onTick(); err != nil {
					return err
				}
			case <-tc.Ctx.Done():
				return tc.Ctx.Err()
			}
			if !got {
				continue
			}
		}
		tc.Job.Budget.release(m.bytes)
		if m.Kind == MsgControl {
			if b, ok := m.Ctl.(Barrier); ok {
				if err := t.onBarrier(tc, m.ch, b); err != nil {
					return err
				}
				continue
			}
		}
		switch m.Kind {
		case msgEnd:
			ended++
			t.ins[m.ch].ended = true
			if !tc.Job.stopNoDrain.Load() {
				wms[m.ch] = WatermarkMax
			}
			// else a stop without drain ends the input where the savepoint was taken: its
			// watermark stays, or the other inputs' would move event time on and fire
			// windows and timers that the savepoint holds as pending (the restored job
			// fires them again).
			idle[m.ch] = false
			if err := t.onInputEnded(tc); err != nil {
				return err
			}
			// A stop without drain ends the inputs without their data having ended: a join
			// must not emit what only the end of an input decides (the unmatched rows of
			// an outer, semi or anti join), which the restored job emits when it is due.
			if side := t.ins[m.ch].side; ender != nil && t.sideEnded(side) && !tc.Job.stopNoDrain.Load() {
				if err := ender.EndInput(side, t.outs[0]); err != nil {
					return err
				}
			}
		case MsgWatermark:
			idle[m.ch] = false
			if m.N > wms[m.ch] {
				wms[m.ch] = m.N
			}
		case MsgIdle:
			idle[m.ch] = true
			all := true
			flush := int64(math.MinInt64)
			for i := range idle {
				all = all && (idle[i] || wms[i] == WatermarkMax)
				if idle[i] && wms[i] != WatermarkMax {
					flush = max(flush, wms[i])
				}
			}
			if all {
				// No input will move the watermark on: it goes to the highest of the
				// idle inputs' (as Flink's StatusWatermarkValve does), else the watermark
				// an input sent before going idle would wait for the lowest of them, which
				// may never come. Rows of an input behind it are late when it resumes.
				if flush > current {
					current = flush
					if err := t.head.Emit(Message{Kind: MsgWatermark, N: flush}); err != nil {
						return err
					}
				}
				if err := t.head.Emit(m); err != nil {
					return err
				}
				continue
			}
		default:
			if m.Kind == MsgBatch {
				idle[m.ch] = false
			}
			if m.Kind == MsgSourceDone {
				if sourcesDone[m.Seq.Source] {
					continue
				}
				sourcesDone[m.Seq.Source] = true
			}
			if err := t.head.Emit(m); err != nil {
				return err
			}
			continue
		}
		low := int64(WatermarkMax)
		active := false
		for i, w := range wms {
			if !idle[i] {
				low = min(low, w)
				active = true
			}
		}
		if active && low > current && low != WatermarkMax {
			current = low
			if err := t.head.Emit(Message{Kind: MsgWatermark, N: low}); err != nil {
				return err
			}
		}
	}
	return nil
}

// drain releases batches left in the input channels after a failure.
func (t *task) drain() {
	for _, in := range t.ins {
		for more := true; more; {
			select {
			case m := <-in.ch:
				if t.budget != nil {
					t.budget.release(m.bytes)
				}
				if m.Rec != nil {
					m.Rec.Release()
				}
			default:
				more = false
			}
		}
	}
}

// runTasks runs every task and returns the first error; the first failure cancels the
// others through cancel.
func runTasks(ctx context.Context, cancel context.CancelCauseFunc, tasks []*task, mk func(*task) *TaskCtx) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, t := range tasks {
		wg.Add(1)
		go func(t *task) {
			defer wg.Done()
			tc := mk(t)
			err := t.run(tc)
			if c := tc.Job.ckpt; c != nil {
				c.taskEnded(t, err)
			}
			if err != nil {
				once.Do(func() {
					first = err
					cancel(err)
				})
			}
		}(t)
	}
	wg.Wait()
	// A sender may have queued a batch after its receiver ended (a select between a free
	// queue slot and a cancelled context picks either): free what is left, now that no
	// task runs.
	for _, t := range tasks {
		t.drain()
	}
	if first != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil && first == context.Canceled {
			return ctxErr
		}
		return first
	}
	return nil
}

func describeTask(t *task) string {
	return fmt.Sprintf("%s[%d/%d]", t.stage.name, t.index, t.stage.Parallel)
}

// LateWatermark is the watermark a batch is judged late by: its split's watermark when it
// carries one ahead of the operator's, else the operator's.
func LateWatermark(opWM int64, m Message) int64 {
	if m.HasWM && m.WM > opWM {
		return m.WM
	}
	return opWM
}
