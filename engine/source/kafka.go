package source

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/kafka"
)

// KafkaSource reads Kafka topics. Its splits are partitions: a subtask reads the
// partitions assigned to it (a stable function of topic, partition and parallelism, as
// Flink's) through one client, each partition a watermark lane of its clock (per-partition
// watermarks and idleness). Unbounded, it looks for new partitions of its topics (or of
// topics matching its pattern) every Discovery, and reads them from their start.
//
// The enumerator polls Kafka and hands out one Split per partition and poll: the decoded
// rows of that partition's records (Split.Index is the partition's split number, the
// chunk its first offset). Records that cannot be decoded fail the job with an error
// naming topic, partition and offset, or, with DeadLetters, come out as dead-letter
// batches (kafka.DeadLetterSchema) under split numbers with DeadLetterBit set, which
// the plan's kafka_values / kafka_dead_letters operators tell apart.
//
// A subtask's position is the next offset of each of its partitions (KafkaPositions),
// which it cannot express as one Position: a checkpoint stores Snapshot(subtask) and a
// restore hands every stored part to Restore before the job starts (SplitStates). The
// from Position of Splits is not used.
type KafkaSource struct {
	Reader   kafka.ReaderOptions
	Topics   []string
	Pattern  *regexp.Regexp
	Start    kafka.Start                    // partitions present when the job starts
	StartAt  map[kafka.TopicPartition]int64 // start offsets by partition (others: Start)
	End      kafka.End                      // EndNone: unbounded
	EndAt    map[kafka.TopicPartition]int64 // end offsets by partition (others: End)
	Decoder  kafka.DecoderOptions
	Bounded  bool
	DeadLets bool // bad records become dead-letter batches (else they fail the job)
	// SkipDataLoss goes on past offsets that were gone before they were read (deleted
	// by retention, lost by the broker), counting and logging them; else such a loss
	// fails the job naming the partition and the offsets.
	SkipDataLoss bool
	// Discovery is how often an unbounded read looks for new partitions (0: never).
	Discovery time.Duration
	// Idle marks a partition idle after that long without records (0: never), so that
	// it stops holding back the subtask's watermark.
	Idle time.Duration
	// Poll bounds one wait for records (default 200 ms), which is how often the
	// enumerator checks stop, idleness and discovery.
	Poll time.Duration
	// EventCol, if >= 0, is the event-time column of the decoded batches, Bound the
	// max_out_of_orderness (µs): streaming watermarks per partition. Without (batch
	// mode), the source sends no watermark before its end.
	EventCol int
	Bound    int64
	// GroupID, if set, is the consumer group the offsets of every completed checkpoint
	// are committed to (for monitoring: lag tools read them; restores do not).
	GroupID string

	commitMu     sync.Mutex
	committing   bool
	commitNext   map[kafka.TopicPartition]int64
	commitNextID uint64
	commitStats  KafkaCommitStats

	hwMu      sync.Mutex
	hwListing bool
	hwAt      time.Time

	mu       sync.Mutex
	parallel int
	restored []kafka.SplitState
	subs     map[int]*kafkaSub
}

// DeadLetterBit marks the split numbers of dead-letter batches.
const DeadLetterBit = int64(1) << 62

// SplitStates is implemented by a source whose subtask reads several splits at once
// (Kafka partitions, interleaved), so that one Position does not say where it is. A
// checkpoint stores Snapshot(subtask) for every subtask, taken in the subtask's goroutine
// between batches; a restore hands every stored part (of all subtasks of the restored
// run, at any parallelism) to Restore before the job starts, and each subtask takes the
// splits it owns at the new parallelism.
type SplitStates interface {
	Snapshot(subtask int) ([]byte, error)
	Restore(parts [][]byte) error
}

var _ SplitStates = (*KafkaSource)(nil)

// kafkaSub is what the source shares with one subtask's enumerator and split readers.
type kafkaSub struct {
	mu        sync.Mutex
	clock     *Clock
	positions map[kafka.TopicPartition]kafka.SplitState // after the batches handed to the job
	laneOf    map[kafka.TopicPartition]int              // each partition's watermark lane of clock
	handed    []kafkaChunk                              // splits handed out, not opened yet
	stats     map[kafka.TopicPartition]*kafkaPartStats
	reader    *kafka.Reader // while the subtask reads: for listing high watermarks
}

