package kafka

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

func rec(offset int64, value []byte) *kgo.Record {
	return &kgo.Record{Topic: "events", Partition: 3, Offset: offset, Value: value,
		Timestamp: time.UnixMilli(1_700_000_000_000 + offset)}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newDecoder(t *testing.T, opts DecoderOptions) (*Decoder, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	opts.Mem = mem
	d, err := NewDecoder(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, mem
}

var userSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "small", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "user", Type: arrow.StructOf(
		arrow.Field{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	), Nullable: true},
	{Name: "items", Type: arrow.ListOf(arrow.StructOf(
		arrow.Field{Name: "sku", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "qty", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	)), Nullable: true},
}, nil)

func TestDecodeJSON(t *testing.T) {
	d, _ := newDecoder(t, DecoderOptions{Format: JSON, Schema: userSchema})
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	rows := []map[string]any{
		{"id": 1, "score": 2.5, "name": "ann", "ok": true, "ts": ts.Format(time.RFC3339Nano), "small": 255,
			"blob": []byte{0, 1, 2}, "day": "2024-05-06",
			"user":  map[string]any{"city": "Oslo", "tags": []string{"a", "b"}},
			"items": []map[string]any{{"sku": 7, "qty": 2}, {"sku": 8}}, "ignored": "x"},
		{"id": -9, "ts": ts.UnixMilli() + 1, "day": 19000, "user": nil, "items": []any{}},
		{"id": 3, "score": nil, "user": map[string]any{"tags": nil}},
	}
	var recs []*kgo.Record
	for i, r := range rows {
		recs = append(recs, rec(int64(100+i), mustJSON(t, r)))
	}
	out, err := d.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	if len(out.Bad) != 0 {
		t.Fatalf("bad records: %+v", out.Bad)
	}
	b := out.Batch
	if b.NumRows() != 3 {
		t.Fatalf("rows = %d", b.NumRows())
	}
	ids := b.Column(0).(*array.Int64)
	if ids.Value(0) != 1 || ids.Value(1) != -9 || ids.Value(2) != 3 {
		t.Errorf("id = %v", ids)
	}
	score := b.Column(1).(*array.Float64)
	if score.Value(0) != 2.5 || !score.IsNull(1) || !score.IsNull(2) {
		t.Errorf("score = %v", score)
	}
	if s := b.Column(2).(*array.String); s.Value(0) != "ann" || !s.IsNull(1) {
		t.Errorf("name = %v", s)
	}
	if o := b.Column(3).(*array.Boolean); !o.Value(0) || !o.IsNull(1) {
		t.Errorf("ok = %v", o)
	}
	tsc := b.Column(4).(*array.Timestamp)
	if int64(tsc.Value(0)) != ts.UnixMilli() || int64(tsc.Value(1)) != ts.UnixMilli()+1 || !tsc.IsNull(2) {
		t.Errorf("ts = %v, want %d", tsc, ts.UnixMilli())
	}
	if s := b.Column(5).(*array.Uint8); s.Value(0) != 255 {
		t.Errorf("small = %v", s)
	}
	if bl := b.Column(6).(*array.Binary); !bytes.Equal(bl.Value(0), []byte{0, 1, 2}) {
		t.Errorf("blob = %v", bl)
	}
	day := b.Column(7).(*array.Date32)
	wantDay := int32(time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	if int32(day.Value(0)) != wantDay || day.Value(1) != 19000 {
		t.Errorf("day = %v, want %d", day, wantDay)
	}
	user := b.Column(8).(*array.Struct)
	if user.IsNull(0) || !user.IsNull(1) || user.IsNull(2) {
		t.Errorf("user validity = %v", user)
	}
	if c := user.Field(0).(*array.String); c.Value(0) != "Oslo" || !c.IsNull(2) {
		t.Errorf("user.city = %v", c)
	}
	tags := user.Field(1).(*array.List)
	if got := listStrings(tags, 0); strings.Join(got, ",") != "a,b" || !tags.IsNull(2) {
		t.Errorf("user.tags = %v", tags)
	}
	items := b.Column(9).(*array.List)
	lo, hi := items.ValueOffsets(0)
	st := items.ListValues().(*array.Struct)
	if hi-lo != 2 || st.Field(0).(*array.Int32).Value(int(lo+1)) != 8 || !st.Field(1).IsNull(int(lo+1)) ||
		st.Field(1).(*array.Int16).Value(int(lo)) != 2 {
		t.Errorf("items = %v", items)
	}
	if lo, hi := items.ValueOffsets(1); hi != lo || items.IsNull(1) {
		t.Errorf("items[1] should be an empty list: %v", items)
	}
	if !items.IsNull(2) {
		t.Errorf("items[2] should be null")
	}
}

func listStrings(l *array.List, i int) []string {
	lo, hi := l.ValueOffsets(i)
	vals := l.ListValues().(*array.String)
	var out []string
	for j := lo; j < hi; j++ {
		out = append(out, vals.Value(int(j)))
	}
	return out
}

func TestDecodeJSONBadRecords(t *testing.T) {
	d, _ := newDecoder(t, DecoderOptions{Format: JSON, Schema: userSchema})
	cases := []struct {
		value string
		want  string // in the reason
	}{
		{`{"id": "abc"}`, `field "id": expected int64, got JSON string`},
		{`{"id": 1.5}`, `field "id"`},
		{`{"id": 1, "small": 256}`, `field "small"`},
		{`{"id": 1, "user": {"tags": [1]}}`, `field "user.tags[0]": expected utf8`},
		{`{"id": 1, "items": [{"qty": 1}]}`, `field "items[0].sku": missing or null`},
		{`{"score": 1}`, `field "id": missing or null`},
		{`{"id": 1, "ts": "yesterday"}`, `field "ts": "yesterday" is not a timestamp`},
		{`{"id": 1, "blob": "%%%"}`, `field "blob": binary must be base64`},
		{`[1, 2]`, `JSON array, not an object`},
		{`{"id": 1} {"id": 2}`, `data after the top-level value`},
		{`{"id": 1`, `not valid JSON`},
	}
	recs := []*kgo.Record{rec(0, []byte(`{"id": 10}`))}
	for i, c := range cases {
		recs = append(recs, rec(int64(i+1), []byte(c.value)))
	}
	recs = append(recs, rec(int64(len(cases)+1), []byte(`{"id": 20}`)))
	tomb := rec(int64(len(cases)+2), nil)
	recs = append(recs, tomb)
	out, err := d.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	ids := out.Batch.Column(0).(*array.Int64)
	if out.Batch.NumRows() != 2 || ids.Value(0) != 10 || ids.Value(1) != 20 {
		t.Fatalf("good rows = %v", ids)
	}
	if len(out.Bad) != len(cases)+1 {
		t.Fatalf("bad = %d records, want %d: %+v", len(out.Bad), len(cases)+1, out.Bad)
	}
	for i, c := range cases {
		b := out.Bad[i]
		if b.Offset != int64(i+1) || b.Topic != "events" || b.Partition != 3 || string(b.Value) != c.value {
			t.Errorf("bad[%d] = %+v", i, b)
		}
		if !strings.Contains(b.Reason, c.want) {
			t.Errorf("%s: reason %q does not contain %q", c.value, b.Reason, c.want)
		}
	}
	if !strings.Contains(out.Bad[len(cases)].Reason, "tombstone") {
		t.Errorf("tombstone reason = %q", out.Bad[len(cases)].Reason)
	}
	err = out.Bad[0].Err()
	if rberr.KindOf(err) != rberr.Data || !strings.Contains(err.Error(), `topic "events" partition 3 offset 1`) {
		t.Errorf("Err() = %v", err)
	}
}

func TestDecodeCSV(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	d, _ := newDecoder(t, DecoderOptions{Format: CSV, Schema: schema, Metadata: Metadata{Offset: "off"}})
	values := []string{
		"1,plain,2.25,2024-01-02T03:04:05.000006Z,true",
		"2,\"with, comma \"\"q\"\"\",,1700000000000000,",
		"x,bad,1,,",          // bad id
		"3,short",            // too few fields
		"4,a,1,2024-13-01,",  // bad timestamp
		"5,a,1,,maybe",       // bad bool
		"6,two\n7,rows,1,,",  // two rows
		"8,\"unterminated,1", // bad quoting
	}
	var recs []*kgo.Record
	for i, v := range values {
		recs = append(recs, rec(int64(i), []byte(v)))
	}
	out, err := d.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	b := out.Batch
	if b.NumRows() != 2 || len(out.Bad) != 6 {
		t.Fatalf("rows %d, bad %d: %+v", b.NumRows(), len(out.Bad), out.Bad)
	}
	if n := b.Column(1).(*array.String); n.Value(0) != "plain" || n.Value(1) != `with, comma "q"` {
		t.Errorf("name = %v", n)
	}
	if p := b.Column(2).(*array.Float64); p.Value(0) != 2.25 || !p.IsNull(1) {
		t.Errorf("price = %v", p)
	}
	want := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC).UnixMicro()
	if ts := b.Column(3).(*array.Timestamp); int64(ts.Value(0)) != want || int64(ts.Value(1)) != 1700000000000000 {
		t.Errorf("ts = %v, want %d", ts, want)
	}
	if f := b.Column(4).(*array.Boolean); !f.Value(0) || !f.IsNull(1) {
		t.Errorf("flag = %v", f)
	}
	if off := b.Column(5).(*array.Int64); off.Value(0) != 0 || off.Value(1) != 1 {
		t.Errorf("offsets = %v", off)
	}
	wantReasons := []string{`field "id"`, "CSV row has 2 fields, the schema 5", `field "ts"`, `field "flag"`, "more than one row", "not valid CSV"}
	for i, w := range wantReasons {
		if !strings.Contains(out.Bad[i].Reason, w) || out.Bad[i].Offset != int64(i+2) {
			t.Errorf("bad[%d] = %d %q, want %q", i, out.Bad[i].Offset, out.Bad[i].Reason, w)
		}
	}
}

func TestDecodeRawAndMetadata(t *testing.T) {
	d, _ := newDecoder(t, DecoderOptions{Format: Raw, Schema: arrow.NewSchema(
		[]arrow.Field{{Name: "line", Type: arrow.BinaryTypes.String, Nullable: true}}, nil), Metadata: AllMetadata})
	r0 := rec(5, []byte("héllo"))
	r0.Key = []byte("k1")
	r0.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "n"}}
	r1 := rec(6, nil)
	r2 := rec(7, []byte{0xff, 0xfe})
	out, err := d.Decode([]*kgo.Record{r0, r1, r2})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	b := out.Batch
	if b.NumRows() != 2 || len(out.Bad) != 1 || out.Bad[0].Offset != 7 || !strings.Contains(out.Bad[0].Reason, "UTF-8") {
		t.Fatalf("rows %d bad %+v", b.NumRows(), out.Bad)
	}
	names := []string{"line", "kafka_key", "kafka_headers", "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"}
	for i, n := range names {
		if b.Schema().Field(i).Name != n {
			t.Fatalf("schema = %s", b.Schema())
		}
	}
	if l := b.Column(0).(*array.String); l.Value(0) != "héllo" || !l.IsNull(1) {
		t.Errorf("line = %v", l)
	}
	if k := b.Column(1).(*array.Binary); string(k.Value(0)) != "k1" || !k.IsNull(1) {
		t.Errorf("key = %v", k)
	}
	hs := b.Column(2).(*array.List)
	lo, hi := hs.ValueOffsets(0)
	hst := hs.ListValues().(*array.Struct)
	if hi-lo != 2 || hst.Field(0).(*array.String).Value(int(lo)) != "h" ||
		string(hst.Field(1).(*array.Binary).Value(int(lo))) != "v" || !hst.Field(1).IsNull(int(lo+1)) {
		t.Errorf("headers = %v", hs)
	}
	if lo, hi := hs.ValueOffsets(1); lo != hi {
		t.Errorf("headers[1] = %v", hs)
	}
	if tp := b.Column(3).(*array.String); tp.Value(1) != "events" {
		t.Errorf("topic = %v", tp)
	}
	if p := b.Column(4).(*array.Int32); p.Value(0) != 3 {
		t.Errorf("partition = %v", p)
	}
	if o := b.Column(5).(*array.Int64); o.Value(0) != 5 || o.Value(1) != 6 {
		t.Errorf("offset = %v", o)
	}
	if ts := b.Column(6).(*array.Timestamp); int64(ts.Value(1)) != 1_700_000_000_006 {
		t.Errorf("timestamp = %v", ts)
	}
}

