package batch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// writeBatches writes rec through w in slices of step rows.
func writeBatches(t *testing.T, w *FileWriter, rec arrow.RecordBatch, step int64) {
	t.Helper()
	for at := int64(0); at < rec.NumRows(); at += step {
		part := rec.NewSlice(at, min(at+step, rec.NumRows()))
		err := w.Write(part)
		part.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// readWithPqarrow reads a file with arrow-go's reader, independent of ours.
func readWithPqarrow(t *testing.T, path string) arrow.Table {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestParquetWriterRoundTrip(t *testing.T) {
	const rows = 7000
	schema := allTypesSchema()
	want := lowCardinalityStrings(randomRecord(schema, rows, 21), "s", 22)
	defer want.Release()

	dir := filepath.Join(t.TempDir(), "out", "nested")
	w, err := NewParquetWriter(dir, "part", schema, memory.NewGoAllocator(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w.rowGroupRows = 2000
	writeBatches(t, w, want, 999)

	// Nothing is visible before Commit.
	if names := listDir(t, dir); len(names) != 1 || !strings.HasPrefix(names[0], ".") || !strings.HasSuffix(names[0], ".inprogress") {
		t.Fatalf("before commit the directory holds %q", names)
	}
	_, err = ResolvePaths([]string{dir})
	wantKind(t, err, rberr.NotFound)

	files, n, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(dir, "part-00000.parquet")
	if n != rows || !slices.Equal(files, []string{final}) {
		t.Fatalf("commit: %q, %d rows", files, n)
	}
	if names := listDir(t, dir); !slices.Equal(names, []string{"part-00000.parquet"}) {
		t.Fatalf("after commit the directory holds %q", names)
	}

	d, err := OpenParquet(files)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Schema.Equal(schema) {
		t.Fatalf("schema:\n got %s\nwant %s", d.Schema, schema)
	}
	if len(d.Splits) != 4 {
		t.Fatalf("got %d row groups, want 4", len(d.Splits))
	}
	mem := checkedMem(t)
	got := readAll(t, d, nil, mem, 1500)
	checkRecords(t, got, want, nil, 1500)
	releaseAll(got)

	// The independent reader agrees.
	tbl := readWithPqarrow(t, final)
	defer tbl.Release()
	if tbl.NumCols() != int64(len(schema.Fields())) {
		t.Fatalf("pqarrow schema %s", tbl.Schema())
	}
	for c := range int(tbl.NumCols()) {
		col, err := array.Concatenate(tbl.Column(c).Data().Chunks(), memory.NewGoAllocator())
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(col, want.Column(c)) {
			t.Fatalf("pqarrow reads column %q differently:\n got %s\nwant %s", want.ColumnName(c), clip(col), clip(want.Column(c)))
		}
		col.Release()
	}
}

func TestParquetWriterRollsFiles(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	want := randomRecord(schema, 10000, 23)
	defer want.Release()
	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "chunk", schema, nil, 2500)
	if err != nil {
		t.Fatal(err)
	}
	w.rowGroupRows = 1000
	writeBatches(t, w, want, 999)
	files, n, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if n != 10000 || len(files) != 4 || filepath.Base(files[3]) != "chunk-00003.parquet" {
		t.Fatalf("commit: %q, %d rows", files, n)
	}
	resolved, err := ResolvePaths([]string{dir})
	if err != nil || !slices.Equal(resolved, files) {
		t.Fatalf("resolved %q (%v), want %q", resolved, err, files)
	}
	d, err := OpenParquet(resolved)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Splits) != 12 { // 4 files of 1000 + 1000 + 500 rows
		t.Fatalf("got %d splits, want 12", len(d.Splits))
	}
	mem := checkedMem(t)
	got := readAll(t, d, nil, mem, 0)
	defer releaseAll(got)
	checkRecords(t, got, want, nil, 0)

	// Once committed the writer is closed; Abort leaves the files alone.
	wantKind(t, w.Write(want), rberr.InvalidArgument)
	if err := w.Abort(); err != nil || len(listDir(t, dir)) != 4 {
		t.Fatalf("abort after commit: %v, %q", err, listDir(t, dir))
	}
}

func TestParquetWriterAbort(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := randomRecord(schema, 5000, 24)
	defer rec.Release()
	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "part", schema, nil, 2000)
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, w, rec, 700)
	if len(listDir(t, dir)) != 3 {
		t.Fatalf("directory holds %q", listDir(t, dir))
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Fatalf("after abort the directory holds %q", names)
	}
	if _, _, err := w.Commit(); rberr.KindOf(err) != rberr.InvalidArgument {
		t.Fatalf("commit after abort: %v", err)
	}
}

func TestParquetWriterEmptyCommitKeepsSchema(t *testing.T) {
	schema := allTypesSchema()
	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "part", schema, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	files, n, err := w.Commit()
	if err != nil || n != 0 || len(files) != 1 {
		t.Fatalf("commit: %q, %d, %v", files, n, err)
	}
	d, err := OpenParquet(files)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Schema.Equal(schema) || len(d.Splits) != 0 {
		t.Fatalf("schema %s, %d splits", d.Schema, len(d.Splits))
	}
}

func TestParquetWriterConvertsTypes(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "America/New_York"}, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "lb", Type: arrow.BinaryTypes.LargeBinary},
	}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1700000000, 0, -5}, []bool{true, false, true})
	b.Field(1).(*array.LargeStringBuilder).AppendValues([]string{"a", "", "ccc"}, []bool{true, true, false})
	b.Field(2).(*array.BinaryBuilder).AppendValues([][]byte{{1}, {}, {2, 3}}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "p", schema, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	files, _, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenParquet(files)
	if err != nil {
		t.Fatal(err)
	}
	// The ARROW:schema metadata restores the time zone, the seconds unit and
	// the large types.
	if !d.Schema.Equal(schema) {
		t.Fatalf("schema %s", d.Schema)
	}
	mem := checkedMem(t)
	got := readAll(t, d, nil, mem, 0)
	defer releaseAll(got)
	if s := fmt.Sprint(got[0].Column(0), " ", got[0].Column(1), " ", got[0].Column(2)); s != `[1700000000 (null) -5] ["a" "" (null)] ["\x01" "" "\x02\x03"]` {
		t.Fatalf("got %s", s)
	}
	if st := d.Splits[0].Stats[0]; !st.Valid || st.Min != int64(-5) || st.Max != int64(1700000000) || st.NullCount != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestParquetWriterErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := NewParquetWriter(dir, "p", arrow.NewSchema([]arrow.Field{
		{Name: "tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)},
	}, nil), nil, 0)
	wantKind(t, err, rberr.Type, `"tags"`)

	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	w, err := NewParquetWriter(dir, "p", schema, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	other := randomRecord(arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}}, nil), 3, 1)
	defer other.Release()
	wantKind(t, w.Write(other), rberr.Schema, `"x"`)
	withNulls := randomRecord(arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil), 50, 1)
	defer withNulls.Release()
	wantKind(t, w.Write(withNulls), rberr.Schema, "not nullable")

	blocker := filepath.Join(dir, "file")
	touch(t, blocker)
	_, err = NewParquetWriter(filepath.Join(blocker, "sub"), "p", schema, nil, 0)
	wantKind(t, err, rberr.IO)
}

