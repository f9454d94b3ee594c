package runtime

import (
	"runtime/debug"
	"sync/atomic"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// The asynchronous part of a checkpoint (Flink's asynchronous snapshot phase). At the
// barrier a task does only what must see the state as it is then: each KeyedState
// operator saves its state into a fresh backend (which copies what it keeps, so the
// operator may change its own structures at once) and each CheckpointHook prepares its
// part. The barrier then goes downstream, and a goroutine of the task writes the saved
// state into the checkpoint (the backends' snapshot files, fsynced), writes the hooks'
// parts, closes the backends and only then acknowledges the checkpoint; a failed write
// fails the checkpoint, not the job. The checkpoint completes once every task's write has
// acknowledged, so sinks still commit only after the whole state is durable.
//
// A task has at most one write outstanding: the next barrier, the end of its input and
// its end wait for it. A write whose checkpoint was aborted (or whose task failed) stops
// before its next operator; the directory of an aborted checkpoint is deleted once no
// write is left in it (see coordinator.endWrite).

// savedPart is what one operator of a task saved at a barrier.
type savedPart struct {
	opID string
	be   state.Backend // the operator's keyed state, or nil
	hook bool          // data is a CheckpointHook's part
	data []byte
}

// snapshotWrite is a task's write of the state it saved at one barrier.
type snapshotWrite struct {
	p    *pendingCheckpoint
	stop atomic.Bool   // the task failed: write nothing more
	done chan struct{} // closed once the write has ended and acknowledged
}

// save is the synchronous part of checkpoint b: every operator of the chain saves its
// state. On error the backends saved so far are closed.
func (t *task) save(c *coordinator, b Barrier) ([]savedPart, error) {
	var parts []savedPart
	for i, op := range t.chain {
		id := t.stage.opIDs[i]
		if ks, ok := op.(KeyedState); ok {
			be, err := c.newBackend(t, ks)
			if err == nil {
				if err = ks.SaveState(be); err != nil {
					_ = be.Close()
				}
			}
			if err != nil {
				closeParts(parts)
				return nil, rberr.Wrap(rberr.KindOf(err), err, "saving the state of %s", id)
			}
			parts = append(parts, savedPart{opID: id, be: be})
		}
		if h, ok := op.(CheckpointHook); ok {
			data, err := h.PrepareCheckpoint(b)
			if err != nil {
				closeParts(parts)
				return nil, rberr.Wrap(rberr.KindOf(err), err, "preparing %s for checkpoint %d", id, b.ID)
			}
			parts = append(parts, savedPart{opID: id, hook: true, data: data})
		}
	}
	return parts, nil
}

func closeParts(parts []savedPart) {
	for _, sp := range parts {
		if sp.be != nil {
			_ = sp.be.Close()
		}
	}
}

// startWrite writes parts, saved at the barrier of checkpoint id, in the background. If
// the checkpoint was aborted meanwhile, the parts are dropped.
func (t *task) startWrite(c *coordinator, id uint64, parts []savedPart) {
	if len(parts) == 0 {
		c.ack(t, id, nil) // nothing to write: a stateless task acknowledges at the barrier
		return
	}
	p := c.beginWrite(id)
	if p == nil {
		closeParts(parts)
		return
	}
	sw := &snapshotWrite{p: p, done: make(chan struct{})}
	t.write = sw
	go func() {
		defer close(sw.done)
		err := sw.run(c, t, parts)
		c.endWrite(t, p, err)
	}()
}

func (sw *snapshotWrite) run(c *coordinator, t *task, parts []savedPart) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = rberr.New(rberr.Internal, "panic while writing checkpoint %d of %s: %v\n%s", sw.p.b.ID, describeTask(t), r, debug.Stack())
		}
		closeParts(parts)
	}()
	w := sw.p.w
	for i, sp := range parts {
		if sw.stop.Load() || c.isAborted(sw.p) {
			return rberr.New(rberr.Cancelled, "checkpoint %d: the write of %s stopped", sw.p.b.ID, describeTask(t))
		}
		if sp.hook {
			if err := w.WriteFile(hookFile(sp.opID, t.index), sp.data); err != nil {
				return err
			}
			continue
		}
		err := sp.be.Snapshot(w, sp.opID)
		if cerr := sp.be.Close(); err == nil {
			err = cerr
		}
		parts[i].be = nil
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "saving the state of %s", sp.opID)
		}
	}
	return nil
}

// awaitWrite waits for the task's outstanding write, if any, to end. With stop, the write
// is told to write nothing more (the task failed).
func (t *task) awaitWrite(stop bool) {
	sw := t.write
	if sw == nil {
		return
	}
	if stop {
		sw.stop.Store(true)
	}
	<-sw.done
	t.write = nil
}
