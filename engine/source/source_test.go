package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqa "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/internal/gen"
)

var xSchema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

// seqBatch holds the values from, from+1, ..., from+n-1.
func seqBatch(from, n int64) arrow.RecordBatch {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := int64(0); i < n; i++ {
		b.Append(from + i)
	}
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(xSchema, []arrow.Array{a}, n)
}

// step is one batch of a read: its values and the position after it.
type step struct {
	vals  []int64
	chunk int64
	after Position
}

// readAll reads a source as one subtask from a position, directly through its
// enumerator and split readers.
func readAll(t *testing.T, src Source, from Position) []step {
	t.Helper()
	rc := &ReadCtx{Ctx: context.Background(), Stopped: make(chan struct{}), Mem: memory.DefaultAllocator}
	e := src.Splits(0, 1, from)
	defer e.Close()
	var steps []step
	for {
		sp, ok, err := e.Next(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return steps
		}
		r, err := src.Open(rc, sp)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, chunk, err := r.Next(rc)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			steps = append(steps, step{vals: append([]int64(nil), rec.Column(0).(*array.Int64).Int64Values()...), chunk: chunk, after: r.Position()})
			rec.Release()
		}
		r.Close()
	}
}

func rowsOf(steps []step) []int64 {
	out := []int64{}
	for _, s := range steps {
		out = append(out, s.vals...)
	}
	return out
}

// checkResume reads the source in full, then again from the position after each batch
// of the full read (the middle one among them): each resumed read must give exactly the
// rows of the full read after that position.
func checkResume(t *testing.T, mk func() Source) {
	t.Helper()
	full := readAll(t, mk(), Position{})
	if len(full) < 3 {
		t.Fatalf("the full read has %d batches; the test needs more", len(full))
	}
	for k := range full {
		want := rowsOf(full[k+1:])
		got := rowsOf(readAll(t, mk(), full[k].after))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("resumed at %+v (after batch %d of %d): got %d rows %v..., want %d rows", full[k].after, k, len(full), len(got), head(got), len(want))
		}
	}
	// Chunks increase along each split, so a resumed read keeps the sequence order.
	for k := 1; k < len(full); k++ {
		if full[k].after.Split == full[k-1].after.Split && full[k].chunk <= full[k-1].chunk {
			t.Fatalf("chunks do not increase within split %d: %d then %d", full[k].after.Split, full[k-1].chunk, full[k].chunk)
		}
	}
}

func head(v []int64) []int64 { return v[:min(5, len(v))] }

