package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// StartKind says where a split starts reading.
type StartKind int

const (
	// StartEarliest is the partition's log start offset.
	StartEarliest StartKind = iota
	// StartLatest is the partition's end when the split is opened (the last
	// stable offset for a read_committed reader, else the high watermark).
	StartLatest
	// StartOffset is a given offset (the position a checkpoint stored).
	StartOffset
	// StartTimestamp is the first record whose timestamp is at or after a
	// given millisecond (the end if there is none).
	StartTimestamp
)

// Start is a split's starting point.
type Start struct {
	Kind  StartKind
	Value int64 // the offset or the millisecond
}

// Earliest starts at the log start offset.
func Earliest() Start { return Start{Kind: StartEarliest} }

// Latest starts at the end of the partition.
func Latest() Start { return Start{Kind: StartLatest} }

// AtOffset starts at offset o.
func AtOffset(o int64) Start { return Start{Kind: StartOffset, Value: o} }

// AtTimestamp starts at the first record at or after ms (milliseconds since the epoch).
func AtTimestamp(ms int64) Start { return Start{Kind: StartTimestamp, Value: ms} }

// EndKind says where a split stops; EndNone reads without end.
type EndKind int

const (
	// EndNone is an unbounded split.
	EndNone EndKind = iota
	// EndOffset stops before a given offset.
	EndOffset
	// EndLatest stops at the partition's end as of opening the split.
	EndLatest
	// EndTimestamp stops before the first record at or after a given
	// millisecond (as of opening the split).
	EndTimestamp
)

// End is a split's end (exclusive).
type End struct {
	Kind  EndKind
	Value int64
}

// Unbounded reads on without end.
func Unbounded() End { return End{} }

// EndAtOffset stops before offset o.
func EndAtOffset(o int64) End { return End{Kind: EndOffset, Value: o} }

// EndAtLatest stops at the end the partition has when the split is opened.
func EndAtLatest() End { return End{Kind: EndLatest} }

// EndAtTimestamp stops before the first record at or after ms.
func EndAtTimestamp(ms int64) End { return End{Kind: EndTimestamp, Value: ms} }

// Split is one partition to read, from Start to End.
type Split struct {
	TopicPartition
	Start Start
	End   End
}

// SplitState is a split's replayable position: what a checkpoint stores and
// what Restore resumes from. Next is the offset of the next record to read
// (every record before it has been returned by Poll); End is the resolved,
// exclusive end offset, or -1 for an unbounded split. Both are concrete
// offsets, so a restored bounded read ends where the original would have.
type SplitState struct {
	TopicPartition
	Next int64
	End  int64
	// EventMax (with HasEventMax) is the largest event time (µs) of the records before
	// Next, as the engine's source keeps it in checkpoints so that a restored partition's
	// watermark starts there; the Reader neither sets nor reads it.
	EventMax    int64
	HasEventMax bool
}

// Finished reports whether a bounded split has read everything before its end.
func (s SplitState) Finished() bool { return s.End >= 0 && s.Next >= s.End }

// ReaderOptions configure NewReader.
type ReaderOptions struct {
	Brokers []string
	// ReadUncommitted also returns records of open and aborted
	// transactions (isolation.level=read_uncommitted); the default is
	// read_committed, as Flink's Kafka source.
	ReadUncommitted bool
	// MaxPollRecords bounds the records one Poll returns (default 10000).
	MaxPollRecords int
	// ClientOptions are appended to the franz-go client's options.
	ClientOptions []kgo.Opt
}

// Reader reads a set of partition splits through one franz-go client, as a
// source subtask does. Splits can be added while reading (newly discovered
// partitions). A Reader is not safe for concurrent use, except Close.
type Reader struct {
	opts   ReaderOptions
	cl     *kgo.Client
	adm    *kadm.Client
	splits map[TopicPartition]*SplitState
	done   []SplitState // finished splits not yet reported by Poll
}

// NewReader connects a reader to opts.Brokers (lazily: the first request
// dials). It reads nothing until splits are added.
func NewReader(opts ReaderOptions) (*Reader, error) {
	if len(opts.Brokers) == 0 {
		return nil, rberr.New(rberr.InvalidArgument, "kafka: no brokers given")
	}
	if opts.MaxPollRecords <= 0 {
		opts.MaxPollRecords = 10000
	}
	iso := kgo.ReadCommitted()
	if opts.ReadUncommitted {
		iso = kgo.ReadUncommitted()
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.FetchIsolationLevel(iso),
		// Control records (transaction markers) occupy offsets; seeing
		// them is how the position passes a marker at the end of a
		// bounded range. Poll drops them.
		kgo.KeepControlRecords(),
		// A stored offset that retention has since deleted resumes at
		// the log start; Poll reports the skip in PollResult.DataLoss.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	kopts = append(kopts, opts.ClientOptions...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, rberr.Wrap(rberr.InvalidArgument, err, "kafka")
	}
	return &Reader{opts: opts, cl: cl, adm: kadm.NewClient(cl), splits: map[TopicPartition]*SplitState{}}, nil
}

