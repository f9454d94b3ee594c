package state

import (
	"bytes"
	"container/heap"
	"os"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// TimeDomain is the clock a timer follows.
type TimeDomain uint8

const (
	// EventTime timers fire when the watermark passes them.
	EventTime TimeDomain = iota
	// ProcessingTime timers fire when the wall clock passes them.
	ProcessingTime
)

// Timer is a timer of one key and namespace (e.g. a window), as Flink's.
type Timer struct {
	KeyGroup  int
	Key       []byte
	Namespace []byte
	Timestamp int64
}

// Timers holds the event-time and processing-time timers of one subtask, per key group.
// There is at most one timer per (domain, key, namespace, timestamp): registering it again
// does nothing. Timers are kept in memory for both state backends (as Flink's heap timers)
// and are snapshotted as one Arrow IPC file per subtask. Not safe for concurrent use.
type Timers struct {
	lo, hi int
	// set[domain][kg-lo] maps an encoded timer to its generation in the heap.
	set  [2][]map[string]uint64
	heap [2]timerHeap
	gen  uint64
	mem  int64 // MemBytes: of the items in the heaps
}

type timerItem struct {
	Timer
	gen uint64
	id  string
}

type timerHeap []*timerItem

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.Timestamp != b.Timestamp {
		return a.Timestamp < b.Timestamp
	}
	if a.KeyGroup != b.KeyGroup {
		return a.KeyGroup < b.KeyGroup
	}
	if c := bytes.Compare(a.Key, b.Key); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.Namespace, b.Namespace) < 0
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*timerItem)) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

// NewTimers creates the timer service of a subtask owning key groups [lo, hi).
func NewTimers(lo, hi int) *Timers {
	s := &Timers{lo: lo, hi: hi}
	for d := range s.set {
		s.set[d] = make([]map[string]uint64, hi-lo)
	}
	return s
}

func timerID(t *Timer) string {
	b := make([]byte, 0, 16+len(t.Key)+len(t.Namespace))
	b = appendUvarintBytes(b, t.Key)
	b = appendUvarintBytes(b, t.Namespace)
	for i := 0; i < 8; i++ {
		b = append(b, byte(uint64(t.Timestamp)>>(8*i)))
	}
	return string(b)
}

func appendUvarintBytes(b, v []byte) []byte {
	n := uint64(len(v))
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	b = append(b, byte(n))
	return append(b, v...)
}

func (s *Timers) checkTimer(op string, d TimeDomain, t *Timer) error {
	if d > ProcessingTime {
		return rberr.New(rberr.InvalidArgument, "timer %s: unknown time domain %d", op, d)
	}
	if t.KeyGroup < s.lo || t.KeyGroup >= s.hi {
		return rberr.New(rberr.InvalidArgument, "timer %s: key group %d is not owned by this subtask (it owns [%d, %d))", op, t.KeyGroup, s.lo, s.hi)
	}
	return nil
}

// Register adds a timer (a no-op if it exists). The key and namespace are copied.
func (s *Timers) Register(d TimeDomain, t Timer) error {
	if err := s.checkTimer("register", d, &t); err != nil {
		return err
	}
	id := timerID(&t)
	m := s.set[d][t.KeyGroup-s.lo]
	if m == nil {
		m = map[string]uint64{}
		s.set[d][t.KeyGroup-s.lo] = m
	}
	if _, ok := m[id]; ok {
		return nil
	}
	s.gen++
	m[id] = s.gen
	t.Key, t.Namespace = clone(t.Key), clone(t.Namespace)
	it := &timerItem{Timer: t, gen: s.gen, id: id}
	s.mem += it.bytes()
	heap.Push(&s.heap[d], it)
	return nil
}

// bytes estimates the memory of a timer: its item, key, namespace and id, its slot in
// the heap and its entry in its key group's set.
func (it *timerItem) bytes() int64 {
	return int64(unsafe.Sizeof(timerItem{})) + int64(len(it.Key)+len(it.Namespace)+len(it.id)) + 8 + 48
}

// pop removes the top of domain d's heap.
func (s *Timers) pop(d TimeDomain) *timerItem {
	it := heap.Pop(&s.heap[d]).(*timerItem)
	s.mem -= it.bytes()
	return it
}

// MemBytes estimates the memory the timers take (deleted timers included until they
// leave the heap); it is O(1), for operators that count their state against a memory cap.
func (s *Timers) MemBytes() int64 { return s.mem }

// Delete removes a timer (a no-op if it does not exist).
func (s *Timers) Delete(d TimeDomain, t Timer) error {
	if err := s.checkTimer("delete", d, &t); err != nil {
		return err
	}
	delete(s.set[d][t.KeyGroup-s.lo], timerID(&t))
	return nil
}

// live drops deleted timers from the top of the heap.
func (s *Timers) live(d TimeDomain) *timerItem {
	h := &s.heap[d]
	for h.Len() > 0 {
		top := (*h)[0]
		if g, ok := s.set[d][top.KeyGroup-s.lo][top.id]; ok && g == top.gen {
			return top
		}
		s.pop(d)
	}
	return nil
}

