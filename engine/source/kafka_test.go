package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/kafka"
)

// These tests need a real Kafka broker, named by RIVERBED_KAFKA_BROKERS (`make test-go`
// starts one); they are skipped without it.
func kafkaBrokers(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("RIVERBED_KAFKA_BROKERS")
	if v == "" {
		t.Skip("RIVERBED_KAFKA_BROKERS is not set: no Kafka broker to test against (`make kafka-up` starts one)")
	}
	return strings.Split(v, ",")
}

// kafkaTopic creates a topic with n partitions and writes, to each partition p, the JSON
// values {"x": p*1000+i} for i < per, with a record that is not JSON at every offset
// listed in bad.
func kafkaTopic(t *testing.T, brokers []string, n int32, per int, bad map[int]bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := fmt.Sprintf("source-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, n, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("creating %s: %v %v", topic, err, resp.Err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < n; p++ {
		for i := 0; i < per; i++ {
			v := fmt.Sprintf(`{"x": %d}`, int(p)*1000+i)
			if bad[i] {
				v = "oops"
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return topic
}

// kafkaRow is one row read: a value (x) or a dead letter (-1 - offset) of a partition.
type kafkaRow struct {
	p int32
	x int64
}

type kafkaStep struct {
	rows []kafkaRow
	snap []byte
}

func newKafkaSource(brokers []string, topic string, restore [][]byte) *KafkaSource {
	s := &KafkaSource{
		Reader:   kafka.ReaderOptions{Brokers: brokers, MaxPollRecords: 7},
		Topics:   []string{topic},
		Start:    kafka.Earliest(),
		End:      kafka.EndAtLatest(),
		Bounded:  true,
		DeadLets: true,
		EventCol: -1,
		Decoder: kafka.DecoderOptions{Format: kafka.JSON,
			Schema:   arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil),
			Metadata: kafka.Metadata{Partition: "p"}},
	}
	if restore != nil {
		if err := s.Restore(restore); err != nil {
			panic(err)
		}
	}
	return s
}

// readKafka reads subtask (of parallel) of a Kafka source to its end, with the
// subtask's snapshot after each batch.
func readKafka(t *testing.T, src *KafkaSource, subtask, parallel int) []kafkaStep {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rc := &ReadCtx{Ctx: ctx, Stopped: make(chan struct{}), Mem: mem}
	e := src.Splits(subtask, parallel, Position{})
	defer e.Close()
	var steps []kafkaStep
	for {
		sp, ok, err := e.Next(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return steps
		}
		r, err := src.Open(rc, sp)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, _, err := r.Next(rc)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			var st kafkaStep
			if sp.Index&DeadLetterBit != 0 {
				if !rec.Schema().Equal(kafka.DeadLetterSchema) {
					t.Fatalf("dead letters of schema %s", rec.Schema())
				}
				ps := rec.Column(1).(*array.Int32).Int32Values()
				for i, o := range rec.Column(2).(*array.Int64).Int64Values() {
					st.rows = append(st.rows, kafkaRow{ps[i], -1 - o})
				}
			} else {
				ps := rec.Column(1).(*array.Int32).Int32Values()
				for i, x := range rec.Column(0).(*array.Int64).Int64Values() {
					st.rows = append(st.rows, kafkaRow{ps[i], x})
				}
			}
			rec.Release()
			if st.snap, err = src.Snapshot(subtask); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, st)
		}
		r.Close()
	}
}

func kafkaRows(steps []kafkaStep) []kafkaRow {
	var out []kafkaRow
	for _, s := range steps {
		out = append(out, s.rows...)
	}
	return out
}

func sortRows(rs []kafkaRow) []kafkaRow {
	out := append([]kafkaRow{}, rs...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].p != out[j].p {
			return out[i].p < out[j].p
		}
		return out[i].x < out[j].x
	})
	return out
}

// A bounded Kafka read gives every record once (bad ones as dead letters with their
// offsets), and resumed from the snapshot after any of its batches it reads exactly the
// rest: nothing twice, nothing missing, also at another parallelism.
func TestKafkaSourceResumesFromEveryPosition(t *testing.T) {
	brokers := kafkaBrokers(t)
	bad := map[int]bool{5: true, 17: true}
	const parts, per = 3, 30
	topic := kafkaTopic(t, brokers, parts, per, bad)
	var want []kafkaRow
	for p := int32(0); p < parts; p++ {
		for i := 0; i < per; i++ {
			if bad[i] {
				want = append(want, kafkaRow{p, -1 - int64(i)})
			} else {
				want = append(want, kafkaRow{p, int64(p)*1000 + int64(i)})
			}
		}
	}
	want = sortRows(want)
	full := readKafka(t, newKafkaSource(brokers, topic, nil), 0, 1)
	if got := sortRows(kafkaRows(full)); !reflect.DeepEqual(got, want) {
		t.Fatalf("full read: got %d rows %v, want %d", len(got), got, len(want))
	}
	if len(full) < 6 {
		t.Fatalf("%d batches; the test needs more", len(full))
	}
	for k := range full {
		read := sortRows(kafkaRows(full[:k+1]))
		rest := kafkaRows(readKafka(t, newKafkaSource(brokers, topic, [][]byte{full[k].snap}), 0, 1))
		if got := sortRows(append(read, rest...)); !reflect.DeepEqual(got, want) {
			t.Fatalf("resumed after batch %d of %d: read before %d + after %d rows, not every record once: %v", k, len(full), len(read), len(rest), got)
		}
	}
	// Restored at parallelism 2 from the middle: the two subtasks share the rest.
	k := len(full) / 2
	snap := [][]byte{full[k].snap}
	rows := sortRows(kafkaRows(full[:k+1]))
	for sub := 0; sub < 2; sub++ {
		rows = append(rows, kafkaRows(readKafka(t, newKafkaSource(brokers, topic, snap), sub, 2))...)
	}
	if got := sortRows(rows); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored at parallelism 2: %v", got)
	}
	// The last snapshot has every partition at its end: nothing is left.
	if rest := kafkaRows(readKafka(t, newKafkaSource(brokers, topic, [][]byte{full[len(full)-1].snap}), 0, 1)); len(rest) != 0 {
		t.Fatalf("resumed at the end: %d rows", len(rest))
	}
}

