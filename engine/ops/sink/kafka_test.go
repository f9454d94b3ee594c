package sink

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/kafka"
)

// These tests need a real Kafka broker named by RIVERBED_KAFKA_BROKERS (`make test-go`
// starts one); they are skipped without it.
func brokers(t *testing.T) []string {
	v := os.Getenv("RIVERBED_KAFKA_BROKERS")
	if v == "" {
		t.Skip("RIVERBED_KAFKA_BROKERS is not set: no Kafka broker to test against (`make kafka-up` starts one)")
	}
	return strings.Split(v, ",")
}

var xs = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

func rows(lo, hi int64) runtime.Message {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := lo; i < hi; i++ {
		b.Append(i)
	}
	a := b.NewArray()
	defer a.Release()
	return runtime.Message{Kind: runtime.MsgBatch, Rec: array.NewRecordBatch(xs, []arrow.Array{a}, hi-lo)}
}

type collect struct{ n int }

func (c *collect) Emit(m runtime.Message) error {
	if m.Rec != nil {
		c.n += int(m.Rec.NumRows())
		m.Rec.Release()
	}
	return nil
}

func open(t *testing.T, ctx context.Context, cfg *KafkaSinkConfig, subtask int) *KafkaSinkOp {
	t.Helper()
	op := &KafkaSinkOp{Cfg: cfg, Subtask: subtask}
	job := runtime.NewJob(ctx, KafkaSummarySchema, memory.DefaultAllocator, 0)
	if err := op.Open(&runtime.TaskCtx{Ctx: ctx, Eval: expr.NewEvalCtx(ctx, memory.DefaultAllocator), Job: job}); err != nil {
		t.Fatal(err)
	}
	return op
}

// committed reads every committed value of topic once its last stable offset has reached
// its end (commit markers are written after EndTxn returns).
func committed(t *testing.T, ctx context.Context, bs []string, topic string) []int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords()) // markers too, so the reader sees when it passed a partition's end
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var end kadm.ListedOffsets
	for {
		hw, err1 := adm.ListEndOffsets(ctx, topic)
		lso, err2 := adm.ListCommittedOffsets(ctx, topic)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		settled := true
		hw.Each(func(o kadm.ListedOffset) {
			l, _ := lso.Lookup(o.Topic, o.Partition)
			settled = settled && l.Offset == o.Offset
		})
		if settled {
			end = lso
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the last stable offset never reached the end: a transaction is still open")
		case <-time.After(50 * time.Millisecond):
		}
	}
	var out []int64
	for {
		done := true
		end.Each(func(o kadm.ListedOffset) {
			// Reading is done when the consumer has passed every partition's end.
			done = done && o.Offset == 0
		})
		if done {
			break
		}
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				return
			}
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(string(r.Value), `{"x":`), "}"), 10, 64)
			if err != nil {
				t.Fatalf("record %q", r.Value)
			}
			out = append(out, v)
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				last := p.Records[len(p.Records)-1].Offset + 1
				l, _ := end.Lookup(p.Topic, p.Partition)
				if last >= l.Offset {
					end[p.Topic][p.Partition] = kadm.ListedOffset{Topic: p.Topic, Partition: p.Partition}
				}
			}
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func span(lo, hi int64) []int64 {
	var v []int64
	for i := lo; i < hi; i++ {
		v = append(v, i)
	}
	return v
}

