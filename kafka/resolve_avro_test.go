package kafka

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestResolveAvro reads datums (encoded by hamba/avro with the writer schema) as a
// reader schema and compares with hand-computed values of the reader's shape.
func TestResolveAvro(t *testing.T) {
	w := avro.MustParse(`{"type": "record", "name": "R", "fields": [
		{"name": "a", "type": "int"},
		{"name": "b", "type": {"type": "record", "name": "B", "fields": [{"name": "x", "type": "float"}, {"name": "gone", "type": "string"}]}},
		{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
		{"name": "u", "type": ["null", "int", "string"]},
		{"name": "m", "type": {"type": "map", "values": "int"}}]}`)
	r := avro.MustParse(`{"type": "record", "name": "R", "fields": [
		{"name": "a", "type": "long"},
		{"name": "b", "type": {"type": "record", "name": "B", "fields": [
			{"name": "x", "type": "double"}, {"name": "y", "type": "string", "default": "d"},
			{"name": "z", "type": {"type": "array", "items": "long"}, "default": [1, 2]}]}},
		{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"], "default": "B"}},
		{"name": "u", "type": ["null", "long", "bytes"]},
		{"name": "m", "type": {"type": "map", "values": "double"}},
		{"name": "n", "type": ["null", "int"]},
		{"name": "rec", "type": {"type": "record", "name": "D", "fields": [{"name": "k", "type": ["null", "string"]}]}, "default": {"k": null}}]}`)
	conv, err := resolveAvro("", w, r)
	if err != nil {
		t.Fatal(err)
	}
	p := newAvroParser(w)
	for _, c := range []struct {
		in   map[string]any
		want []any
	}{
		{map[string]any{"a": 7, "b": map[string]any{"x": float32(1.5), "gone": "g"}, "e": "C", "u": map[string]any{"int": 3}, "m": map[string]any{"k": 2}},
			[]any{int64(7), []any{1.5, "d", []any{int64(1), int64(2)}}, "B", []any{int64(3), nil}, []any{[]any{"k", 2.0}}, nil, []any{nil}}},
		{map[string]any{"a": -1, "b": map[string]any{"x": float32(-0.25), "gone": ""}, "e": "A", "u": map[string]any{"string": "s"}, "m": map[string]any{}},
			[]any{int64(-1), []any{-0.25, "d", []any{int64(1), int64(2)}}, "A", []any{nil, []byte("s")}, []any{}, nil, []any{nil}}},
		{map[string]any{"a": 0, "b": map[string]any{"x": float32(0), "gone": ""}, "e": "B", "u": nil, "m": map[string]any{}},
			[]any{int64(0), []any{0.0, "d", []any{int64(1), int64(2)}}, "B", nil, []any{}, nil, []any{nil}}},
	} {
		b, err := avro.Marshal(w, c.in)
		if err != nil {
			t.Fatal(err)
		}
		row, err := p.parse(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := conv(row)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v read as the reader's = %#v, want %#v", c.in, got, c.want)
		}
	}
	// Not resolvable: named field paths.
	for reader, want := range map[string]string{
		`{"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}`:                                                                  `field "a": int in the writer's schema, string in the reader's`,
		`{"type": "record", "name": "R", "fields": [{"name": "b", "type": {"type": "record", "name": "B", "fields": [{"name": "x", "type": "int"}]}}]}`: `field "b.x": float in the writer's schema, int in the reader's`,
		`{"type": "record", "name": "R", "fields": [{"name": "q", "type": "int"}]}`:                                                                     `field "q": not in the writer's schema, and the reader's field has no default`,
	} {
		_, err := resolveAvro("", w, avro.MustParse(reader))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("resolving into %s: %v, want %q", reader, err, want)
		}
	}
}

// A decoder given a writer schema (no registry) reads each datum with it into the reader
// schema's columns: a field renamed away is dropped, a new one takes its default, an int
// is promoted to a long; a datum that is not of the writer schema is a bad record; a
// writer schema the reader's cannot read is refused naming the field.
func TestDecoderReadsWithAWriterSchema(t *testing.T) {
	writer := `{"type": "record", "name": "R", "fields": [
		{"name": "id", "type": "int"}, {"name": "old", "type": "string"}, {"name": "v", "type": ["null", "float"]}]}`
	reader := `{"type": "record", "name": "R", "fields": [
		{"name": "id", "type": "long"}, {"name": "v", "type": ["null", "double"]},
		{"name": "added", "type": "string", "default": "none"}]}`
	d, _ := newDecoder(t, DecoderOptions{Format: Avro, AvroSchema: reader, AvroWriterSchema: writer})
	ws := avro.MustParse(writer)
	enc := func(m map[string]any) []byte {
		b, err := avro.Marshal(ws, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, err := d.Decode([]*kgo.Record{
		rec(0, enc(map[string]any{"id": 5, "old": "x", "v": map[string]any{"float": float32(0.5)}})),
		rec(1, enc(map[string]any{"id": -2, "old": "", "v": nil})),
		rec(2, []byte{0x80}), // a varint cut short
	})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	js, _ := out.Batch.MarshalJSON()
	want := `[{"added":"none","id":5,"v":0.5}` + "\n" + `,{"added":"none","id":-2,"v":null}` + "\n" + `]`
	if string(js) != want {
		t.Errorf("decoded %s, want %s", js, want)
	}
	if len(out.Bad) != 1 || out.Bad[0].Offset != 2 {
		t.Errorf("bad records: %+v", out.Bad)
	}
	if d.Schema().Field(0).Type.ID() != arrow.INT64 || d.Schema().NumFields() != 3 {
		t.Errorf("columns are the reader's: %v", d.Schema())
	}
	_, err = NewDecoder(DecoderOptions{Format: Avro, AvroSchema: reader,
		AvroWriterSchema: `{"type": "record", "name": "R", "fields": [{"name": "id", "type": "string"}]}`})
	if err == nil || !strings.Contains(err.Error(), "id") {
		t.Errorf("a writer's string id read as a long: %v", err)
	}
	_, err = NewDecoder(DecoderOptions{Format: Avro, AvroSchema: reader, AvroWriterSchema: writer, SchemaRegistry: "http://localhost:1"})
	if err == nil || !strings.Contains(err.Error(), "registry") {
		t.Errorf("a writer schema with a registry: %v", err)
	}
}
