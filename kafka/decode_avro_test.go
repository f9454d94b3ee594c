package kafka

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A hand-written Avro binary encoder (zigzag varints, length-prefixed bytes), the oracle
// of the decoder: it shares no code with hamba/avro.
type avroBuf []byte

func (b avroBuf) long(v int64) avroBuf { return binary.AppendVarint(b, v) } // zigzag, as Avro
func (b avroBuf) str(s string) avroBuf { return append(b.long(int64(len(s))), s...) }
func (b avroBuf) double(f float64) avroBuf {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}
func (b avroBuf) boolean(v bool) avroBuf {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

const avroTestSchema = `{"type": "record", "name": "Event", "fields": [
  {"name": "user", "type": "long"},
  {"name": "name", "type": ["null", "string"]},
  {"name": "score", "type": "double"},
  {"name": "ok", "type": "boolean"},
  {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["click", "view"]}},
  {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "tags", "type": {"type": "array", "items": "string"}},
  {"name": "attrs", "type": {"type": "map", "values": "long"}},
  {"name": "geo", "type": {"type": "record", "name": "Geo", "fields": [{"name": "lat", "type": "float"}]}}
]}`

func avroEvent(user int64, name *string, kind int64, tags []string) []byte {
	b := avroBuf(nil).long(user)
	if name == nil {
		b = b.long(0)
	} else {
		b = b.long(1).str(*name)
	}
	b = b.double(float64(user) / 2).boolean(user%2 == 0).long(kind).long(1_700_000_000_000 + user)
	if len(tags) > 0 {
		b = b.long(int64(len(tags)))
		for _, t := range tags {
			b = b.str(t)
		}
	}
	b = b.long(0)                             // end of the array
	b = b.long(1).str("n").long(user).long(0) // map {"n": user}
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(1.5))
	return b
}

func TestAvroSchemaToArrow(t *testing.T) {
	_, s, err := AvroSchema(avroTestSchema)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user: int64", "name: utf8", "score: float64", "ok: bool", "kind: utf8",
		"ts: timestamp[ms, tz=UTC]", "tags: list<item: utf8>", "attrs: list<item: struct<key: utf8, value: int64>, nullable>",
		"geo: struct<lat: float32>"}
	for i, f := range s.Fields() {
		got := f.Name + ": " + f.Type.String()
		if got != want[i] {
			t.Errorf("field %d: got %s, want %s", i, got, want[i])
		}
	}
	if !s.Field(1).Nullable || s.Field(0).Nullable {
		t.Error("a [null, T] union is nullable, a plain type is not")
	}
	for _, bad := range []string{`"long"`, `{"type": "record", "name": "R", "fields": [{"name": "u", "type": ["null"]}]}`,
		`{"type": "record", "name": "R", "fields": [{"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 40, "scale": 2}}]}`, `{`} {
		if _, _, err := AvroSchema(bad); err == nil {
			t.Errorf("schema %s: no error", bad)
		}
	}
}

func TestAvroDecode(t *testing.T) {
	d, _ := newDecoder(t, DecoderOptions{Format: Avro, AvroSchema: avroTestSchema, Metadata: Metadata{Offset: "off"}})
	ann := "ann"
	good1 := avroEvent(4, &ann, 1, []string{"a", "b"})
	good2 := avroEvent(7, nil, 0, nil)
	recs := []*kgo.Record{
		rec(0, good1),
		rec(1, good1[:len(good1)-3]),                  // truncated
		rec(2, append(append([]byte{}, good2...), 0)), // a byte after the record
		rec(3, avroEvent(1, nil, 5, nil)),             // enum index out of range
		rec(4, avroBuf(nil).long(1).long(7)),          // union branch 7 of a 2-branch union
		rec(5, nil),                                   // tombstone
		rec(6, good2),
	}
	out, err := d.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	if out.Batch.NumRows() != 2 {
		t.Fatalf("good rows: got %d, want 2", out.Batch.NumRows())
	}
	js, _ := out.Batch.MarshalJSON()
	for _, want := range []string{`"user":4`, `"name":"ann"`, `"score":2`, `"ok":true`, `"kind":"view"`,
		`"tags":["a","b"]`, `"attrs":[{"key":"n","value":4}]`, `"geo":{"lat":1.5}`, `"off":0`,
		`"user":7`, `"name":null`, `"kind":"click"`, `"tags":[]`, `"off":6`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("decoded rows lack %s: %s", want, js)
		}
	}
	if ts := out.Batch.Column(5).(interface{ Value(int) arrow.Timestamp }).Value(0); ts != 1_700_000_000_004 {
		t.Errorf("ts: got %d", ts)
	}
	var offs []int64
	reasons := map[int64]string{}
	for _, b := range out.Bad {
		offs = append(offs, b.Offset)
		reasons[b.Offset] = b.Reason
	}
	if len(offs) != 5 || offs[0] != 1 || offs[4] != 5 {
		t.Fatalf("bad records: %v", offs)
	}
	for off, want := range map[int64]string{2: "bytes after the end", 3: `field "kind": enum index 5`, 4: `field "name": union branch 7`, 5: "tombstone"} {
		if !strings.Contains(reasons[off], want) {
			t.Errorf("offset %d: reason %q lacks %q", off, reasons[off], want)
		}
	}
	if err := out.Bad[0].Err(); !strings.Contains(err.Error(), `topic "events" partition 3 offset 1`) {
		t.Errorf("error does not name where: %v", err)
	}
}

func TestAvroHugeBlockCountIsABadRecordNotAHang(t *testing.T) {
	d, _ := newDecoder(t, DecoderOptions{Format: Avro, AvroSchema: `{"type": "record", "name": "R", "fields": [{"name": "a", "type": {"type": "array", "items": "long"}}]}`})
	out, err := d.Decode([]*kgo.Record{rec(0, avroBuf(nil).long(math.MaxInt64/2))})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	if len(out.Bad) != 1 || !strings.Contains(out.Bad[0].Reason, "longer than the record") {
		t.Fatalf("got %+v", out.Bad)
	}
}

// A record that holds itself (directly, or through a union, array or map) has no Arrow
// type: the schema is refused with an error naming the field and the record, where
// converting it recursed until memory ran out.
func TestAvroRecursiveSchemaIsRefused(t *testing.T) {
	for _, text := range []string{
		`{"type": "record", "name": "B", "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "B"}]}`,
		`{"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}`,
		`{"type": "record", "name": "R", "fields": [{"name": "t", "type": {"type": "record", "name": "T", "fields": [
			{"name": "kids", "type": {"type": "array", "items": "T"}}]}}]}`,
		`{"type": "record", "name": "R", "fields": [{"name": "t", "type": {"type": "record", "name": "T", "fields": [
			{"name": "m", "type": {"type": "map", "values": "T"}}]}}]}`,
	} {
		_, _, err := AvroSchema(text)
		if err == nil || !strings.Contains(err.Error(), "holds itself") {
			t.Errorf("%s: got %v, want an error saying the record holds itself", text, err)
		}
	}
	// The same record twice, side by side, is no recursion.
	if _, _, err := AvroSchema(`{"type": "record", "name": "R", "fields": [
		{"name": "a", "type": {"type": "record", "name": "P", "fields": [{"name": "x", "type": "int"}]}},
		{"name": "b", "type": "P"}]}`); err != nil {
		t.Fatal(err)
	}
}