// kafkaPartStats are one partition's counters (KafkaSource.Metrics).
type kafkaPartStats struct {
	hw          int64 // high watermark at the last fetch (-1: none yet)
	last        int64 // offset of the last record handed on (-1: none)
	records     int64 // records fetched
	bytes       int64 // their key and value bytes
	deadLetters int64
	lost        int64 // offsets lost before they were read (SkipDataLoss)
	rate        meter // of records and bytes, from when the subtask began reading it
}

// stat is tp's counters; called with k.mu held.
func (k *kafkaSub) stat(tp kafka.TopicPartition) *kafkaPartStats {
	if k.stats == nil {
		k.stats = map[kafka.TopicPartition]*kafkaPartStats{}
	}
	st := k.stats[tp]
	if st == nil {
		st = &kafkaPartStats{hw: -1, last: -1}
		k.stats[tp] = st
	}
	return st
}

// kafkaChunk is what one split carries: a batch (or none) and the position after it.
type kafkaChunk struct {
	index int64
	rec   arrow.RecordBatch
	state kafka.SplitState
	first int64 // chunk: the first offset
	last  int64 // the offset of its last record (0: none)
	// idleLane, if > 0, is 1 + the lane that this (empty) split marks idle.
	idleLane int
}

func (s *KafkaSource) sub(subtask int) *kafkaSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[int]*kafkaSub{}
	}
	k := s.subs[subtask]
	if k == nil {
		k = &kafkaSub{positions: map[kafka.TopicPartition]kafka.SplitState{}, laneOf: map[kafka.TopicPartition]int{}}
		if s.EventCol >= 0 {
			k.clock = NewClock(0, s.EventCol, s.Bound)
		}
		s.subs[subtask] = k
	}
	return k
}

// Replayable: reading a partition again from an offset gives the same records (within
// the topic's retention).
func (s *KafkaSource) Replayable() bool      { return true }
func (s *KafkaSource) AnnouncesSplits() bool { return false }

func (s *KafkaSource) Clock(subtask int) *Clock {
	k := s.sub(subtask)
	if k.clock == nil {
		return nil
	}
	return k.clock
}

// KafkaOwner is the subtask (of parallel) that reads partition tp, as Flink's Kafka
// enumerator assigns them: topics start at a subtask given by their name's hash, and
// their partitions follow round robin.
func KafkaOwner(tp kafka.TopicPartition, parallel int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tp.Topic))
	start := int(h.Sum32()&0x7fffffff) % parallel
	return (start + int(tp.Partition)) % parallel
}

func (s *KafkaSource) Splits(subtask, parallel int, _ Position) Enumerator {
	s.mu.Lock()
	restored := append([]kafka.SplitState(nil), s.restored...)
	s.parallel = parallel
	s.mu.Unlock()
	k := s.sub(subtask)
	// The subtask is at its restored partitions' positions from now on, not only once its
	// enumerator has started (on its first Next): a barrier can come before that (Run
	// injects one it finds waiting before asking for the first split), and its snapshot
	// must still hold them, or the next restore would read them again from their start.
	k.mu.Lock()
	for _, st := range restored {
		if _, ok := k.positions[st.TopicPartition]; !ok && KafkaOwner(st.TopicPartition, parallel) == subtask {
			k.positions[st.TopicPartition] = st
		}
	}
	k.mu.Unlock()
	return &kafkaEnum{s: s, subtask: subtask, parallel: parallel, k: k, restored: restored,
		lanes: map[kafka.TopicPartition]*kafkaLane{}}
}

// kafkaLane is one partition a subtask reads.
type kafkaLane struct {
	tp       kafka.TopicPartition
	lane     int
	index    int64 // split number: lane*parallel + subtask
	last     time.Time
	idle     bool
	finished bool
}

type kafkaEnum struct {
	s                 *KafkaSource
	subtask, parallel int
	k                 *kafkaSub
	restored          []kafka.SplitState
	r                 *kafka.Reader
	disc              *kafka.Discoverer
	dec               *kafka.Decoder
	lanes             map[kafka.TopicPartition]*kafkaLane
	order             []*kafkaLane
	active            int // unfinished partitions
	pending           []Split
	chunks            []kafkaChunk // one per pending split
	discovered        time.Time
	idleSent          bool
	started           bool
}

