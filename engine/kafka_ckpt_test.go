package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// An unbounded Kafka read with checkpoints, stopped with a savepoint at parallelism 2
// and restored from it at parallelism 3 (then again at 1): every record comes out
// exactly once over the runs, records produced while the job was down included. Needs
// RIVERBED_KAFKA_BROKERS.
func TestKafkaSavepointRestoreRescale(t *testing.T) {
	v := os.Getenv("RIVERBED_KAFKA_BROKERS")
	if v == "" {
		t.Skip("RIVERBED_KAFKA_BROKERS is not set: no Kafka broker to test against (`make kafka-up` starts one)")
	}
	brokers := strings.Split(v, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := fmt.Sprintf("engine-kafka-ckpt-%d", time.Now().UnixNano())
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 5, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	produce := func(lo, hi int) {
		var recs []*kgo.Record
		for i := lo; i < hi; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 5), Value: []byte(fmt.Sprintf(`{"x": %d}`, i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	doc := func(parallel int, restore string) []byte { return kafkaDoc(brokers[0], topic, dir, parallel, restore) }
	seen := map[int64]int{}
	total := 0
	// run reads until the job has given at least want rows in all, then stops it with a
	// savepoint into sp and reads it to its end.
	run := func(parallel int, restore, sp string, want int) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		j, err := Start(ctx, doc(parallel, restore), nil, mem)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		var stop sync.Once
		var wg sync.WaitGroup
		var stopErr error
		for {
			if total >= want {
				stop.Do(func() {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var st runtime.CheckpointStats
						st, stopErr = j.StopWithSavepoint(ctx, sp)
						_ = st
					}()
				})
			}
			rec, _, err := j.NextOutput()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range rec.Column(0).(*array.Int64).Int64Values() {
				if seen[x] == 0 {
					total++ // distinct records: a duplicate does not end a run early
				}
				seen[x]++
			}
			rec.Release()
		}
		wg.Wait()
		if stopErr != nil {
			t.Fatal(stopErr)
		}
		if err := j.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 600)
	run(2, "", filepath.Join(dir, "sp-1"), 150)
	produce(600, 800)
	run(3, filepath.Join(dir, "sp-1"), filepath.Join(dir, "sp-2"), 500)
	run(1, filepath.Join(dir, "sp-2"), filepath.Join(dir, "sp-3"), 800)
	var dup []int64
	for x, n := range seen {
		if n != 1 {
			dup = append(dup, x)
		}
	}
	sort.Slice(dup, func(a, b int) bool { return dup[a] < dup[b] })
	if len(dup) > 0 || len(seen) != 800 {
		var missing []int64
		for x := int64(0); x < 800; x++ {
			if seen[x] == 0 {
				missing = append(missing, x)
			}
		}
		t.Fatalf("%d distinct records of 800; seen more than once: %v; never seen: %v", len(seen), dup, missing)
	}
	for x := range seen {
		if x < 0 || x >= 800 {
			t.Fatalf("unexpected record %d", x)
		}
	}
	// The savepoint names the topic it read: a plan reading another one is refused.
	other := topic + "-other"
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, other); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: other, Value: []byte(`{"x": 1}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	_, err = Start(ctx, kafkaDoc(brokers[0], other, dir, 2, filepath.Join(dir, "sp-3")), nil, memory.NewGoAllocator())
	if err == nil || !strings.Contains(err.Error(), "another plan") || !strings.Contains(err.Error(), other) {
		t.Fatalf("restoring into a read of another topic: %v", err)
	}
}

func kafkaDoc(broker, topic, dir string, parallel int, restore string) []byte {
	opts := fmt.Sprintf(`"parallelism":%d,"batch_size":16,"checkpoint_dir":%q,"checkpoint_interval":"1h"`, parallel, filepath.Join(dir, "ckpt"))
	if restore != "" {
		opts += fmt.Sprintf(`,"restore":%q`, restore)
	}
	scan := fmt.Sprintf(`{"op":"scan_kafka","id":"k","kafka":{"brokers":[%q],"topics":[%q],"format":"json","options":{"max.poll.records":"7"}}}`, broker, topic)
	return []byte(`{"version":1,"options":{` + opts + `},"outputs":[` + scan + `]}`)
}
