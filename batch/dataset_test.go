package batch

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqacompress "github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// statsOf computes the expected statistics of rows [from, to) of a column.
func statsOf(a arrow.Array, from, to int) ColumnStats {
	var cs ColumnStats
	cs.HasNulls = true
	var lo, hi any
	less := func(x, y any) bool {
		switch x := x.(type) {
		case int64:
			return x < y.(int64)
		case float64:
			return x < y.(float64)
		case string:
			return x < y.(string)
		case bool:
			return !x && y.(bool)
		}
		panic("unreachable")
	}
	for i := from; i < to; i++ {
		if a.IsNull(i) {
			cs.NullCount++
			continue
		}
		var v any
		switch a := a.(type) {
		case *array.Boolean:
			v = a.Value(i)
		case *array.Int8:
			v = int64(a.Value(i))
		case *array.Int16:
			v = int64(a.Value(i))
		case *array.Int32:
			v = int64(a.Value(i))
		case *array.Int64:
			v = a.Value(i)
		case *array.Uint8:
			v = int64(a.Value(i))
		case *array.Uint16:
			v = int64(a.Value(i))
		case *array.Uint32:
			v = int64(a.Value(i))
		case *array.Uint64:
			if a.Value(i) > math.MaxInt64 {
				return ColumnStats{HasNulls: true, NullCount: -1} // bounds not representable
			}
			v = int64(a.Value(i))
		case *array.Float32:
			v = float64(a.Value(i))
		case *array.Float64:
			v = a.Value(i)
		case *array.Date32:
			v = int64(a.Value(i))
		case *array.Timestamp:
			v = int64(a.Value(i))
		case *array.String:
			v = a.Value(i)
		case *array.Binary:
			v = string(a.Value(i))
		}
		if lo == nil || less(v, lo) {
			lo = v
		}
		if hi == nil || less(hi, v) {
			hi = v
		}
	}
	if lo != nil {
		cs.Valid, cs.Min, cs.Max = true, lo, hi
	}
	return cs
}