func (e *kafkaEnum) start(rc *ReadCtx) error {
	e.started = true
	s := e.s
	opts := s.Decoder
	opts.Mem = rc.Mem
	dec, err := kafka.NewDecoder(opts)
	if err != nil {
		return err
	}
	e.dec = dec
	if e.r, err = kafka.NewReader(s.Reader); err != nil {
		return err
	}
	e.k.mu.Lock()
	e.k.reader = e.r
	e.k.mu.Unlock()
	if e.disc, err = kafka.NewDiscoverer(e.r.Client(), s.Topics, s.Pattern); err != nil {
		return err
	}
	tps, err := e.disc.Discover(rc.Ctx)
	if err != nil {
		return err
	}
	e.discovered = time.Now()
	restored := map[kafka.TopicPartition]kafka.SplitState{}
	for _, st := range e.restored {
		if KafkaOwner(st.TopicPartition, e.parallel) == e.subtask {
			restored[st.TopicPartition] = st
		}
	}
	// Partitions stored in the checkpoint resume there, even if discovery misses them.
	for tp := range restored {
		found := false
		for _, t := range tps {
			found = found || t == tp
		}
		if !found {
			tps = append(tps, tp)
		}
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var add []kafka.Split
	var back []kafka.SplitState
	for _, tp := range tps {
		if KafkaOwner(tp, e.parallel) != e.subtask {
			continue
		}
		if st, ok := restored[tp]; ok {
			back = append(back, st)
			continue
		}
		sp := kafka.Split{TopicPartition: tp, Start: s.Start, End: s.End}
		if o, ok := s.StartAt[tp]; ok {
			sp.Start = kafka.AtOffset(o)
		}
		if o, ok := s.EndAt[tp]; ok {
			sp.End = kafka.EndAtOffset(o)
		}
		add = append(add, sp)
	}
	return e.addSplits(rc, add, back)
}

// addSplits starts reading new splits (add) and restored ones (back).
func (e *kafkaEnum) addSplits(rc *ReadCtx, add []kafka.Split, back []kafka.SplitState) error {
	states := back
	if len(add) > 0 {
		st, err := e.r.AddSplits(rc.Ctx, add...)
		if err != nil {
			return err
		}
		states = append(states, st...)
	}
	if len(back) > 0 {
		e.r.Restore(back...)
	}
	now := time.Now()
	for _, st := range states {
		l := &kafkaLane{tp: st.TopicPartition, last: now}
		l.lane = len(e.order)
		l.index = int64(l.lane)*int64(e.parallel) + int64(e.subtask)
		if e.k.clock != nil {
			e.k.clock.addLane()
			if st.HasEventMax {
				// A restored partition's watermark goes on from the event time it had read.
				e.k.clock.prime(l.lane, st.EventMax)
			}
		}
		e.lanes[st.TopicPartition] = l
		e.order = append(e.order, l)
		e.active++
		e.k.mu.Lock()
		e.k.positions[st.TopicPartition] = st
		e.k.laneOf[st.TopicPartition] = l.lane
		e.k.stat(st.TopicPartition).rate.begin(now)
		e.k.mu.Unlock()
		e.idleSent = false
	}
	return nil
}

func (e *kafkaEnum) push(sp Split, c kafkaChunk) {
	e.pending = append(e.pending, sp)
	e.chunks = append(e.chunks, c)
}

func (e *kafkaEnum) Next(rc *ReadCtx) (Split, bool, error) {
	if !e.started {
		if err := e.start(rc); err != nil {
			return Split{}, false, err
		}
	}
	s := e.s
	wait := s.Poll
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	for {
		if len(e.pending) > 0 {
			sp, c := e.pending[0], e.chunks[0]
			e.pending, e.chunks = e.pending[1:], e.chunks[1:]
			if !sp.Idle {
				e.k.mu.Lock()
				e.k.handed = append(e.k.handed, c)
				e.k.mu.Unlock()
			}
			return sp, true, nil
		}
		if s.Bounded && e.active == 0 {
			return Split{}, false, nil
		}
		select {
		case <-rc.Stopped:
			return Split{}, false, ErrStopped
		default:
		}
		if err := rc.Ctx.Err(); err != nil {
			return Split{}, false, err
		}
		now := time.Now()
		if !s.Bounded && s.Discovery > 0 && now.Sub(e.discovered) >= s.Discovery {
			e.discovered = now
			tps, err := e.disc.Discover(rc.Ctx)
			if err != nil {
				return Split{}, false, err
			}
			var add []kafka.Split
			for _, tp := range tps {
				// New partitions are read from their start, as in Flink.
				if _, known := e.lanes[tp]; !known && KafkaOwner(tp, e.parallel) == e.subtask {
					add = append(add, kafka.Split{TopicPartition: tp, Start: kafka.Earliest()})
				}
			}
			if err := e.addSplits(rc, add, nil); err != nil {
				return Split{}, false, err
			}
		}
		if err := e.poll(rc, wait); err != nil {
			return Split{}, false, err
		}
		if len(e.pending) == 0 {
			e.checkIdle(time.Now())
		}
		if len(e.pending) == 0 {
			// Nothing within one wait: let Run inject a barrier that may be waiting.
			return Split{Wait: true}, true, nil
		}
	}
}

// poll reads what Kafka has (waiting at most wait) into pending splits.
func (e *kafkaEnum) poll(rc *ReadCtx, wait time.Duration) error {
	if e.active == 0 {
		// Nothing to read (yet): wait for stop or the next discovery.
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-rc.Stopped:
		case <-rc.Ctx.Done():
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(rc.Ctx, wait)
	defer cancel()
	res, err := e.r.Poll(ctx)
	if err != nil && rc.Ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = nil // no records within wait
	}
	if err != nil {
		if rc.Ctx.Err() != nil {
			return rc.Ctx.Err()
		}
		return err
	}
	for _, d := range res.DataLoss {
		if e.lanes[d.TopicPartition] == nil {
			continue
		}
		if !e.s.SkipDataLoss {
			return rberr.New(rberr.Data, "%s; read_kafka(..., on_data_loss=\"skip\") goes on without them (counted in the metrics as lost_records)", d.Error())
		}
		e.k.mu.Lock()
		e.k.stat(d.TopicPartition).lost += d.To - d.From
		e.k.mu.Unlock()
		slog.Warn("riverbed: " + d.Error() + "; skipped (on_data_loss=\"skip\")")
	}
	now := time.Now()
	for _, pr := range res.Partitions {
		l := e.lanes[pr.TopicPartition]
		if l == nil {
			continue
		}
		st := kafka.SplitState{TopicPartition: pr.TopicPartition, Next: pr.Next, End: -1}
		if cur, ok := e.currentEnd(pr.TopicPartition); ok {
			st.End = cur
		}
		e.k.mu.Lock()
		ps := e.k.stat(pr.TopicPartition)
		ps.hw = max(ps.hw, pr.HighWatermark)
		ps.records += int64(len(pr.Records))
		for _, r := range pr.Records {
			ps.bytes += int64(len(r.Key) + len(r.Value))
		}
		if len(pr.Records) > 0 {
			ps.rate.add(now, ps.records, ps.bytes)
		}
		e.k.mu.Unlock()
		if len(pr.Records) == 0 {
			// Only transaction markers: the position still moves past them.
			e.push(Split{Index: l.index, From: Position{Split: l.index, Row: pr.Next}, Lane: l.lane}, kafkaChunk{index: l.index, state: st, first: pr.Next})
			continue
		}
		l.last = now
		if l.idle && e.k.clock != nil {
			e.k.clock.setIdle(l.lane, false)
		}
		l.idle = false
		e.idleSent = false
		if err := e.decode(rc, l, pr, st); err != nil {
			return err
		}
	}
	for _, st := range res.Finished {
		l := e.lanes[st.TopicPartition]
		if l == nil || l.finished {
			continue
		}
		l.finished = true
		e.active--
		e.push(Split{Index: l.index, From: Position{Split: l.index, Row: st.Next}, Lane: l.lane, EndsLane: true},
			kafkaChunk{index: l.index, state: st, first: st.Next})
	}
	return nil
}

// decode turns one partition's records into pending splits. Without bad records that
// is one batch. With some, the records are cut at them into runs of good records and
// runs of bad ones (dead letters, or the error that fails the job), each a split whose
// position is the offset after its last record, so that a snapshot between them counts
// every record once.
func (e *kafkaEnum) decode(rc *ReadCtx, l *kafkaLane, pr kafka.PartitionRecords, st kafka.SplitState) error {
	recs := pr.Records
	out, err := e.dec.Decode(recs)
	if err != nil {
		return err
	}
	if len(out.Bad) == 0 {
		e.push(Split{Index: l.index, From: Position{Split: l.index, Row: recs[0].Offset}, Lane: l.lane},
			kafkaChunk{index: l.index, rec: out.Batch, state: st, first: recs[0].Offset, last: recs[len(recs)-1].Offset + 1})
		return nil
	}
	out.Batch.Release()
	if !e.s.DeadLets {
		return out.Bad[0].Err()
	}
	bad := map[int64]kafka.BadRecord{}
	for _, b := range out.Bad {
		bad[b.Offset] = b
	}
	// after is the position after recs[:i].
	after := func(i int) kafka.SplitState {
		s := st
		if i < len(recs) {
			s.Next = recs[i].Offset
		}
		return s
	}
	for i := 0; i < len(recs); {
		j := i
		_, isBad := bad[recs[i].Offset]
		for j < len(recs) {
			if _, b := bad[recs[j].Offset]; b != isBad {
				break
			}
			j++
		}
		first := recs[i].Offset
		if isBad {
			var run []kafka.BadRecord
			for _, r := range recs[i:j] {
				run = append(run, bad[r.Offset])
			}
			di := l.index | DeadLetterBit
			e.k.mu.Lock()
			e.k.stat(l.tp).deadLetters += int64(len(run))
			e.k.mu.Unlock()
			e.push(Split{Index: di, From: Position{Split: di, Row: first}, Lane: l.lane},
				kafkaChunk{index: di, rec: kafka.DeadLetters(rc.Mem, run), state: after(j), first: first, last: recs[j-1].Offset + 1})
		} else {
			good, err := e.dec.Decode(recs[i:j])
			if err != nil {
				return err
			}
			if len(good.Bad) > 0 { // decoding is per record: cannot happen
				good.Batch.Release()
				return good.Bad[0].Err()
			}
			e.push(Split{Index: l.index, From: Position{Split: l.index, Row: first}, Lane: l.lane},
				kafkaChunk{index: l.index, rec: good.Batch, state: after(j), first: first, last: recs[j-1].Offset + 1})
		}
		i = j
	}
	return nil
}

// currentEnd is the resolved end of a partition being read.
func (e *kafkaEnum) currentEnd(tp kafka.TopicPartition) (int64, bool) {
	e.k.mu.Lock()
	defer e.k.mu.Unlock()
	st, ok := e.k.positions[tp]
	return st.End, ok
}

// checkIdle marks partitions without records for the idle timeout idle, and the whole
// subtask idle (an Idle split: Run sends MsgIdle) when every unfinished partition is
// idle, or it has none.
func (e *kafkaEnum) checkIdle(now time.Time) {
	all := true
	var newly []*kafkaLane
	for _, l := range e.order {
		if l.finished {
			continue
		}
		if !l.idle && e.s.Idle > 0 && now.Sub(l.last) >= e.s.Idle {
			l.idle = true
			newly = append(newly, l)
		}
		all = all && l.idle
	}
	if e.k.clock != nil {
		// Lanes go idle in the order their timeouts passed. Each gets a split without
		// rows that marks it idle when Run reads it, so that Run then sends the
		// watermark the lane no longer holds back: a lane that had rows and fell silent
		// after an empty one still has its watermark sent before it is idle too.
		sort.SliceStable(newly, func(i, j int) bool { return newly[i].last.Before(newly[j].last) })
		for _, l := range newly {
			e.k.mu.Lock()
			st := e.k.positions[l.tp]
			e.k.mu.Unlock()
			e.push(Split{Index: l.index, From: Position{Split: l.index, Row: st.Next}, Lane: l.lane},
				kafkaChunk{index: l.index, state: st, first: st.Next, idleLane: l.lane + 1})
		}
	}
	if all && !e.idleSent && !e.s.Bounded {
		e.idleSent = true
		e.pending = append(e.pending, Split{Idle: true})
		e.chunks = append(e.chunks, kafkaChunk{})
	}
}

func (e *kafkaEnum) Close() {
	for _, c := range e.chunks {
		if c.rec != nil {
			c.rec.Release()
		}
	}
	e.chunks, e.pending = nil, nil
	e.k.mu.Lock()
	for _, c := range e.k.handed {
		if c.rec != nil {
			c.rec.Release()
		}
	}
	e.k.handed = nil
	e.k.reader = nil
	e.k.mu.Unlock()
	if e.r != nil {
		e.r.Close()
	}
}

func (s *KafkaSource) Open(_ *ReadCtx, sp Split) (SplitReader, error) {
	s.mu.Lock()
	parallel := max(1, s.parallel)
	s.mu.Unlock()
	k := s.sub(int((sp.Index &^ DeadLetterBit) % int64(parallel)))
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.handed) == 0 || k.handed[0].index != sp.Index {
		return nil, rberr.New(rberr.Internal, "kafka source: split %d opened out of order", sp.Index)
	}
	c := k.handed[0]
	k.handed = k.handed[1:]
	return &kafkaReader{k: k, c: c}, nil
}

