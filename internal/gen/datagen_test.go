package gen

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

func newDatagen(t testing.TB, schema *arrow.Schema, cfg DatagenConfig) Generator {
	t.Helper()
	g, err := NewDatagen(schema, cfg)
	if err != nil {
		t.Fatalf("NewDatagen: %v", err)
	}
	return g
}

func field(name string, dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: dt, Nullable: true}
}

var allTypesSchema = arrow.NewSchema([]arrow.Field{
	field("i8", arrow.PrimitiveTypes.Int8),
	field("i16", arrow.PrimitiveTypes.Int16),
	field("i32", arrow.PrimitiveTypes.Int32),
	field("i64", arrow.PrimitiveTypes.Int64),
	field("u8", arrow.PrimitiveTypes.Uint8),
	field("u16", arrow.PrimitiveTypes.Uint16),
	field("u32", arrow.PrimitiveTypes.Uint32),
	field("u64", arrow.PrimitiveTypes.Uint64),
	field("f32", arrow.PrimitiveTypes.Float32),
	field("f64", arrow.PrimitiveTypes.Float64),
	field("b", arrow.FixedWidthTypes.Boolean),
	field("s", arrow.BinaryTypes.String),
	field("ts_s", &arrow.TimestampType{Unit: arrow.Second}),
	field("ts_ms", &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}),
	field("ts_us", &arrow.TimestampType{Unit: arrow.Microsecond}),
	field("ts_ns", &arrow.TimestampType{Unit: arrow.Nanosecond}),
	field("d", arrow.FixedWidthTypes.Date32),
}, nil)

func TestDatagenDefaults(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	g := newDatagen(t, allTypesSchema, DatagenConfig{Seed: 1})
	rec := rows(t, g, mem, 0, 5000)
	defer rec.Release()
	if rec.NumRows() != 5000 {
		t.Fatalf("%d rows, want 5000", rec.NumRows())
	}
	for c := range int(rec.NumCols()) {
		if n := rec.Column(c).NullN(); n != 0 {
			t.Errorf("column %s has %d nulls without Nulls set", rec.ColumnName(c), n)
		}
	}
	checkInts := func(name string, vals []int64, lo, hi int64) {
		seen := map[int64]bool{}
		for _, v := range vals {
			if v < lo || v > hi {
				t.Fatalf("%s: value %d outside [%d, %d]", name, v, lo, hi)
			}
			seen[v] = true
		}
		if len(seen) < int(min(hi-lo+1, 500)/2) {
			t.Errorf("%s: only %d distinct values", name, len(seen))
		}
	}
	col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
	var i8, i16, i32, i64, u8, u16, u32, u64 []int64
	for _, v := range col("i8").(*array.Int8).Int8Values() {
		i8 = append(i8, int64(v))
	}
	for _, v := range col("i16").(*array.Int16).Int16Values() {
		i16 = append(i16, int64(v))
	}
	for _, v := range col("i32").(*array.Int32).Int32Values() {
		i32 = append(i32, int64(v))
	}
	i64 = col("i64").(*array.Int64).Int64Values()
	for _, v := range col("u8").(*array.Uint8).Uint8Values() {
		u8 = append(u8, int64(v))
	}
	for _, v := range col("u16").(*array.Uint16).Uint16Values() {
		u16 = append(u16, int64(v))
	}
	for _, v := range col("u32").(*array.Uint32).Uint32Values() {
		u32 = append(u32, int64(v))
	}
	for _, v := range col("u64").(*array.Uint64).Uint64Values() {
		u64 = append(u64, int64(v))
	}
	checkInts("i8", i8, 0, 127)
	checkInts("i16", i16, 0, 1000)
	checkInts("i32", i32, 0, 1000)
	checkInts("i64", i64, 0, 1000)
	checkInts("u8", u8, 0, 255)
	checkInts("u16", u16, 0, 1000)
	checkInts("u32", u32, 0, 1000)
	checkInts("u64", u64, 0, 1000)

	sum := 0.0
	for _, v := range col("f64").(*array.Float64).Float64Values() {
		if v < 0 || v > 1 {
			t.Fatalf("f64 value %v outside [0, 1]", v)
		}
		sum += v
	}
	if mean := sum / 5000; math.Abs(mean-0.5) > 0.02 {
		t.Errorf("f64 mean %.3f, want about 0.5", mean)
	}
	for _, v := range col("f32").(*array.Float32).Float32Values() {
		if v < 0 || v > 1 {
			t.Fatalf("f32 value %v outside [0, 1]", v)
		}
	}
	trues := 0
	b := col("b").(*array.Boolean)
	for i := range b.Len() {
		if b.Value(i) {
			trues++
		}
	}
	if trues < 2300 || trues > 2700 {
		t.Errorf("%d of 5000 booleans true, want about half", trues)
	}
	for _, s := range strs(rec, "s") {
		if len(s) != 10 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Fatalf("random string %q, want 10 characters of [a-z0-9]", s)
		}
	}
}

func TestDatagenEventTimeColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, cfg := range []DatagenConfig{{}, {RowsPerSecond: 3, BaseTime: -86_400_000_001}, {RowsPerSecond: 250_000}} {
		g := newDatagen(t, allTypesSchema, cfg)
		rps, base := cfg.RowsPerSecond, cfg.BaseTime
		if rps == 0 {
			rps = 1000
		}
		if base == 0 {
			base = defaultBaseTime
		}
		const start = 123_456
		rec := rows(t, g, mem, start, start+2000)
		ts := func(name string) []arrow.Timestamp {
			return rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.Timestamp).TimestampValues()
		}
		s, ms, us, ns := ts("ts_s"), ts("ts_ms"), ts("ts_us"), ts("ts_ns")
		days := rec.Column(rec.Schema().FieldIndices("d")[0]).(*array.Date32).Date32Values()
		for k := range 2000 {
			i := int64(start + k)
			want := base + i/rps*1_000_000 + i%rps*1_000_000/rps
			if got := g.EventTime(i); got != want {
				t.Fatalf("rps %d: EventTime(%d) = %d, want %d", rps, i, got, want)
			}
			if int64(us[k]) != want || int64(ns[k]) != want*1000 ||
				int64(ms[k]) != int64(math.Floor(float64(want)/1e3)) ||
				int64(s[k]) != int64(math.Floor(float64(want)/1e6)) ||
				int64(days[k]) != int64(math.Floor(float64(want)/86_400e6)) {
				t.Fatalf("rps %d row %d: timestamps s=%d ms=%d us=%d ns=%d days=%d, event time %d",
					rps, i, s[k], ms[k], us[k], ns[k], days[k], want)
			}
		}
		rec.Release()
	}
}

func TestDatagenSequenceRangesNulls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		field("seq", arrow.PrimitiveTypes.Int64),
		field("seq8", arrow.PrimitiveTypes.Uint8),
		field("fseq", arrow.PrimitiveTypes.Float64),
		field("sseq", arrow.BinaryTypes.String),
		field("r", arrow.PrimitiveTypes.Int32),
		field("f", arrow.PrimitiveTypes.Float32),
		field("s5", arrow.BinaryTypes.String),
		field("n", arrow.PrimitiveTypes.Int64),
		field("ns", arrow.BinaryTypes.String),
		field("nb", arrow.FixedWidthTypes.Boolean),
		{Name: "full", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	g := newDatagen(t, schema, DatagenConfig{Seed: 9, Fields: map[string]FieldSpec{
		"seq":  {Kind: "sequence", Min: -5},
		"seq8": {Kind: "sequence", Min: 250},
		"fseq": {Kind: "sequence", Min: 0.5},
		"sseq": {Kind: "sequence", Min: 100},
		"r":    {Min: -3, Max: 3},
		"f":    {Min: 10, Max: 20},
		"s5":   {Length: 5},
		"n":    {Nulls: 0.3},
		"ns":   {Nulls: 0.1},
		"nb":   {Nulls: 1},
		"full": {Min: math.MinInt64, Max: 1 << 62},
	}})
	const start, n = 1000, 20_000
	rec := rows(t, g, mem, start, start+n)
	defer rec.Release()
	col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
	seq := col("seq").(*array.Int64).Int64Values()
	seq8 := col("seq8").(*array.Uint8).Uint8Values()
	fseq := col("fseq").(*array.Float64).Float64Values()
	sseq := strs(rec, "sseq")
	for k := range n {
		i := int64(start + k)
		if seq[k] != -5+i || seq8[k] != uint8(250+i) || fseq[k] != 0.5+float64(i) || sseq[k] != strconv.FormatInt(100+i, 10) {
			t.Fatalf("row %d: sequences %d %d %v %q", i, seq[k], seq8[k], fseq[k], sseq[k])
		}
	}
	seen := map[int32]int{}
	for _, v := range col("r").(*array.Int32).Int32Values() {
		if v < -3 || v > 3 {
			t.Fatalf("r value %d outside [-3, 3]", v)
		}
		seen[v]++
	}
	if len(seen) != 7 {
		t.Errorf("r takes %d distinct values, want all 7 of [-3, 3]", len(seen))
	}
	for _, v := range col("f").(*array.Float32).Float32Values() {
		if v < 10 || v > 20 {
			t.Fatalf("f value %v outside [10, 20]", v)
		}
	}
	for _, s := range strs(rec, "s5") {
		if len(s) != 5 {
			t.Fatalf("s5 value %q, want length 5", s)
		}
	}
	for name, frac := range map[string]float64{"n": 0.3, "ns": 0.1, "nb": 1, "seq": 0} {
		got := float64(col(name).NullN()) / n
		if math.Abs(got-frac) > 0.015 {
			t.Errorf("%s: null fraction %.3f, want about %.2f", name, got, frac)
		}
	}
	ns := col("ns").(*array.String)
	for i := range ns.Len() {
		if ns.IsNull(i) && ns.ValueLen(i) != 0 {
			t.Fatalf("null string at %d has %d bytes", i, ns.ValueLen(i))
		}
	}
	neg := 0
	for _, v := range col("full").(*array.Int64).Int64Values() {
		if v > 1<<62 {
			t.Fatalf("full value %d above 2^62", v)
		}
		if v < 0 {
			neg++
		}
	}
	if neg < n/3 {
		t.Errorf("full range: only %d negative values of %d", neg, n)
	}
}