func TestOpenParquetSplitsAndStats(t *testing.T) {
	schema := allTypesSchema()
	rec := randomRecord(schema, 3500, 11)
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "stats.parquet")
	writeOracle(t, path, oracleOpts{dict: true, rowGroup: 1000, codec: pqacompress.Codecs.Snappy}, rec)

	d, err := OpenParquet([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 1 || d.Files[0] != path {
		t.Fatalf("files: %v", d.Files)
	}
	if len(d.Splits) != 4 {
		t.Fatalf("got %d splits, want 4", len(d.Splits))
	}
	from := 0
	for i, s := range d.Splits {
		wantRows := int64(min(1000, 3500-from))
		if s.File != path || s.FileIndex != 0 || s.RowGroup != i || s.NumRows != wantRows {
			t.Fatalf("split %d: %+v", i, s)
		}
		if len(s.Stats) != len(schema.Fields()) {
			t.Fatalf("split %d has %d stats", i, len(s.Stats))
		}
		for c, f := range schema.Fields() {
			got, want := s.Stats[c], statsOf(rec.Column(c), from, from+int(wantRows))
			if want.NullCount < 0 { // uint64 bounds above MaxInt64
				if got.Valid {
					t.Fatalf("split %d column %q: stats %+v should not be valid", i, f.Name, got)
				}
				continue
			}
			if f.Name == "f32" || f.Name == "f64" {
				// Writers may widen float bounds; check they bound the data.
				if !got.Valid || got.Min.(float64) > want.Min.(float64) || got.Max.(float64) < want.Max.(float64) ||
					got.NullCount != want.NullCount {
					t.Fatalf("split %d column %q: got %+v, want bounds of %+v", i, f.Name, got, want)
				}
				continue
			}
			if got != want {
				t.Fatalf("split %d column %q: got %+v, want %+v", i, f.Name, got, want)
			}
		}
		from += int(wantRows)
	}
}

func writeInts(t *testing.T, path string, fields []arrow.Field, cols ...[]int64) {
	t.Helper()
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	for i, c := range cols {
		switch fb := b.Field(i).(type) {
		case *array.Int64Builder:
			fb.AppendValues(c, nil)
		case *array.Float64Builder:
			for _, v := range c {
				fb.Append(float64(v))
			}
		case *array.StringBuilder:
			for _, v := range c {
				fb.Append(fmt.Sprint(v))
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	writeOracle(t, path, oracleOpts{codec: pqacompress.Codecs.Snappy}, rec)
}

func TestOpenParquetMapsColumnsByName(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	x := arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64}
	y := arrow.Field{Name: "y", Type: arrow.BinaryTypes.String}
	writeInts(t, a, []arrow.Field{x, y}, []int64{1, 2}, []int64{10, 20})
	yn := y
	yn.Nullable = true
	writeInts(t, b, []arrow.Field{yn, x}, []int64{30}, []int64{3})

	d, err := OpenParquet([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := arrow.NewSchema([]arrow.Field{x, yn}, nil) // nullable: optional in b
	if !d.Schema.Equal(want) {
		t.Fatalf("schema %s, want %s", d.Schema, want)
	}
	mem := checkedMem(t)
	recs := readAll(t, d, []int{1, 0}, mem, 0)
	defer releaseAll(recs)
	var got []string
	for _, r := range recs {
		for i := range int(r.NumRows()) {
			got = append(got, fmt.Sprintf("%s/%d", r.Column(0).(*array.String).Value(i), r.Column(1).(*array.Int64).Value(i)))
		}
	}
	if fmt.Sprint(got) != "[10/1 20/2 30/3]" {
		t.Fatalf("got %v", got)
	}
}

func TestOpenParquetSchemaErrors(t *testing.T) {
	dir := t.TempDir()
	x := arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64}
	amount := arrow.Field{Name: "amount", Type: arrow.PrimitiveTypes.Float64}
	amountInt := arrow.Field{Name: "amount", Type: arrow.PrimitiveTypes.Int64}
	z := arrow.Field{Name: "z", Type: arrow.PrimitiveTypes.Int64}

	a := filepath.Join(dir, "a.parquet")
	writeInts(t, a, []arrow.Field{x, amount}, []int64{1}, []int64{2})
	typ := filepath.Join(dir, "type.parquet")
	writeInts(t, typ, []arrow.Field{x, amountInt}, []int64{1}, []int64{2})
	missing := filepath.Join(dir, "missing.parquet")
	writeInts(t, missing, []arrow.Field{x}, []int64{1})
	extra := filepath.Join(dir, "extra.parquet")
	writeInts(t, extra, []arrow.Field{x, amount, z}, []int64{1}, []int64{2}, []int64{3})
	renamed := filepath.Join(dir, "renamed.parquet")
	writeInts(t, renamed, []arrow.Field{x, z}, []int64{1}, []int64{2})

	_, err := OpenParquet([]string{a, typ})
	wantKind(t, err, rberr.Schema, fmt.Sprintf("%q", a), fmt.Sprintf("%q", typ), `column "amount"`, "int64", "float64")
	// A missing column is an error once it is read: a scan of the others reads the files.
	d, err := OpenParquet([]string{a, missing})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckColumns([]int{0}); err != nil {
		t.Fatalf("reading x only: %v", err)
	}
	wantKind(t, d.CheckColumns([]int{0, 1}), rberr.Schema, fmt.Sprintf("%q", a), fmt.Sprintf("%q", missing), `column "amount"`)
	_, err = OpenParquet([]string{a, extra})
	wantKind(t, err, rberr.Schema, fmt.Sprintf("%q", a), fmt.Sprintf("%q", extra), `column "z"`)
	_, err = OpenParquet([]string{a, renamed})
	wantKind(t, err, rberr.Schema, fmt.Sprintf("%q", renamed))
}

func TestOpenParquetEmptyAndMissingFiles(t *testing.T) {
	dir := t.TempDir()
	x := arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64}
	empty := filepath.Join(dir, "empty.parquet")
	writeInts(t, empty, []arrow.Field{x}, []int64{})
	full := filepath.Join(dir, "full.parquet")
	writeInts(t, full, []arrow.Field{x}, []int64{7, 8})

	d, err := OpenParquet([]string{empty, full})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Splits) != 1 || d.Splits[0].FileIndex != 1 || d.Splits[0].NumRows != 2 {
		t.Fatalf("splits: %+v", d.Splits)
	}
	if !d.Schema.Equal(arrow.NewSchema([]arrow.Field{x}, nil)) {
		t.Fatalf("schema %s", d.Schema)
	}

	nope := filepath.Join(dir, "nope.parquet")
	_, err = OpenParquet([]string{full, nope})
	wantKind(t, err, rberr.NotFound, fmt.Sprintf("%q", nope))
	_, err = OpenParquet(nil)
	wantKind(t, err, rberr.NotFound)
}
