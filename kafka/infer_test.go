package kafka

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"
)

func jsonValues(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// The inferred schema is the one a user would write for the sample, nested fields
// included, fields in the order the objects give them, and the decoder reads the sample with it without a bad record.
func TestInferJSONSchema(t *testing.T) {
	sample := jsonValues(
		`{"id": 1, "price": 2, "name": "a", "user": {"city": "Oslo", "tags": ["x"]}, "items": [{"sku": 7}]}`,
		`{"id": 2, "price": 2.5, "ok": true, "user": {"city": null, "zip": 123}, "gone": null, "empty": {}}`,
		`not json`, `[1, 2]`,
	)
	sample = append(sample, nil)
	s, err := InferJSONSchema(sample)
	if err != nil {
		t.Fatal(err)
	}
	n := func(name string, dt arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: dt, Nullable: true}
	}
	want := arrow.NewSchema([]arrow.Field{
		n("id", arrow.PrimitiveTypes.Int64),
		n("price", arrow.PrimitiveTypes.Float64),
		n("name", arrow.BinaryTypes.String),
		n("user", arrow.StructOf(
			n("city", arrow.BinaryTypes.String),
			n("tags", arrow.ListOfField(n("item", arrow.BinaryTypes.String))),
			n("zip", arrow.PrimitiveTypes.Int64))),
		n("items", arrow.ListOfField(n("item", arrow.StructOf(n("sku", arrow.PrimitiveTypes.Int64))))),
		n("ok", arrow.FixedWidthTypes.Boolean),
		n("gone", arrow.BinaryTypes.String),
	}, nil)
	if !s.Equal(want) {
		t.Fatalf("inferred\n%s\nwant\n%s", s, want)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewDecoder(DecoderOptions{Format: JSON, Schema: s, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Decode([]*kgo.Record{{Value: sample[0]}, {Value: sample[1]}})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	if out.Batch.NumRows() != 2 || len(out.Bad) != 0 {
		t.Fatalf("%d rows, bad %v", out.Batch.NumRows(), out.Bad)
	}
}

// Samples that fix no schema are errors that ask for one, naming the field.
func TestInferJSONSchemaErrors(t *testing.T) {
	for _, c := range []struct {
		sample [][]byte
		want   string
	}{
		{jsonValues(`{"a": 1}`, `{"a": "x"}`), `field "a" is a JSON number in one record and a JSON string in another`},
		{jsonValues(`{"u": {"b": [1]}}`, `{"u": {"b": [true]}}`), `field "u.b[]" is a JSON number`},
		{jsonValues(`1`, `x`), "holds no JSON object (2 records read)"},
		{nil, "holds no JSON object (0 records read)"},
		{jsonValues(`{}`), "no fields"},
	} {
		_, err := InferJSONSchema(c.sample)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "schema=") {
			t.Errorf("%q: got %v, want an error containing %q and asking for schema=", c.sample, err, c.want)
		}
	}
}