// kafkaReader returns one split's batch, and moves the subtask's position of the
// partition past it once the batch is handed to the job.
type kafkaReader struct {
	k    *kafkaSub
	c    kafkaChunk
	done bool
}

func (r *kafkaReader) Next(*ReadCtx) (arrow.RecordBatch, int64, error) {
	if r.done {
		return nil, 0, io.EOF
	}
	r.done = true
	if r.c.idleLane > 0 && r.k.clock != nil {
		r.k.clock.setIdle(r.c.idleLane-1, true)
	}
	r.k.mu.Lock()
	r.k.positions[r.c.state.TopicPartition] = r.c.state
	if r.c.last > 0 {
		if ps := r.k.stat(r.c.state.TopicPartition); r.c.last-1 > ps.last {
			ps.last = r.c.last - 1
		}
	}
	r.k.mu.Unlock()
	rec := r.c.rec
	r.c.rec = nil
	if rec == nil || rec.NumRows() == 0 {
		if rec != nil {
			rec.Release()
		}
		return nil, 0, io.EOF
	}
	return rec, r.c.first, nil
}

func (r *kafkaReader) Position() Position {
	return Position{Split: r.c.index, Row: r.c.state.Next}
}

func (r *kafkaReader) Close() {
	if r.c.rec != nil {
		r.c.rec.Release()
		r.c.rec = nil
	}
}

