package kafka

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fuzzDecode decodes one record holding value and checks the decoder's
// contract: no panic, the record is either a row or a bad record (never
// both, never neither), the batch is valid Arrow, and no memory leaks.
func fuzzDecode(t *testing.T, opts DecoderOptions, value []byte) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts.Mem = mem
	opts.Metadata = Metadata{Offset: "kafka_offset", Headers: "kafka_headers"}
	d, err := NewDecoder(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Topic: "t", Partition: 1, Offset: 42, Value: value}
	out, err := d.Decode([]*kgo.Record{r})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	rows := out.Batch.NumRows()
	for _, b := range out.Bad {
		t.Log(b.Reason)
	}
	if opts.Format != ArrowIPC && rows+int64(len(out.Bad)) != 1 {
		t.Fatalf("rows %d + bad %d != 1", rows, len(out.Bad))
	}
	if len(out.Bad) > 0 && (rows != 0 || out.Bad[0].Offset != 42 || out.Bad[0].Reason == "") {
		t.Fatalf("bad record %+v with %d rows", out.Bad[0], rows)
	}
	for i, c := range out.Batch.Columns() {
		if int64(c.Len()) != rows {
			t.Fatalf("column %d has %d rows, batch %d", i, c.Len(), rows)
		}
		if err := validateArray(c); err != nil {
			t.Fatalf("column %d invalid: %v", i, err)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"id": 1, "score": 2.5, "name": "a", "ok": true, "ts": "2024-05-06T07:08:09.123Z", "small": 7,
		 "blob": "AAEC", "day": "2024-05-06", "user": {"city": "Oslo", "tags": ["x", null]},
		 "items": [{"sku": 7, "qty": null}]}`,
		`{"id": -1, "ts": 1700000000000, "day": 19000}`,
		`{"id": 1e400}`, `[]`, `null`, `{"id": 1}x`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) { fuzzDecode(t, DecoderOptions{Format: JSON, Schema: userSchema}, v) })
}

// FuzzDecodeJSONFlat: FuzzDecodeJSON over a schema of scalar columns (the bids'), which
// the decoder reads with the flat reader first.
func FuzzDecodeJSONFlat(f *testing.F) {
	for _, s := range []string{
		`{"auction":1000,"bidder":1,"price":100,"channel":"Google","url":"https://www.nexmark.com/item.htm?query=1\u0026channel_id=0","date_time":"2026-01-01T00:00:00.001Z","extra":"xxxxxxxxxxxxxxxx"}`,
		`{"auction":null,"price":1e3,"date_time":1767225600000,"x":[{"y":null}]}`,
		`{"auction":1, "auction":"2"}`, `{"date_time":"2026-02-30T00:00:00Z"}`, `{"channel":"\ud800"}`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) { fuzzDecode(t, DecoderOptions{Format: JSON, Schema: bidSchema}, v) })
}

var csvFuzzSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int8},
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "x", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

func FuzzDecodeCSV(f *testing.F) {
	for _, s := range []string{
		"1,a,2.5,2024-01-02T03:04:05Z,2024-01-02,true", `2,"q""x",,,,`, "1,a", "\"", "1,a,1e99,,,",
		"1,a,1,9999-12-31T23:59:59Z,,", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) { fuzzDecode(t, DecoderOptions{Format: CSV, Schema: csvFuzzSchema}, v) })
}

func FuzzDecodeRaw(f *testing.F) {
	f.Add([]byte("text"))
	f.Add([]byte{0xff})
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	f.Fuzz(func(t *testing.T, v []byte) { fuzzDecode(t, DecoderOptions{Format: Raw, Schema: schema}, v) })
}

func FuzzDecodeIPC(f *testing.F) {
	b := buildBatch(f, ipcSchema, `[{"a": 1, "s": "x"}, {"a": 2, "s": null}]`)
	defer b.Release()
	good := ipcBytes(f, ipcSchema, b, b)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0})
	var zbuf bytes.Buffer
	w := ipc.NewWriter(&zbuf, ipc.WithSchema(ipcSchema), ipc.WithLZ4())
	if err := w.Write(b); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(zbuf.Bytes())
	f.Fuzz(func(t *testing.T, v []byte) {
		fuzzDecode(t, DecoderOptions{Format: ArrowIPC, Schema: ipcSchema}, v)
	})
}

// FuzzInferJSONSchema: inference never panics, and a schema it infers from a value
// reads that value back without a bad record.
func FuzzInferJSONSchema(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": {"c": [1.5, 2]}, "d": [{"e": "x"}, {"f": true}]}`, `{"a": null}`, `{"a": []}`, `{"a": [[]]}`,
		`{"a": {}}`, `{"a": [{}]}`, `[]`, `null`, ``, `{"a": 1e400}`, `{"a": -0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		s, err := InferJSONSchema([][]byte{value})
		if err != nil {
			return
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		d, err := NewDecoder(DecoderOptions{Format: JSON, Schema: s, Mem: mem})
		if err != nil {
			t.Fatalf("inferred %s, which the decoder refuses: %v", s, err)
		}
		out, err := d.Decode([]*kgo.Record{{Value: value}})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Batch.Release()
		if len(out.Bad) != 0 && !strings.Contains(out.Bad[0].Reason, "out of range") {
			t.Fatalf("inferred %s from %q, which then fails to decode: %s", s, value, out.Bad[0].Reason)
		}
	})
}

// FuzzResolveAvro reads a record through a writer schema (as a schema registry serves it,
// so untrusted text) resolved against a fixed reader schema: an unreadable schema or
// record, or one that does not resolve, is an error, never a panic.
func FuzzResolveAvro(f *testing.F) {
	reader, _, err := AvroSchema(`{"type": "record", "name": "R", "fields": [
		{"name": "a", "type": "long"},
		{"name": "b", "type": {"type": "record", "name": "B", "fields": [
			{"name": "x", "type": "double"}, {"name": "y", "type": "string", "default": "d"},
			{"name": "z", "type": {"type": "array", "items": "long"}, "default": [1, 2]}]}},
		{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"], "default": "B"}},
		{"name": "u", "type": ["null", "long", "bytes"]},
		{"name": "m", "type": {"type": "map", "values": "double"}},
		{"name": "n", "type": ["null", "int"]}]}`)
	if err != nil {
		f.Fatal(err)
	}
	writer := `{"type": "record", "name": "R", "fields": [
		{"name": "a", "type": "int"},
		{"name": "b", "type": {"type": "record", "name": "B", "fields": [{"name": "x", "type": "float"}, {"name": "gone", "type": "string"}]}},
		{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
		{"name": "u", "type": ["null", "int", "string"]},
		{"name": "m", "type": {"type": "map", "values": "int"}}]}`
	f.Add(writer, []byte{0x0e, 0, 0, 0xc0, 0x3f, 2, 'g', 4, 2, 6, 2, 2, 'k', 4, 0})
	f.Add(writer, []byte{})
	f.Add(`{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}`, []byte{0x80, 0x80, 0x80})
	f.Add(`"string"`, []byte{2, 'x'})
	f.Fuzz(func(t *testing.T, schema string, value []byte) {
		ws, _, err := AvroSchema(schema)
		if err != nil {
			return
		}
		conv, err := resolveAvro("", ws, reader)
		if err != nil {
			return
		}
		row, err := newAvroParser(ws).parse(value)
		if err != nil {
			return
		}
		_, _ = conv(row)
	})
}