func writeParquet(t *testing.T, path string, rowGroup int64, recs ...arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(xSchema, f, pqa.NewWriterProperties(pqa.WithMaxRowGroupLength(rowGroup), pqa.WithStats(true)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A Parquet source resumed at a (file, row group, row) position reads exactly the rows
// after it: the rest of that row group, then the later row groups and files.
func TestParquetReadsFromAPosition(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	writeParquet(t, a, 1000, seqBatch(0, 2500))   // row groups of 1000, 1000, 500
	writeParquet(t, b, 1000, seqBatch(5000, 700)) // one row group
	ds, err := batch.OpenParquet([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Splits) != 4 {
		t.Fatalf("%d splits, want 4", len(ds.Splits))
	}
	checkResume(t, func() Source { return &ParquetSource{Ds: ds, BatchSize: 300} })
	// The middle of a row group: file a, row group 1, row 600.
	got := rowsOf(readAll(t, &ParquetSource{Ds: ds, BatchSize: 300}, Position{Split: 1, Row: 600}))
	var want []int64
	for v := int64(1600); v < 2500; v++ {
		want = append(want, v)
	}
	for v := int64(5000); v < 5700; v++ {
		want = append(want, v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("from row 600 of row group 1: got %d rows %v..., want %d from 1600", len(got), head(got), len(want))
	}
}

// A generator resumed at an event index generates exactly the events from it on, also
// from inside a block.
func TestGeneratorReadsFromAPosition(t *testing.T) {
	g, err := gen.NewDatagen(xSchema, gen.DatagenConfig{Seed: 7, Fields: map[string]gen.FieldSpec{"x": {Kind: "random", Min: 0, Max: 1e9}}})
	if err != nil {
		t.Fatal(err)
	}
	mk := func() Source { return &GenSource{Gen: g, Count: 1000, Block: 128} }
	checkResume(t, mk)
	// Oracle: the generator's rows by index.
	all, err := g.Rows(memory.DefaultAllocator, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Release()
	want := all.Column(0).(*array.Int64).Int64Values()[434:]
	got := rowsOf(readAll(t, mk(), Position{Split: 3, Row: 434}))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("from event 434: got %d rows, want %d", len(got), len(want))
	}
}

// tableReader is an in-memory table's stream: chunks of the given sizes, numbered on.
func tableReader(t *testing.T, sizes ...int64) array.RecordReader {
	var recs []arrow.RecordBatch
	from := int64(0)
	for _, n := range sizes {
		recs = append(recs, seqBatch(from, n))
		from += n
	}
	r, err := array.NewRecordReader(xSchema, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		rec.Release()
	}
	return r
}

// An in-memory table resumed at a (slice, chunk, row) position reads exactly the rows
// after it.
func TestArrowTableReadsFromAPosition(t *testing.T) {
	sizes := []int64{250, 0, 700, 100, 301}
	mk := func() Source { return &ArrowSource{Reader: tableReader(t, sizes...), BatchSize: 300, Table: true} }
	checkResume(t, mk)
	// The middle of chunk 2 (rows 250..949): row 400 of it is value 650.
	got := rowsOf(readAll(t, mk(), Position{Split: 4, Chunk: 2, Row: 400}))
	var want []int64
	for v := int64(650); v < 1351; v++ {
		want = append(want, v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("from row 400 of chunk 2: got %d rows %v..., want %d from 650", len(got), head(got), len(want))
	}
	if !mk().Replayable() {
		t.Fatal("an in-memory table must be replayable")
	}
	if (&ArrowSource{Reader: tableReader(t, 1), BatchSize: 1}).Replayable() {
		t.Fatal("a live stream must not say it is replayable")
	}
}

// Positions round-trip through their checkpoint bytes, with and without their lane's
// event time (version 2 and version 1); a cut or extended encoding is an error, never a
// wrong position.
func TestPositionBytes(t *testing.T) {
	for _, p := range []Position{{}, {Split: 3, Row: 434}, {Split: 1 << 40, Chunk: 7, Row: 1<<62 + 5},
		{Split: 1, Row: 7, EventMax: -5_000_000, HasEventMax: true}, {Split: 4, HasEventMax: true}} {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q Position
		if err := q.UnmarshalBinary(b); err != nil || q != p {
			t.Fatalf("%+v came back as %+v (%v)", p, q, err)
		}
		for cut := 0; cut < len(b); cut++ {
			if err := q.UnmarshalBinary(b[:cut]); err == nil {
				t.Fatalf("%+v cut to %d bytes decoded as %+v", p, cut, q)
			}
		}
		if err := q.UnmarshalBinary(append(b, 0)); err == nil {
			t.Fatalf("%+v with a byte more decoded", p)
		}
	}
}

func TestTextReadsFromAPosition(t *testing.T) {
	dir := t.TempDir()
	var files []string
	x := 0
	for f, rows := range []int{7, 0, 12, 5} {
		csv := "x\n"
		ndjson := ""
		for range rows {
			csv += fmt.Sprintf("%d\n", x)
			ndjson += fmt.Sprintf("{\"x\": %d}\n", x)
			x++
		}
		for _, c := range []struct{ ext, body string }{{"csv", csv}, {"ndjson", ndjson}} {
			p := filepath.Join(dir, fmt.Sprintf("f%d.%s", f, c.ext))
			if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.ext == "csv" {
				files = append(files, p)
			}
		}
	}
	for _, format := range []batch.TextFormat{batch.CSV, batch.NDJSON} {
		t.Run(string(format), func(t *testing.T) {
			paths := files
			if format == batch.NDJSON {
				paths = nil
				for _, p := range files {
					paths = append(paths, p[:len(p)-len("csv")]+"ndjson")
				}
			}
			ds, err := batch.OpenText(paths, batch.TextOptions{Format: format, HasHeader: true, Schema: xSchema})
			if err != nil {
				t.Fatal(err)
			}
			checkResume(t, func() Source { return &TextSource{Ds: ds, Projection: []int{0}, BatchSize: 3} })
			all := rowsOf(readAll(t, &TextSource{Ds: ds, Projection: []int{0}, BatchSize: 3}, Position{}))
			if len(all) != x || all[0] != 0 || all[x-1] != int64(x-1) {
				t.Fatalf("read %v", all)
			}
		})
	}
}