// KafkaPositions is a Kafka subtask's position: the state of each partition it reads
// (the next offset, and the resolved end of a bounded read).
type KafkaPositions []kafka.SplitState

// Snapshot is subtask's position after the batches it has handed to the job.
func (s *KafkaSource) Snapshot(subtask int) ([]byte, error) {
	k := s.sub(subtask)
	k.mu.Lock()
	ps := make(KafkaPositions, 0, len(k.positions))
	for tp, st := range k.positions {
		// The largest event time its lane has read; a restored partition not read yet
		// keeps the one it was restored with.
		if lane, ok := k.laneOf[tp]; ok && k.clock != nil && k.clock.stamp {
			if m := k.clock.runningOf(lane); m != math.MinInt64 {
				st.EventMax, st.HasEventMax = m, true
			}
		}
		ps = append(ps, st)
	}
	k.mu.Unlock()
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Topic != ps[j].Topic {
			return ps[i].Topic < ps[j].Topic
		}
		return ps[i].Partition < ps[j].Partition
	})
	return ps.MarshalBinary()
}

// Restore resumes the source at the positions of a checkpoint: every subtask's part.
func (s *KafkaSource) Restore(parts [][]byte) error {
	var all []kafka.SplitState
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		var ps KafkaPositions
		if err := ps.UnmarshalBinary(p); err != nil {
			return err
		}
		all = append(all, ps...)
	}
	s.mu.Lock()
	s.restored = all
	s.mu.Unlock()
	return nil
}