// Close closes the client. The reader is unusable afterwards.
func (r *Reader) Close() { r.cl.Close() }

// Client is the reader's franz-go client (for metadata and admin requests).
func (r *Reader) Client() *kgo.Client { return r.cl }

// AddSplits resolves the splits' starts and ends to offsets and starts
// reading them. It returns their states (also in Positions).
func (r *Reader) AddSplits(ctx context.Context, splits ...Split) ([]SplitState, error) {
	states := make([]SplitState, len(splits))
	for i, s := range splits {
		if _, dup := r.splits[s.TopicPartition]; dup {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: split %s is already being read", s.TopicPartition)
		}
		next, err := r.resolve(ctx, s.TopicPartition, s.Start.Kind, s.Start.Value)
		if err != nil {
			return nil, err
		}
		end := int64(-1)
		switch s.End.Kind {
		case EndNone:
		case EndOffset:
			if s.End.Value < 0 {
				return nil, rberr.New(rberr.InvalidArgument, "kafka: split %s: end offset %d is negative", s.TopicPartition, s.End.Value)
			}
			end = s.End.Value
		case EndLatest:
			end, err = r.resolve(ctx, s.TopicPartition, StartLatest, 0)
		case EndTimestamp:
			end, err = r.resolve(ctx, s.TopicPartition, StartTimestamp, s.End.Value)
		default:
			err = rberr.New(rberr.InvalidArgument, "kafka: split %s: unknown end kind %d", s.TopicPartition, s.End.Kind)
		}
		if err != nil {
			return nil, err
		}
		states[i] = SplitState{TopicPartition: s.TopicPartition, Next: next, End: end}
	}
	r.Restore(states...)
	return states, nil
}

// Restore resumes splits exactly at stored states: the first record Poll
// returns for a split is the one at its Next offset (or the first after it,
// where compaction or transaction markers left a gap).
func (r *Reader) Restore(states ...SplitState) {
	add := map[string]map[int32]kgo.Offset{}
	for _, s := range states {
		st := s
		r.splits[s.TopicPartition] = &st
		if st.Finished() {
			r.done = append(r.done, st)
			delete(r.splits, s.TopicPartition)
			continue
		}
		if add[s.Topic] == nil {
			add[s.Topic] = map[int32]kgo.Offset{}
		}
		add[s.Topic][s.Partition] = kgo.NewOffset().At(s.Next)
	}
	r.cl.AddConsumePartitions(add)
}

// HighWatermarks lists the high watermark (the offset after the last record,
// transactional or not) of each partition of tps, for lag metrics. Partitions
// the broker does not answer for are left out.
// Unlike the other methods, it may be called concurrently with them (it only
// sends an admin request through the client, which is safe for concurrent use).
func (r *Reader) HighWatermarks(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	topics := map[string]bool{}
	var names []string
	for _, tp := range tps {
		if !topics[tp.Topic] {
			topics[tp.Topic] = true
			names = append(names, tp.Topic)
		}
	}
	listed, err := r.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "kafka: listing end offsets")
	}
	out := map[TopicPartition]int64{}
	for _, tp := range tps {
		if o, ok := listed.Lookup(tp.Topic, tp.Partition); ok && o.Err == nil {
			out[tp] = o.Offset
		}
	}
	return out, nil
}

// resolve turns a start (or end) into an offset of tp.
func (r *Reader) resolve(ctx context.Context, tp TopicPartition, kind StartKind, value int64) (int64, error) {
	var (
		listed kadm.ListedOffsets
		err    error
	)
	switch kind {
	case StartOffset:
		if value < 0 {
			return 0, rberr.New(rberr.InvalidArgument, "kafka: split %s: start offset %d is negative", tp, value)
		}
		return value, nil
	case StartEarliest:
		listed, err = r.adm.ListStartOffsets(ctx, tp.Topic)
	case StartLatest:
		if r.opts.ReadUncommitted {
			listed, err = r.adm.ListEndOffsets(ctx, tp.Topic)
		} else {
			listed, err = r.adm.ListCommittedOffsets(ctx, tp.Topic)
		}
	case StartTimestamp:
		listed, err = r.adm.ListOffsetsAfterMilli(ctx, value, tp.Topic)
	default:
		return 0, rberr.New(rberr.InvalidArgument, "kafka: split %s: unknown start kind %d", tp, kind)
	}
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return 0, rberr.Wrap(rberr.IO, err, "kafka: listing offsets of %s", tp)
	}
	o, ok := listed.Lookup(tp.Topic, tp.Partition)
	if !ok {
		return 0, rberr.New(rberr.NotFound, "kafka: no partition %s", tp)
	}
	if o.Err != nil {
		return 0, rberr.Wrap(rberr.IO, o.Err, "kafka: listing offsets of %s", tp)
	}
	return o.Offset, nil
}

