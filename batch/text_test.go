package batch

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

func writeFile(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readText reads file i of d from row skip in batches of batch rows and returns the rows
// as printed values (one string per row) and the row count the reader ended at.
func readText(t testing.TB, d *TextDataset, i int, batch int, skip int64) ([]string, int64, error) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	proj := make([]int, d.Schema.NumFields())
	for j := range proj {
		proj[j] = j
	}
	r, err := d.OpenFile(i, proj, mem, batch, skip)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	var rows []string
	for {
		rec, err := r.Next(context.Background())
		if err == io.EOF {
			return rows, r.Row(), nil
		}
		if err != nil {
			return rows, r.Row(), err
		}
		for c, col := range rec.Columns() {
			if v, ok := col.(interface{ ValidateFull() error }); ok {
				if err := v.ValidateFull(); err != nil {
					t.Fatalf("column %d: %v", c, err)
				}
			}
		}
		for k := range int(rec.NumRows()) {
			var cells []string
			for c := range int(rec.NumCols()) {
				col := rec.Column(c)
				if col.IsNull(k) {
					cells = append(cells, "null")
				} else {
					cells = append(cells, col.ValueStr(k))
				}
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
		rec.Release()
	}
}

func TestCSVInferAndRead(t *testing.T) {
	dir := t.TempDir()
	// BOM, CRLF, quoting (separator, quote, line break inside), empty fields, NA as null.
	p := writeFile(t, dir, "a.csv", "\xEF\xBB\xBFid,price,name,ok,day,ts\r\n"+
		"1,2.5,\"a,b\",true,2024-01-02,2024-01-02 03:04:05.5\r\n"+
		"2,,\"say \"\"hi\"\"\",FALSE,,2024-01-02T00:00:00\r\n"+
		"3,NA,\"two\nlines\",,2024-02-29,\r\n")
	d, err := OpenText([]string{p}, TextOptions{Format: CSV, HasHeader: true, NullValues: []string{"NA"}})
	if err != nil {
		t.Fatal(err)
	}
	want := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
	if !d.Schema.Equal(want) {
		t.Fatalf("schema\n%s\nwant\n%s", d.Schema, want)
	}
	rows, n, err := readText(t, d, 0, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []string{
		"1|2.5|a,b|true|2024-01-02|2024-01-02T03:04:05.5",
		`2|null|say "hi"|false|null|2024-01-02T00:00:00`,
		"3|null|two\nlines|null|2024-02-29|null",
	}
	if fmt.Sprint(rows) != fmt.Sprint(wantRows) || n != 3 {
		t.Fatalf("rows %q (%d)\nwant %q", rows, n, wantRows)
	}
}

// Reading from the position after each row gives exactly the rest, in CSV and NDJSON,
// with and without a header, across batch boundaries.
func TestTextReadFromEveryPosition(t *testing.T) {
	dir := t.TempDir()
	var csvBody, jsonBody strings.Builder
	csvBody.WriteString("k,v\n")
	for i := range 23 {
		fmt.Fprintf(&csvBody, "%d,\"v%d\"\n", i, i)
		fmt.Fprintf(&jsonBody, "{\"k\": %d, \"v\": \"v%d\"}\n", i, i)
		if i%5 == 0 {
			jsonBody.WriteString("\n") // blank lines do not count as rows
		}
	}
	for _, c := range []struct {
		name string
		opts TextOptions
		body string
	}{
		{"a.csv", TextOptions{Format: CSV, HasHeader: true}, csvBody.String()},
		{"b.csv", TextOptions{Format: CSV}, strings.SplitN(csvBody.String(), "\n", 2)[1]},
		{"c.ndjson", TextOptions{Format: NDJSON}, jsonBody.String()},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := OpenText([]string{writeFile(t, dir, c.name, c.body)}, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			all, n, err := readText(t, d, 0, 4, 0)
			if err != nil || n != 23 || len(all) != 23 {
				t.Fatalf("read %d rows (%d), err %v", len(all), n, err)
			}
			for skip := int64(0); skip <= 23; skip++ {
				rest, end, err := readText(t, d, 0, 4, skip)
				if err != nil || end != 23 || fmt.Sprint(rest) != fmt.Sprint(all[skip:]) {
					t.Fatalf("from row %d: %q (end %d, err %v), want %q", skip, rest, end, err, all[skip:])
				}
			}
		})
	}
}

// A malformed line is a Data error naming the file, the line and the column.
func TestTextErrorsNameFileLineColumn(t *testing.T) {
	dir := t.TempDir()
	i64 := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
	}, nil)
	for _, c := range []struct {
		name, body string
		opts       TextOptions
		kind       rberr.Kind
		want       string
	}{
		{"bad.csv", "a,b\n1,2\n3,x\n", TextOptions{Format: CSV, HasHeader: true, Schema: i64}, rberr.Data,
			`line 3, character 3: column "b": "x" is not a int64`},
		{"null.csv", "a,b\n1,2\n3,\n", TextOptions{Format: CSV, HasHeader: true, Schema: i64}, rberr.Data,
			`line 3, character 3: column "b": null, but the column is not nullable`},
		{"width.csv", "a,b\n1,2\n3\n", TextOptions{Format: CSV, HasHeader: true}, rberr.Data,
			`line 3: 1 fields where the header has 2`},
		{"quote.csv", "a,b\n1,\"2\n", TextOptions{Format: CSV, HasHeader: true, Schema: i64}, rberr.Data,
			`line 2, character 6: malformed CSV: extraneous or missing " in quoted-field`},
		{"bare.csv", "a,b\n1,x\"y\n", TextOptions{Format: CSV, HasHeader: true}, rberr.Data,
			`line 2, character 4: malformed CSV: bare " in non-quoted-field`},
		{"missing.csv", "a,c\n1,2\n", TextOptions{Format: CSV, HasHeader: true, Schema: i64}, rberr.Schema,
			`has no column "b" (its header: a, c)`},
		{"bad.ndjson", "{\"a\": 1, \"b\": 2}\n\n{\"a\": 1, \"b\": \"x\"}\n", TextOptions{Format: NDJSON, Schema: i64}, rberr.Data,
			`line 3: field "b": expected int64, got JSON string "x"`},
		{"broken.ndjson", "{\"a\": 1, \"b\": 2}\n{\"a\": 1,\n", TextOptions{Format: NDJSON, Schema: i64}, rberr.Data,
			`line 2: not valid JSON`},
		{"notobj.ndjson", "{\"a\": 1}\n[1]\n", TextOptions{Format: NDJSON}, rberr.Data,
			`line 2: the value is a JSON array, not an object`},
		{"mixed.ndjson", "{\"a\": 1}\n{\"a\": \"x\"}\n", TextOptions{Format: NDJSON}, rberr.Schema,
			`line 2): field "a" is a JSON number in one record and a JSON string in another; pass schema=`},
		{"empty.csv", "", TextOptions{Format: CSV, HasHeader: true}, rberr.Schema, `every file is empty`},
		{"empty.ndjson", "\n\n", TextOptions{Format: NDJSON}, rberr.Schema, `hold no JSON object`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, c.name, c.body)
			d, err := OpenText([]string{p}, c.opts)
			if err == nil {
				_, _, err = readText(t, d, 0, 1, 0)
			}
			if err == nil || rberr.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("got %v (%v), want a %v error naming %q and containing %q", err, rberr.KindOf(err), c.kind, p, c.want)
			}
		})
	}
}