// Without DeadLets, a bad record fails the read with an error naming topic, partition
// and offset.
func TestKafkaSourceFailsOnBadRecord(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := kafkaTopic(t, brokers, 1, 10, map[int]bool{4: true})
	src := newKafkaSource(brokers, topic, nil)
	src.DeadLets = false
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := &ReadCtx{Ctx: ctx, Stopped: make(chan struct{}), Mem: memory.DefaultAllocator}
	e := src.Splits(0, 1, Position{})
	defer e.Close()
	for {
		sp, ok, err := e.Next(rc)
		if err != nil {
			want := fmt.Sprintf("kafka topic %q partition 0 offset 4: not valid JSON", topic)
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want %s", err, want)
			}
			return
		}
		if !ok {
			t.Fatal("the read ended without an error")
		}
		r, err := src.Open(rc, sp)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, _, err := r.Next(rc)
			if err != nil {
				break
			}
			rec.Release()
		}
		r.Close()
	}
}

// Positions round-trip through their checkpoint bytes; cut or extended bytes are an
// error, never a wrong position.
func TestKafkaPositionBytes(t *testing.T) {
	ps := KafkaPositions{{TopicPartition: kafka.TopicPartition{Topic: "a", Partition: 0}, Next: 5, End: -1},
		{TopicPartition: kafka.TopicPartition{Topic: "bé", Partition: 7}, Next: 1 << 40, End: 1<<40 + 3},
		{TopicPartition: kafka.TopicPartition{Topic: "c", Partition: 1}, Next: 9, End: -1, EventMax: -5_000_000, HasEventMax: true},
		{TopicPartition: kafka.TopicPartition{Topic: "c", Partition: 2}, Next: 9, End: -1, HasEventMax: true}}
	b, err := ps.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q KafkaPositions
	if err := q.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(q, ps) {
		t.Fatalf("%v came back as %v (%v)", ps, q, err)
	}
	// Version 1 (no event times), as checkpoints before version 2 hold it.
	v1 := []byte{1, 1, 1, 'a', 0, 10, 1}
	if err := q.UnmarshalBinary(v1); err != nil || !reflect.DeepEqual(q, ps[:1]) {
		t.Fatalf("version 1 came back as %v (%v)", q, err)
	}
	if err := q.UnmarshalBinary([]byte{3, 0}); err == nil {
		t.Fatal("an unknown version decoded")
	}
	for cut := 0; cut < len(b); cut++ {
		if err := q.UnmarshalBinary(b[:cut]); err == nil {
			t.Fatalf("cut to %d bytes decoded as %v", cut, q)
		}
	}
	if err := q.UnmarshalBinary(append(b, 0)); err == nil {
		t.Fatal("a byte more decoded")
	}
}

// A subtask's snapshot taken before its enumerator has started (Run injects a barrier it
// finds waiting before it asks for the first split, which a slow subtask of a restored
// job can meet at a stop-with-savepoint) holds the restored positions of the partitions
// the subtask owns: over the subtasks, every partition the restore handed over is in the
// snapshots once, at the position it was restored at, whatever the parallelism. Nothing
// is read, so no broker is needed.
func TestKafkaSnapshotBeforeStartKeepsRestoredPositions(t *testing.T) {
	var want KafkaPositions
	for p := int32(0); p < 5; p++ {
		want = append(want, kafka.SplitState{TopicPartition: kafka.TopicPartition{Topic: "orders", Partition: p}, Next: 100 + 7*int64(p), End: -1})
	}
	want[3].End = 140 // a bounded read's resolved end comes back too
	// and the largest event time read, for the partition's watermark
	want[1].EventMax, want[1].HasEventMax = 1_700_000_000_000_000, true
	// Stored by the two subtasks of an earlier run.
	a, err := want[:2].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, err := want[2:].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, parallel := range []int{1, 2, 3, 4} {
		src := &KafkaSource{Reader: kafka.ReaderOptions{Brokers: []string{"127.0.0.1:1"}}, Topics: []string{"orders"},
			Start: kafka.Earliest(), EventCol: -1}
		if err := src.Restore([][]byte{a, b}); err != nil {
			t.Fatal(err)
		}
		var got KafkaPositions
		for sub := 0; sub < parallel; sub++ {
			e := src.Splits(sub, parallel, Position{})
			snap, err := src.Snapshot(sub)
			e.Close()
			if err != nil {
				t.Fatal(err)
			}
			var ps KafkaPositions
			if err := ps.UnmarshalBinary(snap); err != nil {
				t.Fatal(err)
			}
			got = append(got, ps...)
		}
		sort.Slice(got, func(i, j int) bool { return got[i].Partition < got[j].Partition })
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parallelism %d: the snapshots before the first split hold %v, want the restored %v", parallel, got, want)
		}
	}
}
