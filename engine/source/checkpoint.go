package source

import (
	"encoding/binary"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Source positions in checkpoints. A source stage records, per checkpoint, which of its
// splits were read completely before the subtask that read each one injected the
// checkpoint's barrier ("done", as ranges of split indices), and where each split that was
// being read at the barrier stands (its reader's Position). Every other split is read
// from its beginning after a restore. This needs no agreement between the subtasks on
// when to inject the barrier, so it serves Parquet's shared cursor (a split another
// subtask took after its barrier is simply not done) as well as a generator's blocks i,
// i+p, ... at any parallelism: a restored subtask enumerates its splits as usual, from the
// first split that is not done, skips the done ones and starts the partly read ones at
// their position.
//
// Manifest entries (state.SourcePosition, Source = the source's stable id):
//
//	Split "done"     Position: the done ranges (uvarint count, then lo, hi per range)
//	Split "<index>"  Position: Position.MarshalBinary of a split being read at the barrier
//	Split "next"     Position: where the subtask's next split starts (an Arrow input: the
//	                 position of the next slice, which its enumerator starts from)
//	Split "layout"   Position: varint of what the split numbering depends on (see layouter)
//
// A source whose subtask reads several splits at once (Kafka partitions, SplitStates)
// records none of these: per checkpoint, each subtask's Snapshot, taken when it injects the
// barrier (or, for a subtask that had ended, when the checkpoint is committed), under
//
//	Split "state/<subtask>"  Position: what Snapshot(subtask) returned
//
// and a restore hands every part to Restore before any subtask enumerates its splits.

// StartOf is implemented by sources that can start their enumerator at the beginning of
// any split (Parquet, generators). Others (Arrow inputs, read by one subtask in order)
// resume from the "next" position their subtask recorded.
type splitStarter interface {
	StartOf(split int64) Position
}

// StartOf is the position of the beginning of split i (a row group).
func (s *ParquetSource) StartOf(i int64) Position { return Position{Split: i} }

// StartOf is the position of the beginning of block i.
func (s *GenSource) StartOf(i int64) Position { return Position{Split: i, Row: i * s.Block} }

type span struct{ lo, hi int64 } // split indices [lo, hi)

// rangeSet is a set of split indices as sorted disjoint spans.
type rangeSet []span

func (r rangeSet) has(i int64) bool {
	k := sort.Search(len(r), func(k int) bool { return r[k].hi > i })
	return k < len(r) && r[k].lo <= i
}

func (r *rangeSet) add(i int64) {
	s := *r
	k := sort.Search(len(s), func(k int) bool { return s[k].hi >= i })
	switch {
	case k < len(s) && s[k].lo <= i && i < s[k].hi:
		return
	case k < len(s) && s[k].hi == i:
		s[k].hi++
		if k+1 < len(s) && s[k+1].lo == s[k].hi {
			s[k].hi = s[k+1].hi
			s = append(s[:k+1], s[k+2:]...)
		}
	case k < len(s) && s[k].lo == i+1:
		s[k].lo = i
	default:
		s = append(s, span{})
		copy(s[k+1:], s[k:])
		s[k] = span{i, i + 1}
	}
	*r = s
}

// first is the smallest index >= 0 not in the set.
func (r rangeSet) first() int64 {
	if len(r) > 0 && r[0].lo == 0 {
		return r[0].hi
	}
	return 0
}

func (r rangeSet) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(len(r)))
	for _, s := range r {
		b = binary.AppendVarint(b, s.lo)
		b = binary.AppendVarint(b, s.hi)
	}
	return b
}

func decodeRanges(b []byte) (rangeSet, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, rberr.New(rberr.Data, "source position: malformed done ranges")
	}
	b = b[k:]
	r := make(rangeSet, 0, n)
	prev := int64(-1)
	for range n {
		lo, k1 := binary.Varint(b)
		if k1 <= 0 {
			return nil, rberr.New(rberr.Data, "source position: malformed done ranges")
		}
		hi, k2 := binary.Varint(b[k1:])
		if k2 <= 0 || lo < 0 || hi <= lo || lo <= prev {
			return nil, rberr.New(rberr.Data, "source position: malformed done ranges")
		}
		b = b[k1+k2:]
		r = append(r, span{lo, hi})
		prev = hi
	}
	if len(b) != 0 {
		return nil, rberr.New(rberr.Data, "source position: %d bytes too many", len(b))
	}
	return r, nil
}

