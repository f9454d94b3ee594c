package kafka

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run against a real Apache Kafka broker: the one `make test-go`
// (kafka/testbroker/broker.sh) starts, or any other named by
// RIVERBED_KAFKA_BROKERS (comma-separated host:port).

const brokersEnv = "RIVERBED_KAFKA_BROKERS"

func testBrokers(t *testing.T) []string {
	t.Helper()
	v := os.Getenv(brokersEnv)
	if v == "" {
		t.Skipf("%s is not set: no Kafka broker to test against (`make kafka-up` starts one; `make test-go` starts one for its run)", brokersEnv)
	}
	return strings.Split(v, ",")
}

// testCtx is the deadline of one test: generous, so that a deadlock fails
// instead of hanging the suite.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var topicSeq atomic.Int64

// newTopic creates a fresh topic with n partitions and returns its name.
func newTopic(t *testing.T, ctx context.Context, brokers []string, n int32) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"),
		time.Now().UnixNano(), topicSeq.Add(1))
	cl := adminClient(t, brokers)
	resp, err := cl.CreateTopic(ctx, n, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
	return name
}

func adminClient(t *testing.T, brokers []string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// produce writes values to topic/partition synchronously (not transactional)
// with timestamps ts0, ts0+1, ... milliseconds.
func produce(t *testing.T, ctx context.Context, brokers []string, topic string, partition int32, ts0 int64, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v), Timestamp: time.UnixMilli(ts0 + int64(i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func seq(prefix string, lo, hi int) []string {
	var out []string
	for i := lo; i < hi; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

type readRecord struct {
	TopicPartition
	Offset int64
	Value  string
}

// drain polls r until every split is finished (bounded reads) or until want
// records were read, returning the records in the order Poll gave them.
func drain(t *testing.T, ctx context.Context, r *Reader, want int) []readRecord {
	t.Helper()
	var got []readRecord
	for len(r.Positions()) > 0 && (want < 0 || len(got) < want) {
		res, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d records: %v", len(got), err)
		}
		for _, p := range res.Partitions {
			for _, rec := range p.Records {
				got = append(got, readRecord{p.TopicPartition, rec.Offset, string(rec.Value)})
			}
			if len(p.Records) > 0 && p.Next != p.Records[len(p.Records)-1].Offset+1 && p.Next < p.Records[len(p.Records)-1].Offset+1 {
				t.Fatalf("position %d behind the last record %d", p.Next, p.Records[len(p.Records)-1].Offset)
			}
		}
	}
	return got
}

func values(rs []readRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

func TestReaderResumesFromPosition(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 2)
	produce(t, ctx, brokers, topic, 0, 1000, seq("a", 0, 300)...)
	produce(t, ctx, brokers, topic, 1, 1000, seq("b", 0, 200)...)

	r, err := NewReader(ReaderOptions{Brokers: brokers, MaxPollRecords: 70})
	if err != nil {
		t.Fatal(err)
	}
	states, err := r.AddSplits(ctx,
		Split{TopicPartition: TopicPartition{topic, 0}, Start: Earliest()},
		Split{TopicPartition: TopicPartition{topic, 1}, Start: Earliest()})
	if err != nil {
		t.Fatal(err)
	}
	if states[0].Next != 0 || states[0].End != -1 {
		t.Fatalf("initial state = %+v", states[0])
	}
	first := drain(t, ctx, r, 150)
	saved := r.Positions() // what a checkpoint stores
	r.Close()

	// Positions say exactly how much of each partition was returned.
	for _, s := range saved {
		n := int64(0)
		for _, rec := range first {
			if rec.TopicPartition == s.TopicPartition {
				if rec.Offset != n {
					t.Fatalf("%s: record at offset %d, want %d (gap or duplicate)", s.TopicPartition, rec.Offset, n)
				}
				n++
			}
		}
		if s.Next != n {
			t.Fatalf("%s: position %d, but %d records were returned", s.TopicPartition, s.Next, n)
		}
	}

	// A new reader restored from the positions reads the rest, exactly.
	r2, err := NewReader(ReaderOptions{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.Restore(saved...)
	rest := drain(t, ctx, r2, 500-len(first))
	all := append(values(first), values(rest)...)
	slices.Sort(all)
	want := append(seq("a", 0, 300), seq("b", 0, 200)...)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("read %d records (%d before the restore), want the 500 produced once each", len(all), len(first))
	}
	for _, p := range r2.Positions() {
		if wantNext := map[int32]int64{0: 300, 1: 200}[p.Partition]; p.Next != wantNext {
			t.Errorf("%s: final position %d, want %d", p.TopicPartition, p.Next, wantNext)
		}
	}
}

func TestReaderBoundedReads(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 1)
	tp := TopicPartition{topic, 0}
	// Offsets 0..99 with timestamps 5000..5099.
	produce(t, ctx, brokers, topic, 0, 5000, seq("v", 0, 100)...)

	cases := []struct {
		name   string
		start  Start
		end    End
		lo, hi int // expected offsets [lo, hi)
	}{
		{"earliest to offset", Earliest(), EndAtOffset(30), 0, 30},
		{"offset to latest", AtOffset(90), EndAtLatest(), 90, 100},
		{"timestamp to timestamp", AtTimestamp(5010), EndAtTimestamp(5020), 10, 20},
		{"latest to latest is empty", Latest(), EndAtLatest(), 100, 100},
		{"empty range", AtOffset(40), EndAtOffset(40), 40, 40},
		{"timestamp after the end", AtTimestamp(9999), EndAtLatest(), 100, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(ReaderOptions{Brokers: brokers, MaxPollRecords: 7})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := r.AddSplits(ctx, Split{TopicPartition: tp, Start: c.start, End: c.end}); err != nil {
				t.Fatal(err)
			}
			var finished []SplitState
			var got []readRecord
			for len(finished) == 0 {
				res, err := r.Poll(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range res.Partitions {
					for _, rec := range p.Records {
						got = append(got, readRecord{p.TopicPartition, rec.Offset, string(rec.Value)})
					}
				}
				finished = append(finished, res.Finished...)
			}
			if !slices.Equal(values(got), seq("v", c.lo, c.hi)) {
				t.Errorf("read %v, want v%d..v%d", values(got), c.lo, c.hi-1)
			}
			if len(finished) != 1 || finished[0].Next != int64(c.hi) || !finished[0].Finished() {
				t.Errorf("finished = %+v, want next %d", finished, c.hi)
			}
			if len(r.Positions()) != 0 {
				t.Errorf("a finished split is still read: %+v", r.Positions())
			}
			res, err := r.Poll(ctx) // returns at once with nothing to read
			if err != nil || len(res.Partitions) != 0 || len(res.Finished) != 0 {
				t.Errorf("poll after the end = %+v, %v", res, err)
			}
		})
	}

	// A bounded read restored midway ends where the original would have.
	r, err := NewReader(ReaderOptions{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Restore(SplitState{TopicPartition: tp, Next: 25, End: 31})
	got := drain(t, ctx, r, -1)
	if !slices.Equal(values(got), seq("v", 25, 31)) {
		t.Errorf("restored bounded read = %v", values(got))
	}
}

func TestReaderDecodesIntoArrow(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 1)
	produce(t, ctx, brokers, topic, 0, 0, `{"n": 1}`, `{"n": "x"}`, `{"n": 3}`)
	r, err := NewReader(ReaderOptions{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.AddSplits(ctx, Split{TopicPartition: TopicPartition{topic, 0}, Start: Earliest(), End: EndAtLatest()}); err != nil {
		t.Fatal(err)
	}
	d, err := NewDecoder(DecoderOptions{Format: JSON, Schema: arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil),
		Metadata: Metadata{Offset: "offset", Topic: "topic"}})
	if err != nil {
		t.Fatal(err)
	}
	var ns, offs []int64
	var bad []BadRecord
	for len(r.Positions()) > 0 {
		res, err := r.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Partitions {
			out, err := d.Decode(p.Records)
			if err != nil {
				t.Fatal(err)
			}
			for i := range int(out.Batch.NumRows()) {
				ns = append(ns, out.Batch.Column(0).(*array.Int64).Value(i))
				offs = append(offs, out.Batch.Column(2).(*array.Int64).Value(i))
			}
			out.Batch.Release()
			bad = append(bad, out.Bad...)
		}
	}
	if !slices.Equal(ns, []int64{1, 3}) || !slices.Equal(offs, []int64{0, 2}) {
		t.Errorf("rows n=%v offsets=%v", ns, offs)
	}
	if len(bad) != 1 || bad[0].Offset != 1 || bad[0].Topic != topic || string(bad[0].Value) != `{"n": "x"}` ||
		!strings.Contains(bad[0].Err().Error(), fmt.Sprintf("kafka topic %q partition 0 offset 1: field \"n\"", topic)) {
		t.Errorf("bad = %+v", bad)
	}
}

// readAll reads topic/0 from the start to its end as of now, with the given
// isolation, once every transaction written to it is settled.
func readAll(t *testing.T, ctx context.Context, brokers []string, topic string, uncommitted bool) []string {
	t.Helper()
	waitSettled(t, ctx, brokers, topic)
	return readNow(t, ctx, brokers, topic, uncommitted)
}

// waitSettled waits until topic/0 has no undecided transaction: the
// coordinator answers EndTxn before it writes the commit or abort markers
// into the partitions, so a read right after a commit may not see it yet.
// Settled means the last stable offset has reached the high watermark.
func waitSettled(t *testing.T, ctx context.Context, brokers []string, topic string) {
	t.Helper()
	adm := adminClient(t, brokers)
	for {
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := end.Lookup(topic, 0)
		s, _ := stable.Lookup(topic, 0)
		if e.Err == nil && s.Err == nil && e.Offset == s.Offset {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s: transactions not settled before the test's deadline (stable %d, end %d)", topic, s.Offset, e.Offset)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readNow reads topic/0 from the start to its end as of now.
func readNow(t *testing.T, ctx context.Context, brokers []string, topic string, uncommitted bool) []string {
	t.Helper()
	r, err := NewReader(ReaderOptions{Brokers: brokers, ReadUncommitted: uncommitted})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.AddSplits(ctx, Split{TopicPartition: TopicPartition{topic, 0}, Start: Earliest(), End: EndAtLatest()}); err != nil {
		t.Fatal(err)
	}
	return values(drain(t, ctx, r, -1))
}

func txnRecords(topic string, vals ...string) []*kgo.Record {
	recs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		recs[i] = &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}
	}
	return recs
}

func newTxnProducer(t *testing.T, brokers []string, id string) *TxnProducer {
	t.Helper()
	p, err := NewTxnProducer(TxnOptions{Brokers: brokers, TransactionalID: id, TransactionTimeout: time.Minute,
		ClientOptions: []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTransactionsCommitAndAbort(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 1)
	p := newTxnProducer(t, brokers, TransactionalID(topic, 0, 1))
	defer p.Close()

	// Checkpoint 1: aborted.
	if err := p.Begin(); err != nil {
		t.Fatal(err)
	}
	p.Produce(ctx, txnRecords(topic, seq("aborted", 0, 10)...)...)
	if _, err := p.PreCommit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	// Checkpoint 2: committed, in two batches of produce calls.
	if err := p.Begin(); err != nil {
		t.Fatal(err)
	}
	p.Produce(ctx, txnRecords(topic, seq("c", 0, 5)...)...)
	p.Produce(ctx, txnRecords(topic, seq("c", 5, 10)...)...)
	pending, err := p.PreCommit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pending.TransactionalID != TransactionalID(topic, 0, 1) || pending.ProducerID < 0 {
		t.Errorf("pending = %+v", pending)
	}
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	if got := readAll(t, ctx, brokers, topic, false); !slices.Equal(got, seq("c", 0, 10)) {
		t.Errorf("read_committed read %v, want c0..c9 once", got)
	}
	// The aborted records are in the log: read_uncommitted sees them.
	if got := readAll(t, ctx, brokers, topic, true); len(got) != 20 {
		t.Errorf("read_uncommitted read %d records, want 20", len(got))
	}
}

func TestCommitRestoredTransaction(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 1)

	// Subtask 0 pre-commits checkpoint 7's transaction, and the process
	// dies before the checkpoint completes (the client is dropped, nothing
	// is ended).
	p7 := newTxnProducer(t, brokers, TransactionalID(topic, 0, 7))
	if err := p7.Begin(); err != nil {
		t.Fatal(err)
	}
	p7.Produce(ctx, txnRecords(topic, seq("ck7-", 0, 5)...)...)
	pending, err := p7.PreCommit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p7.Close()
	// It had also begun checkpoint 8's transaction.
	p8 := newTxnProducer(t, brokers, TransactionalID(topic, 0, 8))
	if err := p8.Begin(); err != nil {
		t.Fatal(err)
	}
	p8.Produce(ctx, txnRecords(topic, seq("ck8-", 0, 5)...)...)
	if _, err := p8.PreCommit(ctx); err != nil {
		t.Fatal(err)
	}
	p8.Close()

	// Open transactions hold read_committed readers back.
	if got := readNow(t, ctx, brokers, topic, false); len(got) != 0 {
		t.Fatalf("before recovery read_committed read %v", got)
	}

	// Recovery from checkpoint 7: commit its transaction, abort later ones.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := CommitPending(ctx, cl, pending); err != nil {
		t.Fatal(err)
	}
	if err := CommitPending(ctx, cl, pending); err != nil {
		t.Errorf("committing the restored transaction again (a repeated recovery): %v", err)
	}
	// Probing from checkpoint 8 aborts 8 (used) and stops at 9 (never used).
	if n, err := AbortLingering(ctx, cl, topic, 0, 8); err != nil || n != 2 {
		t.Fatalf("AbortLingering probed %d ids, want 2: %v", n, err)
	}
	if got := readAll(t, ctx, brokers, topic, false); !slices.Equal(got, seq("ck7-", 0, 5)) {
		t.Errorf("after recovery read_committed read %v, want ck7-0..ck7-4 once", got)
	}
	if got := readAll(t, ctx, brokers, topic, true); len(got) != 10 {
		t.Errorf("read_uncommitted read %d records, want 10", len(got))
	}
	// Aborting by id: a transaction of checkpoint 20 left open is aborted.
	p20 := newTxnProducer(t, brokers, TransactionalID(topic, 0, 20))
	if err := p20.Begin(); err != nil {
		t.Fatal(err)
	}
	p20.Produce(ctx, txnRecords(topic, "ck20")...)
	if _, err := p20.PreCommit(ctx); err != nil {
		t.Fatal(err)
	}
	p20.Close()
	if err := AbortTransactions(ctx, cl, TransactionalID(topic, 0, 20)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ctx, brokers, topic, false); !slices.Equal(got, seq("ck7-", 0, 5)) {
		t.Errorf("after aborting checkpoint 20 read_committed read %v", got)
	}
	// A committed transaction cannot be committed with a stale identity.
	stale := pending
	stale.Epoch += 5
	if err := CommitPending(ctx, cl, stale); err == nil {
		t.Errorf("commit with a wrong epoch succeeded")
	}
}

// discoverNew discovers until something new turns up, as a running source
// does on its interval: a broker learns of a new topic or partition from the
// controller moments after it is created.
func discoverNew(t *testing.T, ctx context.Context, d *Discoverer) []TopicPartition {
	t.Helper()
	for {
		got, err := d.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatal("nothing new discovered before the test's deadline")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestDiscoverPartitions(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	d, err := NewDiscoverer(cl, []string{topic}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Discover(ctx)
	if err != nil || !slices.Equal(got, []TopicPartition{{topic, 0}, {topic, 1}}) {
		t.Fatalf("first discovery = %v, %v", got, err)
	}
	if got, err := d.Discover(ctx); err != nil || len(got) != 0 {
		t.Fatalf("second discovery = %v, %v", got, err)
	}
	if _, err := kadm.NewClient(cl).UpdatePartitions(ctx, 3, topic); err != nil {
		t.Fatal(err)
	}
	if got := discoverNew(t, ctx, d); !slices.Equal(got, []TopicPartition{{topic, 2}}) {
		t.Fatalf("after adding a partition = %v", got)
	}

	// A pattern matches whole names, and picks up new topics.
	prefix := strings.TrimSuffix(topic, "-x") + "-pat"
	a := prefix + "-a"
	for _, name := range []string{a, prefix + "-a-not" + "x", "other-" + prefix} {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	pd, err := NewDiscoverer(cl, nil, regexp.MustCompile(regexp.QuoteMeta(prefix)+`-[a-z]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := discoverNew(t, ctx, pd); !slices.Equal(got, []TopicPartition{{a, 0}}) {
		t.Fatalf("pattern discovery = %v", got)
	}
	b := prefix + "-b"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, b); err != nil {
		t.Fatal(err)
	}
	if got := discoverNew(t, ctx, pd); !slices.Equal(got, []TopicPartition{{b, 0}, {b, 1}}) {
		t.Fatalf("pattern discovery of a new topic = %v", got)
	}

	if _, err := NewDiscoverer(cl, []string{"no-such-topic-" + prefix}, nil); err != nil {
		t.Fatal(err)
	}
	missing, _ := NewDiscoverer(cl, []string{"no-such-topic-" + prefix}, nil)
	if _, err := missing.Discover(ctx); err == nil || !strings.Contains(err.Error(), "no-such-topic-") {
		t.Errorf("missing topic: %v", err)
	}
}

// Batches encoded as Arrow IPC and as JSON, written to the broker and read
// back through a reader and a decoder, equal the batches written.
func TestEncodeProduceReadDecode(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	in := buildBatch(t, userSchema, `[
		{"id": 1, "score": 2.5, "name": "a", "ts": "2024-05-06T07:08:09.123Z", "user": {"city": "Oslo", "tags": ["x"]}},
		{"id": 2, "items": [{"sku": 7, "qty": 1}]},
		{"id": 3, "blob": "AAEC", "day": "2024-05-06"}
	]`)
	defer in.Release()
	for _, format := range []Format{ArrowIPC, JSON} {
		t.Run(string(format), func(t *testing.T) {
			topic := newTopic(t, ctx, brokers, 1)
			e, err := NewEncoder(userSchema, EncoderOptions{Format: format, Topic: topic, RowsPerRecord: 2})
			if err != nil {
				t.Fatal(err)
			}
			recs, err := e.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			r, err := NewReader(ReaderOptions{Brokers: brokers})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := r.AddSplits(ctx, Split{TopicPartition: TopicPartition{topic, 0}, Start: Earliest(), End: EndAtLatest()}); err != nil {
				t.Fatal(err)
			}
			d, _ := newDecoder(t, DecoderOptions{Format: format, Schema: userSchema})
			var got []arrow.RecordBatch
			for len(r.Positions()) > 0 {
				res, err := r.Poll(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range res.Partitions {
					out, err := d.Decode(p.Records)
					if err != nil || len(out.Bad) != 0 {
						t.Fatal(err, out.Bad)
					}
					got = append(got, out.Batch)
				}
			}
			tbl := array.NewTableFromRecords(userSchema, got)
			defer tbl.Release()
			for _, b := range got {
				b.Release()
			}
			want := array.NewTableFromRecords(userSchema, []arrow.RecordBatch{in})
			defer want.Release()
			if !array.TableEqual(tbl, want) {
				t.Errorf("read back %d rows, not equal to the %d written", tbl.NumRows(), want.NumRows())
			}
		})
	}
}

// A reader started at the latest offset reads only what comes after, and a
// partition added to the topic while reading is picked up by discovery and
// read from its start.
func TestReaderLatestAndNewPartition(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 1)
	produce(t, ctx, brokers, topic, 0, 0, seq("old", 0, 5)...)

	r, err := NewReader(ReaderOptions{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, err := NewDiscoverer(r.Client(), []string{topic}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tps := discoverNew(t, ctx, d)
	if len(tps) != 1 {
		t.Fatalf("discovered %v", tps)
	}
	states, err := r.AddSplits(ctx, Split{TopicPartition: tps[0], Start: Latest()})
	if err != nil {
		t.Fatal(err)
	}
	if states[0].Next != 5 {
		t.Fatalf("latest resolved to %d, want 5", states[0].Next)
	}
	produce(t, ctx, brokers, topic, 0, 0, seq("new", 0, 3)...)
	if got := values(drain(t, ctx, r, 3)); !slices.Equal(got, seq("new", 0, 3)) {
		t.Fatalf("read %v, want new0..new2", got)
	}

	if _, err := kadm.NewClient(r.Client()).UpdatePartitions(ctx, 2, topic); err != nil {
		t.Fatal(err)
	}
	added := discoverNew(t, ctx, d)
	if !slices.Equal(added, []TopicPartition{{topic, 1}}) {
		t.Fatalf("discovered %v", added)
	}
	produce(t, ctx, brokers, topic, 1, 0, seq("p1-", 0, 4)...)
	if _, err := r.AddSplits(ctx, Split{TopicPartition: added[0], Start: Earliest()}); err != nil {
		t.Fatal(err)
	}
	got := drain(t, ctx, r, 4)
	for _, g := range got {
		if g.Partition != 1 {
			t.Fatalf("read %+v from partition 0, which had nothing new", g)
		}
	}
	if !slices.Equal(values(got), seq("p1-", 0, 4)) {
		t.Fatalf("read %v from the new partition", values(got))
	}
	if pos := r.Positions(); len(pos) != 2 || pos[0].Next != 8 || pos[1].Next != 4 {
		t.Errorf("positions = %+v", pos)
	}
}

// TestReaderReportsDeletedOffsets: positions below the log start (records deleted
// by DeleteRecords, as retention would, before they were read) come out of Poll
// as DataLoss naming the partition and the offsets, once; the read goes on at
// the log start and reads every record still there, exactly once.
func TestReaderReportsDeletedOffsets(t *testing.T) {
	brokers := testBrokers(t)
	ctx := testCtx(t)
	topic := newTopic(t, ctx, brokers, 3)
	produce(t, ctx, brokers, topic, 0, 1000, seq("a", 0, 100)...)
	produce(t, ctx, brokers, topic, 1, 1000, seq("b", 0, 50)...)
	produce(t, ctx, brokers, topic, 2, 1000, seq("c", 0, 80)...)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 60})
	del.Add(kadm.Offset{Topic: topic, Partition: 1, At: 20})
	del.Add(kadm.Offset{Topic: topic, Partition: 2, At: 30})
	resp, err := adminClient(t, brokers).DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("deleting records: %v", err)
	}

	r, err := NewReader(ReaderOptions{Brokers: brokers, MaxPollRecords: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Partition 0 resumes at 10 (lost: 10..59), partition 1 at 0 and bounded
	// at 15, all of it deleted (lost: 0..14, then finished), partition 2 at 45,
	// after the log start (nothing lost).
	r.Restore(SplitState{TopicPartition: TopicPartition{Topic: topic, Partition: 0}, Next: 10, End: -1}, SplitState{TopicPartition: TopicPartition{Topic: topic, Partition: 1}, Next: 0, End: 15},
		SplitState{TopicPartition: TopicPartition{Topic: topic, Partition: 2}, Next: 45, End: -1})
	var got []readRecord
	var losses []DataLoss
	finished := map[int32]int64{}
	for len(got) < 40+35 || len(finished) < 1 {
		res, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		losses = append(losses, res.DataLoss...)
		for _, p := range res.Partitions {
			for _, rec := range p.Records {
				got = append(got, readRecord{p.TopicPartition, rec.Offset, string(rec.Value)})
			}
		}
		for _, f := range res.Finished {
			finished[f.Partition] = f.Next
		}
	}
	slices.SortFunc(losses, func(a, b DataLoss) int { return int(a.Partition - b.Partition) })
	want := []DataLoss{{TopicPartition{topic, 0}, 10, 60, deletedCause}, {TopicPartition{topic, 1}, 0, 15, deletedCause}}
	if !slices.Equal(losses, want) {
		t.Fatalf("data loss = %+v, want %+v", losses, want)
	}
	if msg := losses[0].Error(); !strings.Contains(msg, `topic "`+topic+`" partition 0: offsets 10 to 59 (50 records)`) {
		t.Errorf("message %q does not name the partition and the offsets", msg)
	}
	if finished[1] != 15 {
		t.Errorf("partition 1 finished at %v, want 15", finished)
	}
	wantVals := append(seq("a", 60, 100), seq("c", 45, 80)...)
	gotVals := values(got)
	slices.Sort(wantVals)
	slices.Sort(gotVals)
	if !slices.Equal(gotVals, wantVals) {
		t.Fatalf("read %d records %v..., want a60..a99 and c45..c79 once each", len(gotVals), gotVals[:min(5, len(gotVals))])
	}
	for _, p := range r.Positions() {
		if wantNext := map[int32]int64{0: 100, 2: 80}[p.Partition]; p.Next != wantNext {
			t.Errorf("%s: position %d, want %d", p.TopicPartition, p.Next, wantNext)
		}
	}
}