// The exactly-once sink through checkpoints, a crash and a restore, as the checkpoint
// coordinator drives it: checkpoint 1 is complete and committed; checkpoint 2 is
// pre-committed when the job dies, with a transaction of checkpoint 3 open. The restore
// (at the same parallelism) commits checkpoint 2's transactions and aborts checkpoint 3's;
// read_committed consumers then see every row of checkpoints 1 and 2 and of the restored
// run once, and nothing of the lost interval.
func TestKafkaSinkExactlyOnceAcrossARestore(t *testing.T) {
	bs := brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic, mk := exactlyOnceTopic(t, ctx, bs, "sink-eo", 2)
	cfg := mk()
	a, b := open(t, ctx, cfg, 0), open(t, ctx, cfg, 1)
	for _, step := range []struct {
		op     *KafkaSinkOp
		lo, hi int64
	}{{a, 0, 10}, {b, 10, 20}} {
		if err := step.op.ProcessBatch(rows(step.lo, step.hi), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []*KafkaSinkOp{a, b} {
		if _, err := op.PrepareCheckpoint(runtime.Barrier{ID: 1}); err != nil {
			t.Fatal(err)
		}
		if err := op.CheckpointComplete(1); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.ProcessBatch(rows(20, 30), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.ProcessBatch(rows(30, 40), nil); err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	for _, op := range []*KafkaSinkOp{a, b} {
		p, err := op.PrepareCheckpoint(runtime.Barrier{ID: 2})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	// Checkpoint 3's interval: rows written, never pre-committed. Then the job dies
	// (its producers are dropped without ending their transactions).
	if err := a.ProcessBatch(rows(40, 50), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.txn.PreCommit(ctx); err != nil { // flushed: the records are in the log
		t.Fatal(err)
	}

	defer func() { // the dead run's producers
		for _, op := range []*KafkaSinkOp{a, b} {
			for _, p := range op.pending {
				p.Close()
			}
			if op.txn != nil {
				op.txn.Close()
			}
		}
	}()

	cfg2 := mk()
	r0, r1 := open(t, ctx, cfg2, 0), open(t, ctx, cfg2, 1)
	var wg sync.WaitGroup
	var err1 error
	wg.Add(1)
	go func() { defer wg.Done(); err1 = r1.RestoreCheckpoint(nil) }()
	if err := r0.RestoreCheckpoint(parts); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err1 != nil {
		t.Fatal(err1)
	}
	if err := r0.RestoreCheckpoint(parts); err != nil { // a repeated restore is harmless
		t.Fatal(err)
	}
	if err := r0.ProcessBatch(rows(50, 60), nil); err != nil {
		t.Fatal(err)
	}
	if err := r1.ProcessBatch(rows(60, 65), nil); err != nil {
		t.Fatal(err)
	}
	for _, op := range []*KafkaSinkOp{r0, r1} {
		var out collect
		if err := op.Finish(&out); err != nil {
			t.Fatal(err)
		}
		if err := op.Commit(); err != nil {
			t.Fatal(err)
		}
		op.Close()
	}
	got := committed(t, ctx, bs, topic)
	want := append(span(0, 40), span(50, 65)...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}

// A checkpoint can complete while the transactions of the one before are still being
// committed (or before their commit began): each checkpoint carries every transaction
// pre-committed and not yet committed, and a restore from the later one commits them
// all. Here checkpoint 1's commit never happens before the job dies after checkpoint 2.
func TestKafkaSinkCheckpointCarriesTransactionsNotYetCommitted(t *testing.T) {
	bs := brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic, mk := exactlyOnceTopic(t, ctx, bs, "sink-eo-late", 1)
	a := open(t, ctx, mk(), 0)
	if err := a.ProcessBatch(rows(0, 10), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PrepareCheckpoint(runtime.Barrier{ID: 1}); err != nil {
		t.Fatal(err)
	}
	// Checkpoint 1 is complete, but its commit has not run yet when checkpoint 2 is taken.
	if err := a.ProcessBatch(rows(10, 20), nil); err != nil {
		t.Fatal(err)
	}
	part, err := a.PrepareCheckpoint(runtime.Barrier{ID: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { // the dead run's producers, their transactions never ended
		for _, p := range a.pending {
			p.Close()
		}
	}()
	r := open(t, ctx, mk(), 0)
	if err := r.RestoreCheckpoint([][]byte{part}); err != nil {
		t.Fatal(err)
	}
	if err := r.ProcessBatch(rows(20, 25), nil); err != nil {
		t.Fatal(err)
	}
	var out collect
	if err := r.Finish(&out); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	got := committed(t, ctx, bs, topic)
	if want := span(0, 25); !reflect.DeepEqual(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}

// exactlyOnceTopic creates a topic of as many partitions as subtasks and returns it with
// a maker of exactly-once sink configurations (JSON rows of xs) writing to it.
func exactlyOnceTopic(t *testing.T, ctx context.Context, bs []string, name string, parallel int) (string, func() *KafkaSinkConfig) {
	t.Helper()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(bs...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	topic := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	if resp, err := kadm.NewClient(admCl).CreateTopic(ctx, int32(parallel), 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	return topic, func() *KafkaSinkConfig {
		return &KafkaSinkConfig{Brokers: bs, Topic: topic, Schema: xs, Encoder: kafka.EncoderOptions{Format: kafka.JSON, Topic: topic},
			Guarantee: ExactlyOnce, Prefix: "eo-" + topic, Parallel: parallel}
	}
}