func TestDatagenDeterministicSplits(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := DatagenConfig{Seed: 77, Fields: map[string]FieldSpec{"i64": {Nulls: 0.2}, "s": {Nulls: 0.5}, "b": {Nulls: 0.1}}}
	requireSplitEqual(t, newDatagen(t, allTypesSchema, cfg), mem, 10000, 3333, 7001)

	// A column's values depend on its name, not its position or the other columns.
	other := arrow.NewSchema([]arrow.Field{field("s", arrow.BinaryTypes.String), field("extra", arrow.PrimitiveTypes.Int64)}, nil)
	a := rows(t, newDatagen(t, allTypesSchema, cfg), mem, 50, 150)
	defer a.Release()
	otherCfg := cfg
	otherCfg.Fields = map[string]FieldSpec{"s": cfg.Fields["s"]}
	b := rows(t, newDatagen(t, other, otherCfg), mem, 50, 150)
	defer b.Release()
	if !array.Equal(a.Column(allTypesSchema.FieldIndices("s")[0]), b.Column(0)) {
		t.Errorf("column s differs between schemas")
	}
	c := rows(t, newDatagen(t, other, DatagenConfig{Seed: 78}), mem, 50, 150)
	defer c.Release()
	if array.Equal(b.Column(1), c.Column(1)) {
		t.Errorf("different seeds give equal columns")
	}
}

func TestDatagenErrors(t *testing.T) {
	nonNull := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	cases := []struct {
		name   string
		schema *arrow.Schema
		cfg    DatagenConfig
		want   []string
	}{
		{"unknown field", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"nope": {}, "i8": {}}}, []string{`"nope"`}},
		{"unsupported type", arrow.NewSchema([]arrow.Field{field("lst", arrow.ListOf(arrow.PrimitiveTypes.Int64))}, nil), DatagenConfig{}, []string{`"lst"`, "list"}},
		{"binary", arrow.NewSchema([]arrow.Field{field("bin", arrow.BinaryTypes.Binary)}, nil), DatagenConfig{}, []string{`"bin"`, "binary"}},
		{"bad kind", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"i8": {Kind: "zipf"}}}, []string{`"i8"`, "zipf"}},
		{"out of range", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"i8": {Min: 0, Max: 300}}}, []string{`"i8"`, "300"}},
		{"negative unsigned", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"u32": {Min: -1, Max: 3}}}, []string{`"u32"`}},
		{"fractional int", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"i32": {Min: 0.5, Max: 3}}}, []string{`"i32"`}},
		{"max below min", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"f64": {Min: 2, Max: 1}}}, []string{`"f64"`}},
		{"nulls range", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"s": {Nulls: 1.5}}}, []string{`"s"`, "Nulls"}},
		{"nulls not nullable", nonNull, DatagenConfig{Fields: map[string]FieldSpec{"x": {Nulls: 0.1}}}, []string{`"x"`, "nullable"}},
		{"length on int", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"i64": {Length: 3}}}, []string{`"i64"`, "Length"}},
		{"timestamp options", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"ts_ms": {Kind: "sequence"}}}, []string{`"ts_ms"`}},
		{"timestamp nulls", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"d": {Nulls: 0.5}}}, []string{`"d"`, "event time"}},
		{"bool sequence", allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"b": {Kind: "sequence"}}}, []string{`"b"`}},
		{"negative rate", allTypesSchema, DatagenConfig{RowsPerSecond: -1}, []string{"RowsPerSecond"}},
	}
	for _, c := range cases {
		_, err := NewDatagen(c.schema, c.cfg)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if rberr.KindOf(err) != rberr.Plan {
			t.Errorf("%s: error kind %v, want plan", c.name, rberr.KindOf(err))
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %s", c.name, err, w)
			}
		}
	}
	// The default kind spelled out is fine on event-time columns.
	newDatagen(t, allTypesSchema, DatagenConfig{Fields: map[string]FieldSpec{"ts_us": {Kind: "random"}, "d": {}}})
	g := newDatagen(t, allTypesSchema, DatagenConfig{})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if _, err := g.Rows(mem, 10, 9); rberr.KindOf(err) != rberr.InvalidArgument {
		t.Errorf("Rows(10, 9): err %v, want an invalid argument error", err)
	}
	rec := rows(t, g, mem, 7, 7)
	if rec.NumRows() != 0 {
		t.Errorf("empty range gave %d rows", rec.NumRows())
	}
	rec.Release()
}

func BenchmarkDatagen(b *testing.B) {
	const n = 100_000
	g := newDatagen(b, allTypesSchema, DatagenConfig{Seed: 1})
	mem := memory.NewGoAllocator()
	start := int64(0)
	for b.Loop() {
		rec, err := g.Rows(mem, start, start+n)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
		start += n
	}
	b.ReportMetric(float64(start)/b.Elapsed().Seconds(), "rows/s")
}
