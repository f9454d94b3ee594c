package source

import (
	"context"
	"errors"
	"io"
	"math"
	"runtime/debug"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Position is a replayable place in a source: reading again from it gives exactly the
// rows that came after it. What its parts count depends on the source:
//
//	Parquet     Split: index into the dataset's splits (a file's row group); Row: row within the row group
//	generator   Split: block of events;  Row: event index (from the start of the sequence)
//	Arrow table Split: slice number;  Chunk: the table's record batch;  Row: row within that batch
//
// The zero Position is the start of every source.
type Position struct {
	Split int64
	Chunk int64
	Row   int64
	// EventMax (with HasEventMax) is the largest event time (µs) the split's watermark
	// lane had read at this position, recorded in checkpoints: a restored lane starts
	// from it, so that rows late before the checkpoint are late after the restore too.
	EventMax    int64
	HasEventMax bool
}

// Split is one unit of a source's work, as its enumerator hands it out.
type Split struct {
	// Index orders the source's splits: it is the split of the sequence numbers of its
	// batches (runtime.Seq), which routers keep together and reorder restores.
	Index int64
	// From is where reading the split starts (its beginning, or a restored position).
	From Position
	// Lane is the split's watermark lane in the source's Clock; EndsLane says that the
	// lane ends with this split (its watermark stops holding the source back).
	Lane     int
	EndsLane bool
	// Safe, if HasSafe, is a watermark no row after this split in its lane is at or
	// below (batch mode: a generator's next event time).
	Safe    int64
	HasSafe bool
	// Progress: the split counts towards the job's split progress (File: its file
	// index, or -1).
	Counted bool
	File    int
	// Pruned splits are not read: no row of them can pass the filter above the scan.
	// Rows counts them as read.
	Pruned bool
	Rows   int64
	// Idle is no split but word that the subtask has nothing to read for now (every
	// Kafka partition it reads is idle): Run sends MsgIdle, so that its watermark does
	// not hold back event time downstream until it reads again.
	Idle bool
	// Wait is no split either: the enumerator has nothing for now and returns so that
	// Run can inject a checkpoint barrier meanwhile; Run asks again.
	Wait bool

	data arrow.RecordBatch // Arrow inputs: the split's rows
}

// ReadCtx is what a source's enumerator and readers may use.
type ReadCtx struct {
	Ctx     context.Context
	Stopped <-chan struct{} // closed when the job stops reading (stop, limit)
	Mem     memory.Allocator
	Eval    *expr.EvalCtx // for a filter fused into the source (nil: none may be)
}

// ErrStopped is returned by a read that the job's stop interrupted (a paced wait): the
// source ends as if its input had.
var ErrStopped = errors.New("the job stopped reading")

// Enumerator hands out the splits one subtask reads, in order.
type Enumerator interface {
	// Next returns the next split, or false when there are no more. It may block (a live
	// stream learns its splits by reading).
	Next(rc *ReadCtx) (Split, bool, error)
	// Close frees what the enumerator holds.
	Close()
}

// readCounter is a SplitReader that may read more rows than it returns (a Parquet scan
// with a fused filter): TakeRead returns the rows read since its last call, given the
// rows of the batch just returned.
type readCounter interface {
	TakeRead(returned int64) int64
}

// SplitReader reads one split from its From position.
type SplitReader interface {
	// Next returns the next batch (the caller owns it) and its chunk: where its first
	// row is in the split (what Position.Row counts), increasing along the split. It
	// returns io.EOF after the last batch, ErrStopped if the job stopped it.
	Next(rc *ReadCtx) (rec arrow.RecordBatch, chunk int64, err error)
	// Position is where reading the split resumes: after the last batch returned.
	Position() Position
	Close()
}

// Source is one input of a job. The runtime reads it through Task, which writes the
// rest once for every source: sequence numbers, split markers, progress, the split
// watermarks of the source's Clock, idleness, stop and cancel.
type Source interface {
	// Replayable reports whether reading again from a Position gives the same rows.
	// Parquet files, generators and in-memory tables are; a live Python stream (a
	// RecordBatchReader over a generator) is not: what it has produced is gone.
	Replayable() bool
	// Splits returns the enumerator of the splits subtask (of parallel) reads, starting
	// at from (the zero Position: the beginning).
	Splits(subtask, parallel int, from Position) Enumerator
	// Open returns a reader of sp starting at sp.From.
	Open(rc *ReadCtx, sp Split) (SplitReader, error)
	// Clock returns the event-time clock of subtask, or nil without event time.
	Clock(subtask int) *Clock
	// AnnouncesSplits says that the count of splits is known only at the end of the
	// input: the subtask then sends it (runtime.MsgSourceDone).
	AnnouncesSplits() bool
}

// Task returns the runtime function of subtask (of parallel) of a source, with the
// given ordinal in the plan. A source that may block (not replayable: a live stream) is
// read in a goroutine of its own, so that cancel and stop end the job at once and a wait
// longer than idle (if > 0) marks the subtask idle: it stops holding back event time.
func Task(ordinal int, src Source, subtask, parallel int, idle time.Duration) runtime.SourceFn {
	return func(tc *runtime.TaskCtx, out runtime.Emitter) error {
		return Run(tc, out, ordinal, src, subtask, parallel, Position{}, idle)
	}
}

// Run reads subtask's splits of src from position from, emitting batches, split markers
// and watermarks to out.
func Run(tc *runtime.TaskCtx, out runtime.Emitter, ordinal int, src Source, subtask, parallel int, from Position, idle time.Duration) error {
	job := tc.Job
	stop := job.SourceStop(ordinal)
	rc := &ReadCtx{Ctx: tc.Ctx, Stopped: stop, Mem: tc.Eval.Mem, Eval: tc.Eval}
	restored, restoring := tc.RestoredPositions()
	var trErr error
	tr := tc.SourceShared(func() any {
		t, err := newTracker(src, parallel, restored, restoring && src.Replayable())
		if err != nil {
			trErr = err
			return (*tracker)(nil)
		}
		return t
	}).(*tracker)
	if tr == nil {
		if trErr == nil {
			trErr = rberr.New(rberr.Data, "source %d: the checkpoint's positions cannot be read", ordinal)
		}
		return trErr
	}
	if tr.restored {
		from = tr.from
		// Operators that restore source order learn first which splits no subtask
		// reads again.
		sk := runtime.SkippedSplits{Source: uint64(ordinal), Spans: tr.skipped}
		if err := out.Emit(runtime.Message{Kind: runtime.MsgControl, Ctl: sk}); err != nil {
			return err
		}
	}
	enum := src.Splits(subtask, parallel, from)
	next := func() (Split, bool, error) { return enum.Next(rc) }
	if !src.Replayable() {
		p := startPump(enum, rc, ordinal)
		defer p.stop()
		next = func() (Split, bool, error) { return p.next(rc, idle, out) }
	} else {
		defer enum.Close()
	}
	clock := src.Clock(subtask)
	emitted := int64(math.MinInt64)
	advance := func(low int64) error {
		if low == math.MaxInt64 || low <= emitted || low == math.MinInt64 {
			return nil
		}
		emitted = low
		return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: low})
	}
	count := from.Split
	failed := func(err error) error {
		if tc.Ctx.Err() != nil {
			return tc.Ctx.Err()
		}
		return err
	}
	// Checkpoint barriers are injected between batches: the split being read (if any, at
	// gives it: asked only when a barrier comes) is recorded at its reader's position, with
	// where the next split starts.
	var lastBarrier uint64
	var nextPos *Position
	barrier := func(at func() *splitPos) (stop bool, err error) {
		b, ok := tc.PollBarrier()
		if !ok {
			return false, nil
		}
		if !src.Replayable() {
			return false, rberr.New(rberr.InvalidArgument, "source %d is a live Python stream, which cannot be read again after a restore: it cannot be checkpointed", ordinal)
		}
		if tr.ss != nil {
			// The split states after the batches emitted so far (dead letters too).
			if err := tr.snapshot(b.ID, subtask); err != nil {
				return false, err
			}
		} else {
			var cur *splitPos
			if at != nil {
				cur = at()
			}
			tr.atBarrier(b.ID, cur, nextPos)
		}
		lastBarrier = b.ID
		if err := tc.InjectBarrier(b); err != nil {
			return false, err
		}
		if b.Final {
			// Stop-with-savepoint: stop here if the savepoint completes, else go on.
			if tc.AwaitCheckpoint(b.ID) == nil {
				return true, nil
			}
			if err := tc.Ctx.Err(); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	// stopped: the job stopped the subtask (stop, limit) before its input ended; cur is
	// the split it was reading then.
	stopped := false
	var cur *splitPos
reading:
	for {
		select {
		case <-stop:
			stopped = true
			break reading
		default:
		}
		if stop, err := barrier(nil); err != nil || stop {
			if err != nil {
				return failed(err)
			}
			break
		}
		sp, ok, err := next()
		if errors.Is(err, ErrStopped) {
			stopped = true
			break
		}
		if err != nil {
			return failed(err)
		}
		if !ok {
			break
		}
		if sp.Wait {
			continue
		}
		if sp.Idle {
			if err := out.Emit(runtime.Message{Kind: runtime.MsgIdle}); err != nil {
				return err
			}
			continue
		}
		if tr.patch(&sp, lastBarrier) {
			releaseSplit(sp)
			continue // read completely before the checkpoint the job restored
		}
		if clock != nil {
			// A restored split (or an Arrow input's next one) resumes its lane's event
			// time where the checkpoint left it.
			for _, p := range []Position{sp.From, from} {
				if p.HasEventMax {
					clock.prime(sp.Lane, p.EventMax)
				}
			}
			from.HasEventMax = false
		}
		count = sp.Index + 1
		if sp.Pruned {
			job.Counters.RowsRead.Add(sp.Rows)
			job.Counters.SplitsPruned.Add(1)
		} else {
			r, err := src.Open(rc, sp)
			if err != nil {
				releaseSplit(sp)
				return failed(err)
			}
			for {
				at := func() *splitPos { return &splitPos{sp.Index, withEventMax(r.Position(), clock, sp.Lane)} }
				if stop, err := barrier(at); err != nil || stop {
					r.Close()
					if err != nil {
						return failed(err)
					}
					break reading
				}
				rec, chunk, err := r.Next(rc)
				if err == io.EOF {
					if rr, ok := r.(readCounter); ok {
						job.Counters.RowsRead.Add(rr.TakeRead(0)) // rows no row of which was kept
					}
					break
				}
				if errors.Is(err, ErrStopped) {
					stopped, cur = true, &splitPos{sp.Index, withEventMax(r.Position(), clock, sp.Lane)}
					r.Close()
					break reading
				}
				if err != nil {
					r.Close()
					return failed(err)
				}
				if rr, ok := r.(readCounter); ok {
					job.Counters.RowsRead.Add(rr.TakeRead(rec.NumRows()))
				} else {
					job.Counters.RowsRead.Add(rec.NumRows())
				}
				m := runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Seq: runtime.MakeSeq(ordinal, sp.Index, chunk)}
				if clock == nil {
					err = out.Emit(m)
				} else {
					if clock.stamp {
						m.WM, m.HasWM = clock.before(sp.Lane), true
					}
					low := clock.observe(sp.Lane, rec)
					if err = out.Emit(m); err == nil {
						err = advance(low)
					}
				}
				if err != nil {
					r.Close()
					return err
				}
			}
			p := withEventMax(r.Position(), clock, sp.Lane)
			nextPos = &p
			r.Close()
		}
		tr.done(sp.Index, lastBarrier, tc.OpenCheckpoint)
		if sp.Counted {
			job.Counters.SplitDone(sp.File)
		}
		if err := out.Emit(runtime.Message{Kind: runtime.MsgSplitDone, Seq: runtime.MakeSeq(ordinal, sp.Index, 0)}); err != nil {
			return err
		}
		if clock != nil {
			if err := advance(clock.splitDone(sp)); err != nil {
				return err
			}
		}
		if tc.Ctx.Err() != nil {
			return tc.Ctx.Err()
		}
	}
	if stopped {
		// A barrier that came meanwhile goes out at the stop (its checkpoint is then
		// complete as to this subtask); later checkpoints, a drained stop's final one
		// among them, resume the subtask where it stopped.
		if _, err := barrier(func() *splitPos { return cur }); err != nil {
			return failed(err)
		}
		if tr.ss == nil {
			tr.stopped(lastBarrier, cur, nextPos)
		}
	}
	if src.AnnouncesSplits() {
		return out.Emit(runtime.Message{Kind: runtime.MsgSourceDone, Seq: runtime.MakeSeq(ordinal, 0, 0), N: count})
	}
	return nil
}