func TestDecoderOptionErrors(t *testing.T) {
	cases := []struct {
		opts DecoderOptions
		kind rberr.Kind
		want string
	}{
		{DecoderOptions{Format: "xml"}, rberr.InvalidArgument, "unknown format"},
		{DecoderOptions{Format: JSON}, rberr.InvalidArgument, "needs a schema"},
		{DecoderOptions{Format: CSV, Schema: userSchema}, rberr.Type, `field "user"`},
		{DecoderOptions{Format: JSON, Schema: arrow.NewSchema([]arrow.Field{{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String)}}, nil)}, rberr.Type, `field "m"`},
		{DecoderOptions{Format: Raw, Schema: userSchema}, rberr.InvalidArgument, "one column"},
		{DecoderOptions{Format: Raw, Metadata: Metadata{Offset: "value"}}, rberr.InvalidArgument, `"value" has the name of another column`},
		{DecoderOptions{Format: ArrowIPC}, rberr.InvalidArgument, "needs the schema"},
	}
	for _, c := range cases {
		_, err := NewDecoder(c.opts)
		if rberr.KindOf(err) != c.kind || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %v containing %q", c.opts, err, c.kind, c.want)
		}
	}
}

// ipcBytes writes batches as one Arrow IPC stream with arrow-go's writer.
func ipcBytes(t testing.TB, schema *arrow.Schema, batches ...arrow.RecordBatch) []byte {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func buildBatch(t testing.TB, schema *arrow.Schema, rowsJSON string) arrow.RecordBatch {
	b, _, err := array.RecordFromJSON(memory.NewGoAllocator(), schema, strings.NewReader(rowsJSON))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var ipcSchema = arrow.NewSchema([]arrow.Field{
	{Name: "a", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func TestDecodeIPC(t *testing.T) {
	d, _ := newDecoder(t, DecoderOptions{Format: ArrowIPC, Schema: ipcSchema, Metadata: Metadata{Offset: "off"}})
	b1 := buildBatch(t, ipcSchema, `[{"a": 1, "s": "x"}, {"a": 2, "s": null}]`)
	defer b1.Release()
	b2 := buildBatch(t, ipcSchema, `[{"a": 3, "s": "z"}]`)
	defer b2.Release()
	other := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int32}}, nil)
	bo := buildBatch(t, other, `[{"a": 1}]`)
	defer bo.Release()
	good := ipcBytes(t, ipcSchema, b1, b2)
	recs := []*kgo.Record{
		rec(0, good),
		rec(1, []byte("not arrow")),
		rec(2, ipcBytes(t, other, bo)),
		rec(3, good[:len(good)-20]),
		rec(4, ipcBytes(t, ipcSchema, b2)),
	}
	out, err := d.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	want := buildBatch(t, arrow.NewSchema(append(ipcSchema.Fields(), arrow.Field{Name: "off", Type: arrow.PrimitiveTypes.Int64}), nil),
		`[{"a":1,"s":"x","off":0},{"a":2,"s":null,"off":0},{"a":3,"s":"z","off":0},{"a":3,"s":"z","off":4}]`)
	defer want.Release()
	if !array.RecordEqual(out.Batch, want) {
		t.Errorf("got %v\nwant %v", out.Batch, want)
	}
	if len(out.Bad) != 3 || out.Bad[0].Offset != 1 || out.Bad[1].Offset != 2 || out.Bad[2].Offset != 3 {
		t.Fatalf("bad = %+v", out.Bad)
	}
	if !strings.Contains(out.Bad[1].Reason, "schema") {
		t.Errorf("reason = %q", out.Bad[1].Reason)
	}
}

func TestEncodeJSON(t *testing.T) {
	in := buildBatch(t, userSchema, `[
		{"id": 1, "score": 2.5, "name": "a\"b", "ok": true, "ts": "2024-05-06T07:08:09.123Z", "small": 7,
		 "blob": "AAEC", "day": "2024-05-06", "user": {"city": "Oslo", "tags": ["x", null]},
		 "items": [{"sku": 7, "qty": null}]},
		{"id": 2}
	]`)
	defer in.Release()
	e, err := NewEncoder(userSchema, EncoderOptions{Format: JSON, Topic: "out", KeyColumn: "id"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := e.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || string(recs[0].Key) != "1" || string(recs[1].Key) != "2" || recs[0].Topic != "out" {
		t.Fatalf("records = %+v", recs)
	}
	// The oracle is encoding/json reading the text back.
	var got map[string]any
	if err := json.Unmarshal(recs[0].Value, &got); err != nil {
		t.Fatalf("%s: %v", recs[0].Value, err)
	}
	want := map[string]any{
		"id": 1.0, "score": 2.5, "name": `a"b`, "ok": true, "ts": "2024-05-06T07:08:09.123Z", "small": 7.0,
		"blob": base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), "day": "2024-05-06",
		"user":  map[string]any{"city": "Oslo", "tags": []any{"x", nil}},
		"items": []any{map[string]any{"sku": 7.0, "qty": nil}},
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); !bytes.Equal(g, w) {
		t.Errorf("row 0 = %s\nwant    %s", g, w)
	}
	if !strings.HasPrefix(string(recs[0].Value), `{"id":1,"score":2.5,`) {
		t.Errorf("columns out of order: %s", recs[0].Value)
	}
	// What the encoder writes, the decoder reads back equal.
	d, _ := newDecoder(t, DecoderOptions{Format: JSON, Schema: userSchema})
	out, err := d.Decode(recs)
	if err != nil || len(out.Bad) != 0 {
		t.Fatal(err, out.Bad)
	}
	defer out.Batch.Release()
	if !array.RecordEqual(out.Batch, in) {
		t.Errorf("round trip:\n%v\nwant\n%v", out.Batch, in)
	}

	nan := buildBatch(t, userSchema, `[{"id": 1, "score": "NaN"}]`)
	defer nan.Release()
	if _, err := e.Encode(nan); err == nil || !strings.Contains(err.Error(), `column "score" row 0`) {
		t.Errorf("NaN: err = %v", err)
	}
}

func TestEncodeRawAndIPC(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	in := buildBatch(t, schema, `[{"k": "a", "v": "AQI="}, {"k": null, "v": null}, {"k": "c", "v": ""}]`)
	defer in.Release()
	e, err := NewEncoder(schema, EncoderOptions{Format: Raw, KeyColumn: "k"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := e.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || string(recs[0].Key) != "a" || !bytes.Equal(recs[0].Value, []byte{1, 2}) ||
		recs[1].Key != nil || recs[1].Value != nil || recs[2].Value == nil || len(recs[2].Value) != 0 {
		t.Errorf("raw records = %+v", recs)
	}
	if _, err := NewEncoder(schema, EncoderOptions{Format: Raw}); rberr.KindOf(err) != rberr.InvalidArgument {
		t.Errorf("raw with two columns: %v", err)
	}

	e, err = NewEncoder(schema, EncoderOptions{Format: ArrowIPC, RowsPerRecord: 2})
	if err != nil {
		t.Fatal(err)
	}
	recs, err = e.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("IPC records = %d, want 2", len(recs))
	}
	var rows int64
	for i, r := range recs {
		rd, err := ipc.NewReader(bytes.NewReader(r.Value))
		if err != nil {
			t.Fatal(err)
		}
		for rd.Next() {
			b := rd.RecordBatch()
			want := in.NewSlice(int64(i*2), min(int64(i*2+2), in.NumRows()))
			if !array.RecordEqual(b, want) {
				t.Errorf("record %d = %v, want %v", i, b, want)
			}
			want.Release()
			rows += b.NumRows()
		}
		rd.Release()
	}
	if rows != 3 {
		t.Errorf("rows = %d", rows)
	}
	if _, err := NewEncoder(schema, EncoderOptions{Format: ArrowIPC, KeyColumn: "k"}); rberr.KindOf(err) != rberr.InvalidArgument {
		t.Errorf("IPC with key: %v", err)
	}
}

// A compressed IPC stream decodes; one whose buffer declares a huge
// decompressed size (arrow-go would allocate it before decompressing, a
// fatal out-of-memory) is a bad record naming the buffer.
func TestDecodeIPCCompressed(t *testing.T) {
	d, _ := newDecoder(t, DecoderOptions{Format: ArrowIPC, Schema: ipcSchema})
	b := buildBatch(t, ipcSchema, `[{"a": 1, "s": "x"}, {"a": 2, "s": "yy"}]`)
	defer b.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(ipcSchema), ipc.WithZstd())
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	// Forge the first compressed buffer's size prefix: find the 8-byte
	// little-endian value 16 (2 int64 values) that precedes zstd's magic.
	forged := bytes.Clone(good)
	magic := []byte{0x28, 0xb5, 0x2f, 0xfd}
	i := bytes.Index(forged, magic)
	if i < 8 {
		t.Fatal("no zstd frame in the stream")
	}
	binary.LittleEndian.PutUint64(forged[i-8:], 1<<40)
	out, err := d.Decode([]*kgo.Record{rec(0, good), rec(1, forged)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Batch.Release()
	if out.Batch.NumRows() != 2 || !array.Equal(out.Batch.Column(1), b.Column(1)) {
		t.Errorf("got %v", out.Batch)
	}
	if len(out.Bad) != 1 || out.Bad[0].Offset != 1 || !strings.Contains(out.Bad[0].Reason, "decompressed") {
		t.Fatalf("bad = %+v", out.Bad)
	}
}

// Upsert reading: a record with a value is an upsert (+U) read from the value; a tombstone
// is a delete (-D) whose key columns are read from the record key as the upsert sink
// writes it (one column: its text, its bytes, or its JSON text; several: a JSON object),
// with nulls elsewhere. A tombstone without a key or with an unreadable one is a bad record.
func TestDecodeUpserts(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	keyed := func(offset int64, key, value []byte) *kgo.Record {
		r := rec(offset, value)
		r.Key = key
		return r
	}
	cases := []struct {
		keys []string
		recs []*kgo.Record
		want []string // id, name, x, op
		bad  []string // reasons, in order
	}{
		{keys: []string{"id"}, recs: []*kgo.Record{
			keyed(0, []byte("7"), []byte(`{"id": 7, "name": "a", "x": 1.5}`)),
			keyed(1, []byte("7"), nil),
			keyed(2, nil, nil),
			keyed(3, []byte("seven"), nil),
		}, want: []string{"7 a 1.5 +U", "7 <nil> <nil> -D"}, bad: []string{"without a key", `record key: "seven" is not the JSON text of a int64 (the key column "id")`}},
		{keys: []string{"name"}, recs: []*kgo.Record{keyed(0, []byte("b c"), nil)}, want: []string{"<nil> b c <nil> -D"}},
		{keys: []string{"id", "name"}, recs: []*kgo.Record{
			keyed(0, []byte(`{"name": "z", "id": 3}`), nil),
			keyed(1, []byte(`3`), nil),
		}, want: []string{"3 z <nil> -D"}, bad: []string{"record key: the value is a JSON number, not an object"}},
	}
	for _, c := range cases {
		d, _ := newDecoder(t, DecoderOptions{Format: JSON, Schema: schema, UpsertKeys: c.keys, UpsertOpColumn: "__op"})
		if n := d.Schema().NumFields(); d.Schema().Field(n-1).Name != "__op" || n != 4 {
			t.Fatalf("schema %v", d.Schema())
		}
		out, err := d.Decode(c.recs)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := 0; i < int(out.Batch.NumRows()); i++ {
			var vals []string
			for _, col := range out.Batch.Columns() {
				if col.IsNull(i) {
					vals = append(vals, "<nil>")
				} else {
					vals = append(vals, col.ValueStr(i))
				}
			}
			got = append(got, strings.Join(vals, " "))
		}
		out.Batch.Release()
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("keys %v: rows %q, want %q", c.keys, got, c.want)
		}
		if len(out.Bad) != len(c.bad) {
			t.Fatalf("keys %v: bad records %+v, want %q", c.keys, out.Bad, c.bad)
		}
		for i, b := range out.Bad {
			if !strings.Contains(b.Reason, c.bad[i]) {
				t.Errorf("keys %v: reason %q does not contain %q", c.keys, b.Reason, c.bad[i])
			}
		}
	}
	for _, c := range []struct {
		opts DecoderOptions
		want string
	}{
		{DecoderOptions{Format: JSON, Schema: schema, UpsertKeys: []string{"nope"}, UpsertOpColumn: "__op"}, `the key column "nope" is not a value column`},
		{DecoderOptions{Format: JSON, Schema: schema, UpsertKeys: []string{"id"}, UpsertOpColumn: "x"}, "an op column name that no other column has"},
		{DecoderOptions{Format: ArrowIPC, Schema: schema, UpsertKeys: []string{"id"}, UpsertOpColumn: "__op"}, "upsert reading takes format"},
	} {
		if _, err := NewDecoder(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opts.UpsertKeys, err, c.want)
		}
	}
}

func TestEncodeKeyed(t *testing.T) {
	in := buildBatch(t, userSchema, `[{"id": 1, "name": "a"}, {"id": 2}, {"id": 3, "name": "c"}]`)
	defer in.Release()
	e, err := NewEncoder(userSchema, EncoderOptions{Format: JSON, KeyType: arrow.BinaryTypes.String})
	if err != nil {
		t.Fatal(err)
	}
	keys := buildArray(t, arrow.BinaryTypes.String, `["k1", null, "k3"]`)
	defer keys.Release()
	recs, err := e.EncodeKeyed(in, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || string(recs[0].Key) != "k1" || recs[1].Key != nil || string(recs[2].Key) != "k3" {
		t.Fatalf("records = %+v", recs)
	}
	if !strings.HasPrefix(string(recs[2].Value), `{"id":3,`) {
		t.Errorf("value = %s", recs[2].Value)
	}
	// Other types are keyed by their JSON text, as a key column.
	ints, err := NewEncoder(userSchema, EncoderOptions{Format: JSON, KeyType: arrow.PrimitiveTypes.Int64})
	if err != nil {
		t.Fatal(err)
	}
	nums := buildArray(t, arrow.PrimitiveTypes.Int64, `[10, 20, null]`)
	defer nums.Release()
	if recs, err = ints.EncodeKeyed(in, nums); err != nil || string(recs[1].Key) != "20" || recs[2].Key != nil {
		t.Fatalf("records = %+v, %v", recs, err)
	}
	if _, err := e.Encode(in); err == nil {
		t.Error("Encode of a keyed encoder: no error")
	}
	if _, err := e.EncodeKeyed(in, nums); err == nil {
		t.Error("keys of another type: no error")
	}
	if _, err := NewEncoder(userSchema, EncoderOptions{Format: ArrowIPC, KeyType: arrow.BinaryTypes.String}); rberr.KindOf(err) != rberr.InvalidArgument {
		t.Errorf("arrow with a key: %v", err)
	}
	if _, err := NewEncoder(userSchema, EncoderOptions{Format: JSON, KeyType: arrow.BinaryTypes.String, KeyColumn: "id"}); err == nil {
		t.Error("a key type and a key column: no error")
	}
}

func buildArray(t testing.TB, dt arrow.DataType, valuesJSON string) arrow.Array {
	a, _, err := array.FromJSON(memory.NewGoAllocator(), dt, strings.NewReader(valuesJSON))
	if err != nil {
		t.Fatal(err)
	}
	return a
}
