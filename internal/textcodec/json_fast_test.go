package textcodec

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// flatJSONSchema: every scalar type the flat reader reads, nullable and not.
var flatJSONSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "tsn", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "req", Type: arrow.PrimitiveTypes.Int32, Nullable: false},
}, nil)

var flatJSONSeeds = []string{
	`{"req":1,"i":5,"i8":-128,"u8":255,"u64":18,"f":1.5e3,"f32":-0.25,"s":"x y","ls":"","b":false,"bin":"aGk=","ts":"2026-01-02T03:04:05.678Z","tsn":"2024-02-29 23:59:59.123456789","d":"2026-01-02"}`,
	`{"req": 1, "ts": 1700000000000, "tsn": -5, "d": 19000, "i": -0}`,
	`{"req": 1, "ts": "2026-01-02T03:04:05", "tsn": "2026-01-02T03:04:05.1Z", "s": "\u00e9\/\"\\\n\t\u0000"}`,
	`{"req": 1, "ts": "2026-01-02T03:04:05+01:00", "tsn": "2026-01-02"}`,
	`{"req": 1, "ts": "2023-02-29T00:00:00Z"}`,
	`{"req": 1, "ts": "2026-01-02T24:00:00Z"}`,
	`{"req": 1, "s": "héllo ✓", "x": {"deep": [[[[{"a": "b"}]]]], "y": [1, -2.5e-3, true, null, "z"]}}`,
	`{"req": 1, "i": 5, "i": null}`,
	`{"req": 1, "i": "5"}`,
	`{"req": 1, "i8": 128}`,
	`{"req": 1, "u8": -0}`,
	`{"req": 1, "u64": 18446744073709551615}`,
	`{"req": 1, "i": 9223372036854775807}`,
	`{"req": 1, "f32": 1e39}`,
	`{"req": 1, "f": 1e400}`,
	`{"req": 1, "i": 01}`,
	`{"req": 1, "i": 1.}`,
	`{"req": 1, "s": "a\ud800b"}`,
	"{\"req\": 1, \"s\": \"bad \xff utf8\"}",
	"{\"req\": 1,\n\"s\": \"x\"}",
	"  {\"req\": 1}\r\n",
	`{"req": 1,}`,
	`{"req": 1} x`,
	`{"req": null}`,
	`{}`,
	`{"req": 1, "bin": "!!"}`,
	`{"req": 1, "s": "\x"}`,
	`{"req": 1, "s": "\u00"}`,
	`[1]`,
	``,
}

// readFlat decodes each document with the flat reader, into a batch, and each with the
// reference (encoding/json), into another: docs the flat reader reads must read the
// same there (the others go to the row parser, which FuzzJSONRow checks).
func readFlat(t *testing.T, r *JSONFlatReader, docs []string) int {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	got := array.NewRecordBuilder(mem, flatJSONSchema)
	defer got.Release()
	want := array.NewRecordBuilder(mem, flatJSONSchema)
	defer want.Release()
	read := 0
	for _, doc := range docs {
		if !r.Read([]byte(doc)) {
			continue
		}
		read++
		row, err := refParseJSONRow(flatJSONSchema, []byte(doc))
		if err != nil {
			t.Fatalf("%q: the flat reader read it, the reference errs: %v", doc, err)
		}
		r.Append(got.Fields())
		for i, v := range row {
			AppendValue(want.Field(i), v)
		}
	}
	g, w := got.NewRecordBatch(), want.NewRecordBatch()
	defer g.Release()
	defer w.Release()
	for i := range g.NumCols() {
		if !array.Equal(g.Column(int(i)), w.Column(int(i))) {
			t.Fatalf("column %s:\n got  %v\n want %v\n docs %q", flatJSONSchema.Field(int(i)).Name, g.Column(int(i)), w.Column(int(i)), docs)
		}
	}
	return read
}

func TestJSONFlatReaderMatchesTheReference(t *testing.T) {
	r := NewJSONFlatReader(flatJSONSchema)
	if n := readFlat(t, r, flatJSONSeeds); n < 7 {
		t.Fatalf("the flat reader read only %d seeds: the test would not check values", n)
	}
	// Every seed the reference reads and the flat reader leaves to the row parser is one
	// of these forms.
	for _, s := range flatJSONSeeds {
		if _, err := refParseJSONRow(flatJSONSchema, []byte(s)); err == nil && !r.Read([]byte(s)) &&
			!strings.ContainsAny(s, "\n+\xff") && !strings.Contains(s, `\ud800`) && !strings.Contains(s, `"2026-01-02"}`) {
			t.Errorf("%q: the reference reads it, the flat reader does not", s)
		}
	}
	// Keys in another order, missing or unknown, from one document to the next.
	readFlat(t, r, []string{`{"req":1,"i":1,"s":"a"}`, `{"s":"b","req":2}`, `{"x":1,"i":3,"req":3,"s":"c"}`, `{"req":4,"req":5,"i":6}`})
}

func TestJSONFlatReaderNestedSchema(t *testing.T) {
	if NewJSONFlatReader(fuzzJSONSchema) != nil {
		t.Fatal("a schema with struct and list columns has no flat reader")
	}
}

// FuzzJSONFlatReader: what the flat reader reads, it reads as the encoding/json
// reference does.
func FuzzJSONFlatReader(f *testing.F) {
	for _, s := range flatJSONSeeds {
		f.Add([]byte(s))
	}
	r := NewJSONFlatReader(flatJSONSchema)
	f.Fuzz(func(t *testing.T, v []byte) { readFlat(t, r, []string{string(v)}) })
}