func TestParquetWriterHighCardinalityStrings(t *testing.T) {
	// Enough distinct strings to outgrow the dictionary limit mid-row-group.
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewStringBuilder(memory.NewGoAllocator())
	for i := range 120000 {
		if i%7 == 0 {
			b.AppendNull()
		} else {
			b.Append(fmt.Sprintf("value-%08d-%s", i, strings.Repeat("x", i%5)))
		}
	}
	col := b.NewArray()
	b.Release()
	want := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
	col.Release()
	defer want.Release()

	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "p", schema, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, w, want, 50000)
	files, _, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	pages, dictPages, _ := chunkLayout(t, files[0], "s")
	if dictPages == 0 || dictPages == pages {
		t.Fatalf("%d of %d pages dictionary-encoded, want a mix", dictPages, pages)
	}
	d, err := OpenParquet(files)
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedMem(t)
	got := readAll(t, d, nil, mem, 10000)
	defer releaseAll(got)
	checkRecords(t, got, want, nil, 10000)
}

// TestParquetWriterReadableByPyarrow checks the files with pyarrow when it is
// installed.
func TestParquetWriterReadableByPyarrow(t *testing.T) {
	if exec.Command("python3", "-c", "import pyarrow.parquet").Run() != nil {
		t.Skip("pyarrow not available")
	}
	schema := allTypesSchema()
	want := randomRecord(schema, 3000, 25)
	defer want.Release()
	dir := t.TempDir()
	w, err := NewParquetWriter(dir, "part", schema, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, w, want, 3000)
	if _, _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, pyarrow.parquet as pq, pyarrow.compute as pc
t = pq.read_table(sys.argv[1])
print(t.num_rows, t.schema.names == [f.name for f in t.schema], pc.sum(t["i16"]).as_py(), t["s"].null_count, str(t.schema.field("ts_ns").type), str(t.schema.field("u32").type))
`
	out, err := exec.Command("python3", "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, out)
	}
	var sum int64
	i16 := want.Column(2).(*array.Int16)
	for i := range i16.Len() {
		if i16.IsValid(i) {
			sum += int64(i16.Value(i))
		}
	}
	wantOut := fmt.Sprintf("3000 True %d %d timestamp[ns, tz=UTC] uint32", sum, want.Column(15).NullN())
	if got := strings.TrimSpace(string(out)); got != wantOut {
		t.Fatalf("pyarrow printed %q, want %q", got, wantOut)
	}
}