// MarshalBinary encodes positions for a checkpoint: a version byte, the count, then per
// partition its topic (length and bytes), partition, next offset and end (-1: none) as
// varints; version 2 adds a byte (1: the largest event time read follows, as a varint;
// 0: none). Version 1 (without) still decodes.
func (ps KafkaPositions) MarshalBinary() ([]byte, error) {
	b := []byte{2}
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, st := range ps {
		b = binary.AppendUvarint(b, uint64(len(st.Topic)))
		b = append(b, st.Topic...)
		b = binary.AppendVarint(b, int64(st.Partition))
		b = binary.AppendVarint(b, st.Next)
		b = binary.AppendVarint(b, st.End)
		if st.HasEventMax {
			b = append(b, 1)
			b = binary.AppendVarint(b, st.EventMax)
		} else {
			b = append(b, 0)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote; anything else is a Data error.
func (ps *KafkaPositions) UnmarshalBinary(b []byte) error {
	bad := func(what string) error { return rberr.New(rberr.Data, "kafka source position: %s", what) }
	if len(b) == 0 || (b[0] != 1 && b[0] != 2) {
		return bad("unknown encoding")
	}
	version := b[0]
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return bad("truncated or malformed")
	}
	b = b[k:]
	out := make(KafkaPositions, 0, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return bad("truncated or malformed")
		}
		topic := string(b[k : k+int(l)])
		b = b[k+int(l):]
		var v [3]int64
		for i := range v {
			x, k := binary.Varint(b)
			if k <= 0 {
				return bad("truncated or malformed")
			}
			v[i], b = x, b[k:]
		}
		if v[0] < 0 || v[0] > math.MaxInt32 || v[1] < 0 || v[2] < -1 {
			return bad("out of range")
		}
		st := kafka.SplitState{TopicPartition: kafka.TopicPartition{Topic: topic, Partition: int32(v[0])}, Next: v[1], End: v[2]}
		if version >= 2 {
			if len(b) == 0 || b[0] > 1 {
				return bad("truncated or malformed")
			}
			has := b[0] == 1
			b = b[1:]
			if has {
				x, k := binary.Varint(b)
				if k <= 0 {
					return bad("truncated or malformed")
				}
				st.EventMax, st.HasEventMax, b = x, true, b[k:]
			}
		}
		out = append(out, st)
	}
	if len(b) != 0 {
		return bad("bytes after the end")
	}
	*ps = out
	return nil
}

var _ PositionCommitter = (*KafkaSource)(nil)

// CommitPositions commits the offsets checkpoint id stored to the consumer group GroupID
// (if set), for monitoring only, as Flink's KafkaSource does: a restore always resumes at
// the checkpoint's offsets. The commit runs in the background, one at a time; a commit
// still waiting when a later checkpoint completes is replaced by the later one. A
// failed commit does not fail the job: it is counted (CommitStats).
func (s *KafkaSource) CommitPositions(id uint64, parts [][]byte) {
	if s.GroupID == "" {
		return
	}
	offs := map[kafka.TopicPartition]int64{}
	for _, p := range parts {
		var ps KafkaPositions
		if len(p) == 0 || ps.UnmarshalBinary(p) != nil {
			continue
		}
		for _, st := range ps {
			offs[st.TopicPartition] = st.Next
		}
	}
	s.commitMu.Lock()
	s.commitNext, s.commitNextID = offs, id
	running := s.committing
	s.committing = true
	s.commitMu.Unlock()
	if !running {
		go s.commitLoop()
	}
}

// commitLoop commits the latest offsets handed to CommitPositions until none is waiting.
func (s *KafkaSource) commitLoop() {
	for {
		s.commitMu.Lock()
		offs, id := s.commitNext, s.commitNextID
		s.commitNext = nil
		if offs == nil {
			s.committing = false
			s.commitMu.Unlock()
			return
		}
		s.commitMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := kafka.CommitGroupOffsets(ctx, s.Reader, s.GroupID, offs)
		cancel()
		s.commitMu.Lock()
		if err != nil {
			s.commitStats.Failed++
			s.commitStats.LastError = err.Error()
		} else {
			s.commitStats.Committed++
			s.commitStats.LastID = id
		}
		s.commitMu.Unlock()
	}
}

// KafkaCommitStats count the consumer-group commits of a source with a group id.
type KafkaCommitStats struct {
	Committed int64  `json:"committed"`
	Failed    int64  `json:"failed"`
	LastID    uint64 `json:"last_checkpoint"`
	LastError string `json:"last_error,omitempty"`
}

// CommitStats are the group commits so far.
func (s *KafkaSource) CommitStats() KafkaCommitStats {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	return s.commitStats
}

// KafkaPartitionMetrics are one partition's metrics: the offset of the last record
// handed on (-1: none yet), the next offset to read, the high watermark (the largest of
// the latest fetch's and the latest listing's; -1: not known yet) and the lag (records, transaction markers included, between the
// next offset and the high watermark; -1 while the high watermark is unknown), the
// records and bytes (keys and values) fetched and their rates per second over the last
// RateWindow (since the subtask began reading the partition, if that is less), and the
// dead letters.
type KafkaPartitionMetrics struct {
	Topic         string  `json:"topic"`
	Partition     int32   `json:"partition"`
	Subtask       int     `json:"subtask"`
	LastOffset    int64   `json:"last_offset"`
	NextOffset    int64   `json:"next_offset"`
	HighWatermark int64   `json:"high_watermark"`
	Lag           int64   `json:"lag"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	RecordsPerSec float64 `json:"records_per_second"`
	BytesPerSec   float64 `json:"bytes_per_second"`
	DeadLetters   int64   `json:"dead_letters"`
	LostRecords   int64   `json:"lost_records"`
}

// KafkaMetrics are a Kafka source's metrics (runtime.Stage.Gauges).
type KafkaMetrics struct {
	Partitions    []KafkaPartitionMetrics `json:"partitions"`
	Lag           int64                   `json:"lag"`                // summed over partitions with a known lag
	RecordsPerSec float64                 `json:"records_per_second"` // summed over partitions
	BytesPerSec   float64                 `json:"bytes_per_second"`   // summed over partitions
	DeadLetters   int64                   `json:"dead_letters"`
	LostRecords   int64                   `json:"lost_records"` // offsets lost before they were read (on_data_loss "skip")
	GroupID       string                  `json:"group_id,omitempty"`
	GroupCommits  *KafkaCommitStats       `json:"group_commits,omitempty"`
}

// hwInterval is how often reading the metrics lists the partitions' high watermarks
// from the broker, so that the lag stays true while fetches wait (a job held back by
// backpressure, a partition without new records).
const hwInterval = 5 * time.Second

// refreshHighWatermarks lists the high watermarks of every partition being read, in the
// background, at most every hwInterval (for metrics only: a failure changes nothing).
func (s *KafkaSource) refreshHighWatermarks() {
	s.hwMu.Lock()
	if s.hwListing || time.Since(s.hwAt) < hwInterval {
		s.hwMu.Unlock()
		return
	}
	s.hwListing, s.hwAt = true, time.Now()
	s.hwMu.Unlock()
	s.mu.Lock()
	subs := make([]*kafkaSub, 0, len(s.subs))
	for _, k := range s.subs {
		subs = append(subs, k)
	}
	s.mu.Unlock()
	go func() {
		defer func() {
			s.hwMu.Lock()
			s.hwListing = false
			s.hwMu.Unlock()
		}()
		for _, k := range subs {
			k.mu.Lock()
			r := k.reader
			var tps []kafka.TopicPartition
			for tp, pos := range k.positions {
				if !pos.Finished() {
					tps = append(tps, tp)
				}
			}
			k.mu.Unlock()
			if r == nil || len(tps) == 0 {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			hws, err := r.HighWatermarks(ctx, tps) // the client is safe for concurrent use
			cancel()
			if err != nil {
				continue
			}
			k.mu.Lock()
			for tp, hw := range hws {
				if ps := k.stat(tp); hw > ps.hw {
					ps.hw = hw
				}
			}
			k.mu.Unlock()
		}
	}()
}

// Metrics are the source's metrics now: per partition, over its subtasks. Reading them
// also refreshes the high watermarks (in the background, at most every 5 s).
func (s *KafkaSource) Metrics() KafkaMetrics {
	s.refreshHighWatermarks()
	s.mu.Lock()
	subs := make(map[int]*kafkaSub, len(s.subs))
	for i, k := range s.subs {
		subs[i] = k
	}
	s.mu.Unlock()
	out := KafkaMetrics{Partitions: []KafkaPartitionMetrics{}, GroupID: s.GroupID}
	now := time.Now()
	for i, k := range subs {
		k.mu.Lock()
		for tp, pos := range k.positions {
			m := KafkaPartitionMetrics{Topic: tp.Topic, Partition: tp.Partition, Subtask: i, LastOffset: -1,
				NextOffset: pos.Next, HighWatermark: -1, Lag: -1}
			if ps := k.stats[tp]; ps != nil {
				m.LastOffset, m.HighWatermark = ps.last, ps.hw
				m.Records, m.Bytes, m.DeadLetters, m.LostRecords = ps.records, ps.bytes, ps.deadLetters, ps.lost
				m.RecordsPerSec, m.BytesPerSec = ps.rate.rates(now, ps.records, ps.bytes)
				if ps.hw >= 0 {
					m.Lag = max(0, ps.hw-pos.Next)
					if pos.End >= 0 && pos.Next >= pos.End {
						m.Lag = 0 // a bounded read that is done
					}
				}
			}
			if m.Lag > 0 {
				out.Lag += m.Lag
			}
			out.DeadLetters += m.DeadLetters
			out.LostRecords += m.LostRecords
			out.RecordsPerSec += m.RecordsPerSec
			out.BytesPerSec += m.BytesPerSec
			out.Partitions = append(out.Partitions, m)
		}
		k.mu.Unlock()
	}
	sort.Slice(out.Partitions, func(i, j int) bool {
		a, b := out.Partitions[i], out.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	if s.GroupID != "" {
		cs := s.CommitStats()
		out.GroupCommits = &cs
	}
	return out
}