type doneSplit struct {
	index int64
	tag   uint64 // the last barrier its subtask had injected when it finished the split
}

type splitPos struct {
	index int64
	pos   Position
}

// tracker is what the subtasks of one source stage share for checkpoints.
type tracker struct {
	mu      sync.Mutex
	settled rangeSet    // done before the barrier of every checkpoint to come
	recent  []doneSplit // done, not yet settled
	atBar   map[uint64][]splitPos
	next    map[uint64][]Position

	// After a restore: the splits to skip, those to start at a position (until a subtask
	// starts them), and where enumerators start.
	restored bool
	skipped  [][2]int64 // the splits done in the restored checkpoint (runtime.SkippedSplits)
	layout   *int64     // the source's layout (see layouter), recorded in every checkpoint
	partial  map[int64]Position
	started  map[int64]uint64 // restored partial split -> tag when a subtask started it
	from     Position

	// stops: where subtasks that the job stopped (stop, limit) stopped reading; each
	// stands for the subtask in every checkpoint whose barrier it had not injected.
	stops []stopEntry

	// A SplitStates source (ss != nil) records each subtask's Snapshot instead.
	ss       SplitStates
	parallel int
	parts    map[uint64]map[int][]byte // checkpoint id -> subtask -> snapshot at its barrier
	// written: the parts a checkpoint stored, until it completes (PositionCommitter).
	written map[uint64][][]byte
}

// PositionCommitter is a SplitStates source told the positions of every checkpoint that
// completes (what every subtask stored in it), so that it can report them elsewhere (a
// Kafka source commits them to its consumer group, for monitoring). Called on the
// coordinator's goroutine; it must not block for long.
type PositionCommitter interface {
	CommitPositions(id uint64, parts [][]byte)
}

// statePrefix starts the manifest entries of a SplitStates source.
const statePrefix = "state/"

func newTracker(src Source, parallel int, restored []state.SourcePosition, restore bool) (*tracker, error) {
	t := &tracker{atBar: map[uint64][]splitPos{}, next: map[uint64][]Position{}, partial: map[int64]Position{}, started: map[int64]uint64{}}
	if ss, ok := src.(SplitStates); ok {
		t.ss, t.parallel, t.parts = ss, parallel, map[uint64]map[int][]byte{}
		if !restore {
			return t, nil
		}
		var parts [][]byte
		for _, e := range restored {
			if !strings.HasPrefix(e.Split, statePrefix) {
				return nil, rberr.New(rberr.Data, "source %s: position %q in the checkpoint is not a split state (was the source another kind of source?)", e.Source, e.Split)
			}
			parts = append(parts, e.Position)
		}
		if err := ss.Restore(parts); err != nil {
			return nil, rberr.Wrap(rberr.KindOf(err), err, "restoring source %s", restoredSource(restored))
		}
		return t, nil
	}
	lay, hasLayout := src.(layouter)
	defer func() {
		if hasLayout {
			v := lay.Layout()
			t.layout = &v
		}
	}()
	if !restore {
		return t, nil
	}
	t.restored = true
	var nexts []Position
	for _, e := range restored {
		switch e.Split {
		case "done":
			r, err := decodeRanges(e.Position)
			if err != nil {
				return nil, err
			}
			for _, s := range r {
				for i := s.lo; i < s.hi; i++ {
					t.settled.add(i)
				}
			}
		case "layout":
			v, n := binary.Varint(e.Position)
			if n <= 0 || n != len(e.Position) || v <= 0 {
				return nil, rberr.New(rberr.Data, "source %s: bad layout in the checkpoint", e.Source)
			}
			if hasLayout {
				lay.SetLayout(v)
			}
		case "next":
			var p Position
			if err := p.UnmarshalBinary(e.Position); err != nil {
				return nil, err
			}
			nexts = append(nexts, p)
		default:
			idx, err := strconv.ParseInt(e.Split, 10, 64)
			if err != nil || idx < 0 {
				return nil, rberr.New(rberr.Data, "source %s: bad split %q in the checkpoint", e.Source, e.Split)
			}
			var p Position
			if err := p.UnmarshalBinary(e.Position); err != nil {
				return nil, err
			}
			if p.Split > idx {
				// The reader had returned the split's last batch (an Arrow slice's
				// position then points at the next split): it is done.
				t.settled.add(idx)
				nexts = append(nexts, p)
				continue
			}
			t.partial[idx] = p
		}
	}
	for _, sp := range t.settled {
		t.skipped = append(t.skipped, [2]int64{sp.lo, sp.hi})
	}
	first := t.settled.first()
	if ss, ok := src.(splitStarter); ok {
		t.from = ss.StartOf(first)
	} else {
		for _, p := range nexts {
			if p.Split == first {
				t.from = p
			}
		}
	}
	return t, nil
}