// Next returns the earliest timestamp of a pending timer.
func (s *Timers) Next(d TimeDomain) (int64, bool) {
	if top := s.live(d); top != nil {
		return top.Timestamp, true
	}
	return 0, false
}

// Len returns the number of pending timers of a domain.
func (s *Timers) Len(d TimeDomain) int {
	n := 0
	for _, m := range s.set[d] {
		n += len(m)
	}
	return n
}

// Pop removes and returns (appended to dst) every timer with a timestamp <= upTo, in
// order of timestamp, then key group, key and namespace.
func (s *Timers) Pop(d TimeDomain, upTo int64, dst []Timer) []Timer {
	for {
		top := s.live(d)
		if top == nil || top.Timestamp > upTo {
			return dst
		}
		s.pop(d)
		delete(s.set[d][top.KeyGroup-s.lo], top.id)
		dst = append(dst, top.Timer)
	}
}

// Each calls fn with every pending timer of domain d, in no particular order (fn must
// not register or delete timers). Operators that save their timers in their own state
// tables read them with it.
func (s *Timers) Each(d TimeDomain, fn func(Timer)) {
	for _, it := range s.heap[d] {
		if g, ok := s.set[d][it.KeyGroup-s.lo][it.id]; ok && g == it.gen {
			fn(it.Timer)
		}
	}
}

var timerSchema = arrow.NewSchema([]arrow.Field{
	{Name: "domain", Type: arrow.PrimitiveTypes.Uint8},
	{Name: "key_group", Type: arrow.PrimitiveTypes.Int32},
	{Name: "key", Type: arrow.BinaryTypes.Binary},
	{Name: "namespace", Type: arrow.BinaryTypes.Binary},
	{Name: "timestamp", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// Snapshot writes the pending timers to op-<id>/kg-<lo>-<hi>/_timers.arrow and records a
// FormatTimers handle.
func (s *Timers) Snapshot(w *Writer, opID string) error {
	rel := HandleDir(opID, s.lo, s.hi) + "/_timers.arrow"
	rb := array.NewRecordBuilder(memory.DefaultAllocator, timerSchema)
	defer rb.Release()
	for d := range s.heap {
		for _, it := range s.heap[d] {
			if g, ok := s.set[d][it.KeyGroup-s.lo][it.id]; !ok || g != it.gen {
				continue
			}
			rb.Field(0).(*array.Uint8Builder).Append(uint8(d))
			rb.Field(1).(*array.Int32Builder).Append(int32(it.KeyGroup))
			rb.Field(2).(*array.BinaryBuilder).Append(it.Key)
			rb.Field(3).(*array.BinaryBuilder).Append(it.Namespace)
			rb.Field(4).(*array.Int64Builder).Append(it.Timestamp)
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	fw, err := w.Create(rel)
	if err != nil {
		return err
	}
	iw, err := ipc.NewFileWriter(fw, ipc.WithSchema(timerSchema))
	if err == nil {
		err = iw.Write(rec)
		if cerr := iw.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fw.Abort()
		return rberr.Wrap(rberr.IO, err, "write timers of operator %q", opID)
	}
	if err := fw.Commit(); err != nil {
		return err
	}
	w.AddStateHandle(opID, StateHandle{KeyGroupStart: s.lo, KeyGroupEnd: s.hi, Format: FormatTimers, Files: []string{rel}})
	return nil
}

// Restore loads the timers of the owned key groups of operator opID from snapshots taken
// at any parallelism.
func (s *Timers) Restore(cps []*Checkpoint, opID string) error {
	for _, cp := range cps {
		op := cp.Manifest.Operator(opID)
		if op == nil {
			continue
		}
		for _, h := range op.Handles {
			if h.Format != FormatTimers || h.KeyGroupEnd <= s.lo || h.KeyGroupStart >= s.hi {
				continue
			}
			for _, rel := range h.Files {
				if err := s.restoreFile(cp.Path(rel), opID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Timers) restoreFile(path, opID string) error {
	f, err := os.Open(path)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "open %s", path)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		return rberr.Wrap(rberr.Data, err, "cannot restore timers of operator %q from %s", opID, path)
	}
	defer r.Close()
	if !r.Schema().Equal(timerSchema) {
		return rberr.New(rberr.Data, "cannot restore timers of operator %q from %s: unexpected columns %v", opID, path, r.Schema().Fields())
	}
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return rberr.Wrap(rberr.Data, err, "cannot restore timers of operator %q from %s", opID, path)
		}
		ds := rec.Column(0).(*array.Uint8)
		kgs := rec.Column(1).(*array.Int32)
		keys := rec.Column(2).(*array.Binary)
		nss := rec.Column(3).(*array.Binary)
		tss := rec.Column(4).(*array.Int64)
		for row := 0; row < int(rec.NumRows()); row++ {
			kg := int(kgs.Value(row))
			if kg < s.lo || kg >= s.hi {
				continue
			}
			t := Timer{KeyGroup: kg, Key: keys.Value(row), Namespace: nss.Value(row), Timestamp: tss.Value(row)}
			if err := s.Register(TimeDomain(ds.Value(row)), t); err != nil {
				return rberr.Wrap(rberr.Data, err, "cannot restore timers of operator %q from %s", opID, path)
			}
		}
	}
	return nil
}