// Files with a header are matched by name: columns in another order, extra columns and
// empty files (no header at all) read as one table; gzipped files too.
func TestCSVFilesMatchedByName(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.csv", "x,y\n1,a\n")
	b := writeFile(t, dir, "b.csv", "extra,y,x\nq,b,2\n")
	c := writeFile(t, dir, "c.csv", "")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte("y,x\nc,3\n"))
	_ = zw.Close()
	dz := writeFile(t, dir, "d.csv.gz", z.String())
	files, err := ResolveFiles([]string{dir}, CSVFiles)
	if err != nil || len(files) != 4 {
		t.Fatalf("resolved %v, %v", files, err)
	}
	d, err := OpenText([]string{a, b, c, dz}, TextOptions{Format: CSV, HasHeader: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range d.Files {
		rows, _, err := readText(t, d, i, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
	}
	if fmt.Sprint(got) != "[1|a 2|b 3|c]" {
		t.Fatalf("got %q", got)
	}
}

// The writer's files read back to the same values, rolled by rows, with a header each.
func TestTextWriterRoundTrip(t *testing.T) {
	for _, format := range []TextFormat{CSV, NDJSON} {
		t.Run(string(format), func(t *testing.T) {
			dir := t.TempDir()
			schema := arrow.NewSchema([]arrow.Field{
				{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
				{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
				{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
			}, nil)
			b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			defer b.Release()
			for i := range 5 {
				b.Field(0).(*array.Int64Builder).Append(int64(i))
				b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("a,\"%d\"\n", i))
				b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_123 + int64(i)))
			}
			b.Field(0).AppendNull()
			b.Field(1).AppendNull()
			b.Field(2).AppendNull()
			rec := b.NewRecordBatch()
			defer rec.Release()
			w, err := NewRollingTextWriter(dir, "part", schema, RollingPolicy{MaxRowsPerFile: 4}, TextWriteOptions{Format: format, Header: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			files, rows, err := w.Commit()
			if err != nil || rows != 6 || len(files) != 2 {
				t.Fatalf("files %v rows %d err %v", files, rows, err)
			}
			d, err := OpenText(files, TextOptions{Format: format, HasHeader: true, Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := range files {
				r, _, err := readText(t, d, i, 100, 0)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r...)
			}
			var want []string
			for i := range int(rec.NumRows()) {
				var cells []string
				for c := range 3 {
					if rec.Column(c).IsNull(i) {
						cells = append(cells, "null")
					} else {
						cells = append(cells, rec.Column(c).ValueStr(i))
					}
				}
				want = append(want, strings.Join(cells, "|"))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("read back %q\nwant %q", got, want)
			}
		})
	}
}
