package textcodec

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// BenchmarkParseJSONRow decodes one typical event object (numbers, strings, a timestamp, a
// list) against its schema.
func BenchmarkParseJSONRow(b *testing.B) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	rows := make([][]byte, 1024)
	for i := range rows {
		rows[i] = []byte(fmt.Sprintf(`{"id":%d,"name":"user%d","price":%g,"ts":"2026-01-01T00:00:%02dZ","tags":["a","b"]}`,
			i, i%100, float64(i)*1.25, i%60))
	}
	p := NewJSONRowParser(schema)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Parse(rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
	}
}