func restoredSource(r []state.SourcePosition) string {
	if len(r) == 0 {
		return ""
	}
	return r[0].Source
}

// snapshot records, for checkpoint id, the split states of subtask at its barrier.
func (t *tracker) snapshot(id uint64, subtask int) error {
	b, err := t.ss.Snapshot(subtask)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.parts[id] == nil {
		t.parts[id] = map[int][]byte{}
	}
	t.parts[id][subtask] = b
	return nil
}

// splitStatePositions gives a SplitStates source's entries for checkpoint id: each
// subtask's snapshot at its barrier; a subtask that ended before it is snapshot now (it
// reads nothing more). Called with t.mu held.
func (t *tracker) splitStatePositions(id uint64) ([]state.SourcePosition, error) {
	got := t.parts[id]
	var out []state.SourcePosition
	for i := range t.parallel {
		b, ok := got[i]
		if !ok {
			var err error
			if b, err = t.ss.Snapshot(i); err != nil {
				return nil, err
			}
		}
		out = append(out, state.SourcePosition{Split: statePrefix + strconv.Itoa(i), Position: b})
	}
	for k := range t.parts {
		if k <= id {
			delete(t.parts, k)
		}
	}
	if _, ok := t.ss.(PositionCommitter); ok {
		if t.written == nil {
			t.written = map[uint64][][]byte{}
		}
		parts := make([][]byte, len(out))
		for i, e := range out {
			parts[i] = e.Position
		}
		t.written[id] = parts
	}
	return out, nil
}

// SourceCheckpointComplete hands the positions checkpoint id stored to a PositionCommitter
// source (runtime.SourceCompleter).
func (t *tracker) SourceCheckpointComplete(id uint64) {
	pc, ok := t.ss.(PositionCommitter)
	if !ok {
		return
	}
	t.mu.Lock()
	parts, ok := t.written[id]
	for k := range t.written {
		if k <= id {
			delete(t.written, k)
		}
	}
	t.mu.Unlock()
	if ok {
		pc.CommitPositions(id, parts)
	}
}

