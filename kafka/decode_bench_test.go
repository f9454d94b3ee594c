package kafka

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bidSchema is the schema of Nexmark's bids as the Kafka benchmark reads them.
var bidSchema = arrow.NewSchema([]arrow.Field{
	{Name: "auction", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "bidder", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "channel", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "url", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "date_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "extra", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

type bid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime string `json:"date_time"`
	Extra    string `json:"extra"`
}

// bidRecords are n Kafka records of Nexmark bids in JSON as write_kafka encodes them
// (encoding/json's text: the URL's & escaped; about 150 bytes each).
func bidRecords(n int) []*kgo.Record {
	channels := []string{"Google", "Facebook", "Baidu", "Apple"}
	base := time.UnixMilli(1_767_225_600_000).UTC()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v, err := json.Marshal(bid{1000 + int64(i)/7, 1 + 31*int64(i), 100 + 97*int64(i&1023), channels[i%4],
			fmt.Sprintf("https://www.nexmark.com/item.htm?query=1&channel_id=%d", i%9973),
			base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano), "xxxxxxxxxxxxxxxx"})
		if err != nil {
			panic(err)
		}
		recs[i] = &kgo.Record{Topic: "bids", Partition: 0, Offset: int64(i), Value: v}
	}
	return recs
}

// BenchmarkDecodeJSONBids decodes 100K Nexmark bids into record batches of 10K records
// (a poll's worth), as a Kafka source does.
func BenchmarkDecodeJSONBids(b *testing.B) {
	const n, poll = 100_000, 10_000
	recs := bidRecords(n)
	d, err := NewDecoder(DecoderOptions{Format: JSON, Schema: bidSchema})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := 0; i < n; i += poll {
			out, err := d.Decode(recs[i : i+poll])
			if err != nil || len(out.Bad) > 0 || out.Batch.NumRows() != poll {
				b.Fatalf("decode: %v %v", err, out.Bad)
			}
			out.Batch.Release()
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