func releaseSplit(sp Split) {
	if sp.data != nil {
		sp.data.Release()
	}
}

// pump runs a blocking enumerator in a goroutine of its own. The goroutine may outlive
// the job (a live stream blocked in a read): it frees what it holds once that read
// returns.
type pump struct {
	splits chan Split
	quit   chan struct{}
	exited chan struct{} // closed once the goroutine has freed what it held
	err    error         // written before splits is closed
}

// pumpGrace is how long stopping a pump waits for its goroutine to free what it holds: a
// read that does not block (an in-memory stream) ends at once, so that the job's memory
// is all given back when it ends; a live stream blocked in a read is left to end by itself.
const pumpGrace = 200 * time.Millisecond

func startPump(enum Enumerator, rc *ReadCtx, ordinal int) *pump {
	p := &pump{splits: make(chan Split), quit: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		defer close(p.splits)
		defer enum.Close()
		defer func() {
			if r := recover(); r != nil {
				p.err = rberr.New(rberr.Internal, "panic reading input stream %d: %v\n%s", ordinal, r, debug.Stack())
			}
		}()
		for {
			sp, ok, err := enum.Next(rc)
			if err != nil || !ok {
				p.err = err
				return
			}
			select {
			case p.splits <- sp:
			case <-p.quit:
				releaseSplit(sp)
				return
			}
		}
	}()
	return p
}

func (p *pump) stop() {
	close(p.quit)
	t := time.NewTimer(pumpGrace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	}
}

// next waits for the next split, marking the subtask idle (once per wait) when none
// came within idle.
func (p *pump) next(rc *ReadCtx, idle time.Duration, out runtime.Emitter) (Split, bool, error) {
	var timeout <-chan time.Time
	if idle > 0 {
		timer := time.NewTimer(idle)
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		select {
		case sp, ok := <-p.splits:
			if !ok {
				return Split{}, false, p.err
			}
			return sp, true, nil
		case <-timeout:
			if err := out.Emit(runtime.Message{Kind: runtime.MsgIdle}); err != nil {
				return Split{}, false, err
			}
		case <-rc.Stopped:
			return Split{}, false, ErrStopped
		case <-rc.Ctx.Done():
			return Split{}, false, rc.Ctx.Err()
		}
	}
}

// withEventMax is p with the largest event time read so far in lane of clock (nil: none).
func withEventMax(p Position, clock *Clock, lane int) Position {
	if clock != nil && clock.stamp {
		if m := clock.runningOf(lane); m != math.MinInt64 {
			p.EventMax, p.HasEventMax = m, true
		}
	}
	return p
}