// skip reports whether a restored subtask skips split i (read before the checkpoint), and
// otherwise patches where it starts.
func (t *tracker) patch(sp *Split, tag uint64) (skip bool) {
	if !t.restored {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.settled.has(sp.Index) {
		return true
	}
	if p, ok := t.partial[sp.Index]; ok {
		sp.From = p
		if _, seen := t.started[sp.Index]; !seen {
			t.started[sp.Index] = tag
		}
	}
	return false
}

// done records that a subtask finished split i; tag is the last barrier it injected.
// open (called only now and then) is the lowest checkpoint id that can still complete:
// entries finished before it are settled, so that the list stays short without
// checkpoints too.
func (t *tracker) done(i int64, tag uint64, open func() uint64) {
	if t.ss != nil {
		return // positions are the split states
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recent = append(t.recent, doneSplit{i, tag})
	if len(t.recent) >= 256 {
		t.settle(open())
	}
}

// settle moves the done splits finished before the barrier of checkpoint id into the
// settled set. Called with t.mu held.
func (t *tracker) settle(id uint64) {
	keep := t.recent[:0]
	for _, d := range t.recent {
		if d.tag < id {
			t.settled.add(d.index)
		} else {
			keep = append(keep, d)
		}
	}
	t.recent = keep
}

// atBarrier records, for checkpoint id, a subtask's split in progress (if any) and where
// its next split starts.
func (t *tracker) atBarrier(id uint64, inProgress *splitPos, next *Position) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inProgress != nil {
		t.atBar[id] = append(t.atBar[id], *inProgress)
	}
	if next != nil {
		t.next[id] = append(t.next[id], *next)
	}
}

// stopEntry is where a subtask stopped reading: tag is the last barrier it had injected,
// cur its split in progress (if any), next where its next split starts (if known).
type stopEntry struct {
	tag  uint64
	cur  *splitPos
	next *Position
}

// stopped records where a subtask that the job stopped (rather than its input ending)
// stopped reading, for the checkpoints whose barrier it had not injected (the final
// checkpoint of a drained stop): the split it was reading resumes at its position, as
// at a barrier.
func (t *tracker) stopped(tag uint64, cur *splitPos, next *Position) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stops = append(t.stops, stopEntry{tag, cur, next})
}

// CheckpointPositions gives the stage's positions for checkpoint id, once every subtask
// has injected its barrier or finished.
func (t *tracker) CheckpointPositions(id uint64) ([]state.SourcePosition, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ss != nil {
		return t.splitStatePositions(id)
	}
	t.settle(id)
	out := []state.SourcePosition{{Split: "done", Position: t.settled.encode()}}
	inProgress := map[int64]bool{}
	at := t.atBar[id]
	nexts := t.next[id]
	for _, st := range t.stops {
		if st.tag >= id {
			continue // the subtask stopped after injecting this barrier: recorded there
		}
		if st.cur != nil {
			at = append(at[:len(at):len(at)], *st.cur)
		}
		if st.next != nil {
			nexts = append(nexts[:len(nexts):len(nexts)], *st.next)
		}
	}
	for _, sp := range at {
		b, _ := sp.pos.MarshalBinary()
		inProgress[sp.index] = true
		out = append(out, state.SourcePosition{Split: strconv.FormatInt(sp.index, 10), Position: b})
	}
	// Restored partial splits no subtask had started before its barrier keep their
	// position.
	for idx, p := range t.partial {
		if tag, ok := t.started[idx]; (ok && tag < id) || t.settled.has(idx) || inProgress[idx] {
			continue
		}
		b, _ := p.MarshalBinary()
		out = append(out, state.SourcePosition{Split: strconv.FormatInt(idx, 10), Position: b})
	}
	for _, p := range nexts {
		b, _ := p.MarshalBinary()
		out = append(out, state.SourcePosition{Split: "next", Position: b})
	}
	if t.layout != nil {
		out = append(out, state.SourcePosition{Split: "layout", Position: binary.AppendVarint(nil, *t.layout)})
	}
	for k := range t.atBar {
		if k <= id {
			delete(t.atBar, k)
		}
	}
	for k := range t.next {
		if k <= id {
			delete(t.next, k)
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Split < out[1+j].Split })
	return out, nil
}

// layouter is a source whose split numbering depends on a setting that may change from
// one run to the next (a generator's block size depends on the rate and the parallelism;
// an Arrow input's slices on the batch size). The checkpoint records it ("layout"), and a
// restored source adopts the recorded one, so that split indices mean the same splits.
type layouter interface {
	Layout() int64
	SetLayout(int64)
}

func (s *GenSource) Layout() int64       { return s.Block }
func (s *GenSource) SetLayout(v int64)   { s.Block = v }
func (s *ArrowSource) Layout() int64     { return int64(s.BatchSize) }
func (s *ArrowSource) SetLayout(v int64) { s.BatchSize = int(v) }
