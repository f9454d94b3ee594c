package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A Kafka read with a dead-letter output, run as a job of two outputs through the whole
// engine (shared source, fan-out, both filters) at parallelism 3, under the race detector
// in `make test-go`: every good record comes out once as a row, every bad one once as a
// dead letter with its partition and offset. Needs RIVERBED_KAFKA_BROKERS.
func TestKafkaJobRowsAndDeadLetters(t *testing.T) {
	v := os.Getenv("RIVERBED_KAFKA_BROKERS")
	if v == "" {
		t.Skip("RIVERBED_KAFKA_BROKERS is not set: no Kafka broker to test against (`make kafka-up` starts one)")
	}
	brokers := strings.Split(v, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := fmt.Sprintf("engine-kafka-%d", time.Now().UnixNano())
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	var recs []*kgo.Record
	var wantRows []int64
	var wantBad []string
	next := map[int32]int64{}
	for i := int64(0); i < 400; i++ {
		p := int32(i % 4)
		val := fmt.Sprintf(`{"x": %d}`, i)
		if i%13 == 4 {
			val = "{"
			wantBad = append(wantBad, fmt.Sprintf("%d/%d", p, next[p]))
		} else {
			wantRows = append(wantRows, i)
		}
		next[p]++
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(val)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	scan := fmt.Sprintf(`{"op":"scan_kafka","id":"k","kafka":{"brokers":[%q],"topics":[%q],"format":"json","end":{"kind":"latest"},"on_bad_record":"dead_letter","options":{"max.poll.records":"9"}}}`, brokers[0], topic)
	doc := `{"version":1,"options":{"parallelism":3,"batch_size":16},"outputs":[` + scan + `,{"op":"kafka_dead_letters","input":{"ref":"k"}}]}`
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	j, err := Start(ctx, []byte(doc), nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var rows []int64
	var bad []string
	for {
		rec, out, err := j.NextOutput()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if out == 0 {
			rows = append(rows, rec.Column(0).(*array.Int64).Int64Values()...)
		} else {
			ps, os := rec.Column(1).(*array.Int32), rec.Column(2).(*array.Int64)
			for i := 0; i < int(rec.NumRows()); i++ {
				bad = append(bad, fmt.Sprintf("%d/%d", ps.Value(i), os.Value(i)))
			}
		}
		rec.Release()
	}
	if err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(rows, func(a, b int) bool { return rows[a] < rows[b] })
	sort.Strings(bad)
	sort.Strings(wantBad)
	if fmt.Sprint(rows) != fmt.Sprint(wantRows) {
		t.Fatalf("rows %v, want %v", rows, wantRows)
	}
	if fmt.Sprint(bad) != fmt.Sprint(wantBad) {
		t.Fatalf("dead letters %v, want %v", bad, wantBad)
	}
}