// Positions returns the states of the splits being read, sorted by topic and
// partition: what a checkpoint stores.
func (r *Reader) Positions() []SplitState {
	out := make([]SplitState, 0, len(r.splits))
	for _, s := range r.splits {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// PartitionRecords are the records Poll read from one split, in offset
// order, and the split's position after them.
type PartitionRecords struct {
	TopicPartition
	Records []*kgo.Record
	Next    int64
	// HighWatermark is the partition's high watermark (the offset after its last
	// record) when the records were fetched: Next's lag is HighWatermark - Next.
	HighWatermark int64
}

// PollResult is what one Poll read.
type PollResult struct {
	Partitions []PartitionRecords
	// Finished are bounded splits that reached their end (reported once;
	// they are no longer read).
	Finished []SplitState
	// DataLoss are ranges of offsets that were gone before they were read
	// (deleted by retention or DeleteRecords, or lost by the broker): the
	// position moved past them.
	DataLoss []DataLoss
}

// DataLoss is a range of a partition's offsets, [From, To), that no longer
// existed when the reader got to them: records there (if any were not
// transaction markers or aborted) were never read.
type DataLoss struct {
	TopicPartition
	From, To int64
	// Cause says how the records went: "deleted" (below the log start:
	// retention, DeleteRecords) or the broker's truncation of its log.
	Cause string
}

func (d DataLoss) Error() string {
	return fmt.Sprintf("kafka topic %q partition %d: offsets %d to %d (%d records) were lost before they were read: %s",
		d.Topic, d.Partition, d.From, d.To-1, d.To-d.From, d.Cause)
}

// deletedCause is DataLoss.Cause of offsets below the log start.
const deletedCause = "they were deleted (by retention or DeleteRecords) before the read got to them"

// Poll waits for records of the active splits (or ctx) and returns them.
// Records at or past a split's end are dropped, and a split that reaches
// its end is finished. With no active split it returns at once.
func (r *Reader) Poll(ctx context.Context) (PollResult, error) {
	var res PollResult
	if len(r.done) > 0 || len(r.splits) == 0 {
		res.Finished, r.done = r.done, nil
		return res, nil
	}
	fs := r.cl.PollRecords(ctx, r.opts.MaxPollRecords)
	if fs.IsClientClosed() {
		return res, rberr.New(rberr.Cancelled, "kafka: reader closed")
	}
	var firstErr error
	fs.EachError(func(topic string, p int32, err error) {
		var loss *kgo.ErrDataLoss
		switch {
		case errors.As(err, &loss):
			// The broker lost records it had (a truncated log): the client
			// resumed at ResetTo, having read to ConsumedTo.
			res.DataLoss = append(res.DataLoss, DataLoss{TopicPartition: TopicPartition{Topic: topic, Partition: p},
				From: min(loss.ConsumedTo, loss.ResetTo), To: max(loss.ConsumedTo, loss.ResetTo),
				Cause: "the broker lost them (its log was truncated): " + err.Error()})
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			if firstErr == nil {
				firstErr = rberr.Wrap(rberr.Cancelled, err, "kafka: poll")
			}
		default:
			if firstErr == nil {
				firstErr = rberr.Wrap(rberr.IO, err, "kafka: reading topic %q partition %d", topic, p)
			}
		}
	})
	var finished map[string][]int32
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		tp := TopicPartition{Topic: fp.Topic, Partition: fp.Partition}
		st := r.splits[tp]
		if st == nil {
			return // removed while a fetch was buffered
		}
		// Offsets below the log start that the position had not passed were
		// deleted before they were read; franz-go moves to the log start
		// without a word (an OffsetOutOfRange below the start is no error to
		// it). A record at or below the position shows that nothing is
		// missing (the log start moved after the fetch).
		lost := false
		if lo := fp.LogStartOffset; lo > st.Next && st.Next >= 0 {
			if len(fp.Records) > 0 {
				lo = min(lo, fp.Records[0].Offset)
			}
			if st.End >= 0 {
				lo = min(lo, st.End)
			}
			if lo > st.Next {
				res.DataLoss = append(res.DataLoss, DataLoss{TopicPartition: tp, From: st.Next, To: lo, Cause: deletedCause})
				st.Next, lost = lo, true
			}
		}
		if len(fp.Records) == 0 && !lost {
			return
		}
		pr := PartitionRecords{TopicPartition: tp, HighWatermark: fp.HighWatermark}
		for _, rec := range fp.Records {
			if rec.Offset < st.Next {
				continue // a fetch can start before the asked offset (compressed batches)
			}
			if st.End >= 0 && rec.Offset >= st.End {
				st.Next = st.End
				break
			}
			st.Next = rec.Offset + 1
			if !rec.Attrs.IsControl() {
				pr.Records = append(pr.Records, rec)
			}
		}
		pr.Next = st.Next
		res.Partitions = append(res.Partitions, pr)
		if st.Finished() {
			res.Finished = append(res.Finished, *st)
			delete(r.splits, tp)
			if finished == nil {
				finished = map[string][]int32{}
			}
			finished[tp.Topic] = append(finished[tp.Topic], tp.Partition)
		}
	})
	if finished != nil {
		r.cl.RemoveConsumePartitions(finished)
	}
	if firstErr != nil {
		return res, firstErr
	}
	return res, nil
}
