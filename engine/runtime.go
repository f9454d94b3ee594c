package engine

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The runtime is push-based: every parallel subtask is a goroutine that receives messages
// on one bounded channel and pushes its output to the channels of the next stage. Data
// and control travel in the same channels, in order: batches, split markers, watermarks,
// end of input (and, with checkpoints, barriers). A full channel blocks the sender, so a
// slow operator backpressures its sources.

type msgKind uint8

const (
	msgBatch      msgKind = iota
	msgSplitDone          // all batches of split seq have been sent on this channel
	msgSourceDone         // source ordinal seq>>48 has n splits in all
	msgWatermark          // event time has reached n on this channel
	msgEnd                // this channel will carry nothing more
)

// WatermarkMax is the final watermark: every window and timer fires.
const WatermarkMax = math.MaxInt64

// message is what flows between subtasks.
type message struct {
	kind msgKind
	rec  arrow.RecordBatch // msgBatch; owned by whoever holds the message
	seq  uint64            // batch order: source ordinal << 48 | split << 20 | chunk
	n    int64             // msgSourceDone: split count; msgWatermark: the watermark
	ch   int               // input channel index at the receiver, stamped by the sender
}

func makeSeq(ordinal, split, chunk int) uint64 {
	return uint64(ordinal)<<48 | uint64(split)<<20 | uint64(chunk)
}

// splitOf drops the chunk number from a sequence.
func splitOf(seq uint64) uint64 { return seq &^ (1<<20 - 1) }

// emitter receives an operator's output.
type emitter interface {
	emit(m message) error
}

// operator is one step of a chain. Only processBatch is required in spirit; embedding
// baseOp gives the defaults: markers and watermarks pass through, finish does nothing.
type operator interface {
	open(tc *taskCtx) error
	processBatch(m message, out emitter) error
	processMarker(m message, out emitter) error
	processWatermark(wm int64, out emitter) error
	finish(out emitter) error
	close()
}

type baseOp struct{}

func (baseOp) open(*taskCtx) error                        { return nil }
func (baseOp) processMarker(m message, out emitter) error { return out.emit(m) }
func (baseOp) processWatermark(wm int64, out emitter) error {
	return out.emit(message{kind: msgWatermark, n: wm})
}
func (baseOp) finish(emitter) error { return nil }
func (baseOp) close()               {}

// taskCtx is what an operator may use at run time.
type taskCtx struct {
	ctx      context.Context
	ec       *evalCtx
	job      *Job
	subtask  int
	parallel int
}

// chainLink feeds one operator's output to the next operator of the chain.
type chainLink struct {
	op   operator
	next emitter
}

func (c *chainLink) emit(m message) error {
	switch m.kind {
	case msgBatch:
		return c.op.processBatch(m, c.next)
	case msgWatermark:
		return c.op.processWatermark(m.n, c.next)
	case msgEnd:
		return nil // handled by the task
	default:
		return c.op.processMarker(m, c.next)
	}
}

// task runs one subtask of a stage: a chain of operators fed by an input channel (or a
// source) and writing to an output router.
type task struct {
	stage   *stage
	index   int
	in      chan message
	nInputs int
	chain   []operator
	head    emitter
	out     *router
	source  sourceFn
}

// sourceFn produces a source subtask's output; it returns when the input is exhausted.
type sourceFn func(tc *taskCtx, out emitter) error

func (t *task) run(tc *taskCtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = rberr.New(rberr.Internal, "panic in %s (subtask %d): %v\n%s", t.stage.name, t.index, r, debug.Stack())
		}
		for _, op := range t.chain {
			op.close()
		}
		if err != nil {
			t.drain()
		}
	}()
	for _, op := range t.chain {
		if err := op.open(tc); err != nil {
			return err
		}
	}
	if t.source != nil {
		if err := t.source(tc, t.head); err != nil {
			return err
		}
	} else if err := t.loop(tc); err != nil {
		return err
	}
	// End of input: the final watermark, then finish each operator in chain order.
	if err := t.head.emit(message{kind: msgWatermark, n: WatermarkMax}); err != nil {
		return err
	}
	for i, op := range t.chain {
		var next emitter = t.out
		if i+1 < len(t.chain) {
			next = t.links()[i+1]
		}
		if err := op.finish(next); err != nil {
			return err
		}
	}
	return t.out.end()
}

func (t *task) links() []emitter {
	var ls []emitter
	for e := t.head; ; {
		l, ok := e.(*chainLink)
		if !ok {
			return ls
		}
		ls = append(ls, l)
		e = l.next
	}
}

// loop consumes the input channel until every input channel has ended, keeping the
// minimum watermark over the input channels.
func (t *task) loop(tc *taskCtx) error {
	wms := make([]int64, t.nInputs)
	for i := range wms {
		wms[i] = math.MinInt64
	}
	current := int64(math.MinInt64)
	ended := 0
	for ended < t.nInputs {
		var m message
		select {
		case m = <-t.in:
		case <-tc.ctx.Done():
			return tc.ctx.Err()
		}
		switch m.kind {
		case msgEnd:
			ended++
			wms[m.ch] = WatermarkMax
		case msgWatermark:
			if m.n > wms[m.ch] {
				wms[m.ch] = m.n
			}
		default:
			if err := t.head.emit(m); err != nil {
				if m.kind == msgBatch {
					// ownership passed to the chain, which released it or not; nothing to do
				}
				return err
			}
			continue
		}
		low := int64(WatermarkMax)
		for _, w := range wms {
			low = min(low, w)
		}
		if low > current && low != WatermarkMax {
			current = low
			if err := t.head.emit(message{kind: msgWatermark, n: low}); err != nil {
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
			if m.rec != nil {
				m.rec.Release()
			}
		default:
			return
		}
	}
}

// runTasks runs every task and returns the first error; the first failure cancels the
// others through cancel.
func runTasks(ctx context.Context, cancel context.CancelCauseFunc, tasks []*task, mk func(*task) *taskCtx) error {
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
	if first != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil && first == context.Canceled {
			return ctxErr
		}
		return first
	}
	return nil
}

func describeTask(t *task) string {
	return fmt.Sprintf("%s[%d/%d]", t.stage.name, t.index, t.stage.parallel)
}
