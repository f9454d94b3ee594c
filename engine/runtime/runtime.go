package runtime

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The runtime is push-based: every parallel subtask is a goroutine that receives messages
// on one bounded channel and pushes its output to the channels of the next stage. Data
// and control travel in the same channels, in order: batches, split markers, watermarks,
// end of input (and, with checkpoints, barriers). A full channel blocks the sender, so a
// slow operator backpressures its sources.

type msgKind uint8

const (
	MsgBatch      msgKind = iota
	MsgSplitDone          // all batches of split seq have been sent on this channel
	MsgSourceDone         // source ordinal seq>>48 has n splits in all
	MsgWatermark          // event time has reached n on this channel
	MsgIdle               // this channel carries no data for now: do not wait for its watermark
	msgEnd                // this channel will carry nothing more
)

// WatermarkMax is the final watermark: every window and timer fires.
const WatermarkMax = math.MaxInt64

// Message is what flows between subtasks.
type Message struct {
	Kind msgKind
	Rec  arrow.RecordBatch // msgBatch; owned by whoever holds the message
	Seq  uint64            // batch order: source ordinal << 48 | split << 20 | chunk
	N    int64             // msgSourceDone: split count; msgWatermark: the watermark
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

// With returns a batch message carrying rec in place of m's batch, keeping its order and
// split watermark.
func (m Message) With(rec arrow.RecordBatch) Message {
	m.Rec = rec
	return m
}

// SeqUnordered marks batches of rows an operator made (window results, join pairs,
// groups): they have no input order. Operators that break ties by input order break ties
// between such rows by their columns instead, so the choice does not depend on arrival.
const SeqUnordered = math.MaxUint64

func MakeSeq(ordinal, split, chunk int) uint64 {
	return uint64(ordinal)<<48 | uint64(split)<<20 | uint64(chunk)
}

// SplitOf drops the chunk number from a sequence.
func SplitOf(seq uint64) uint64 { return seq &^ (1<<20 - 1) }

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

// TaskCtx is what an operator may use at run time.
type TaskCtx struct {
	Ctx      context.Context
	Eval     *expr.EvalCtx
	Job      *Job
	subtask  int
	parallel int
	Metrics  *opMetrics // of the operator this context was given to
}

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
	default:
		return c.op.ProcessMarker(m, c.next)
	}
}

// task runs one subtask of a stage: a chain of operators fed by an input channel (or a
// source) and writing to an output router.
type task struct {
	stage   *Stage
	index   int
	in      chan Message
	nInputs int
	chain   []Operator
	metrics []*opMetrics // per operator; for a source stage the source's come first
	outs    []Emitter    // where operator i emits (counted)
	head    Emitter      // where the input (or the source) emits
	out     *router
	source  SourceFn
	budget  *budget // the job's buffer budget (set when the job starts)
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
	if t.source != nil {
		c := *tc
		c.Metrics = t.metrics[0]
		if err := t.source(&c, t.head); err != nil {
			return err
		}
	} else if err := t.loop(tc); err != nil {
		return err
	}
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
	return t.out.end()
}

// loop consumes the input channel until every input channel has ended, keeping the
// minimum watermark over the input channels that are not idle.
func (t *task) loop(tc *TaskCtx) error {
	wms := make([]int64, t.nInputs)
	idle := make([]bool, t.nInputs)
	for i := range wms {
		wms[i] = math.MinInt64
	}
	current := int64(math.MinInt64)
	ended := 0
	var tick <-chan time.Time
	for _, op := range t.chain {
		if tk, ok := op.(ticker); ok && tk.TickInterval() > 0 {
			tm := time.NewTicker(tk.TickInterval())
			defer tm.Stop()
			tick = tm.C
			break
		}
	}
	for ended < t.nInputs {
		var m Message
		select {
		case m = <-t.in:
			tc.Job.Budget.release(m.bytes)
		case <-tick:
			for i, op := range t.chain {
				if tk, ok := op.(ticker); ok {
					if err := tk.OnTick(t.outs[i]); err != nil {
						return err
					}
				}
			}
			continue
		case <-tc.Ctx.Done():
			return tc.Ctx.Err()
		}
		switch m.Kind {
		case msgEnd:
			ended++
			wms[m.ch] = WatermarkMax
			idle[m.ch] = false
		case MsgWatermark:
			idle[m.ch] = false
			if m.N > wms[m.ch] {
				wms[m.ch] = m.N
			}
		case MsgIdle:
			idle[m.ch] = true
			all := true
			for i := range idle {
				all = all && (idle[i] || wms[i] == WatermarkMax)
			}
			if all {
				if err := t.head.Emit(m); err != nil {
					return err
				}
				continue
			}
		default:
			if m.Kind == MsgBatch {
				idle[m.ch] = false
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

// drain releases batches left in the input channel after a failure.
func (t *task) drain() {
	if t.in == nil {
		return
	}
	for {
		select {
		case m := <-t.in:
			if t.budget != nil {
				t.budget.release(m.bytes)
			}
			if m.Rec != nil {
				m.Rec.Release()
			}
		default:
			return
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
			if err := t.run(mk(t)); err != nil {
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
