package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqa "github.com/apache/arrow-go/v18/parquet"
	pqacompress "github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ---- shared test helpers ----

// allTypesSchema has one column of every supported type, nullable and not.
func allTypesSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts_ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ts_us", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},    // low cardinality
		{Name: "s_hi", Type: arrow.BinaryTypes.String, Nullable: true}, // high cardinality
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "all_null", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "req_i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "req_s", Type: arrow.BinaryTypes.String},
		{Name: "req_f64", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
}

// randomRecord builds n rows of random data for schema; nullable columns get
// about 20% nulls, columns named "all_null" only nulls.
func randomRecord(schema *arrow.Schema, n int, seed uint64) arrow.RecordBatch {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	for c, f := range schema.Fields() {
		fb := b.Field(c)
		for range n {
			if f.Nullable && (f.Name == "all_null" || rng.IntN(5) == 0) {
				fb.AppendNull()
				continue
			}
			appendRandom(fb, rng)
		}
	}
	return b.NewRecordBatch()
}

func appendRandom(fb array.Builder, rng *rand.Rand) {
	switch fb := fb.(type) {
	case *array.BooleanBuilder:
		fb.Append(rng.IntN(2) == 1)
	case *array.Int8Builder:
		fb.Append(int8(rng.Uint32()))
	case *array.Int16Builder:
		fb.Append(int16(rng.Uint32()))
	case *array.Int32Builder:
		fb.Append(int32(rng.Uint32()))
	case *array.Int64Builder:
		fb.Append(int64(rng.Uint64()))
	case *array.Uint8Builder:
		fb.Append(uint8(rng.Uint32()))
	case *array.Uint16Builder:
		fb.Append(uint16(rng.Uint32()))
	case *array.Uint32Builder:
		fb.Append(rng.Uint32())
	case *array.Uint64Builder:
		fb.Append(rng.Uint64())
	case *array.Float32Builder:
		fb.Append(float32(rng.NormFloat64() * 1e3))
	case *array.Float64Builder:
		fb.Append(rng.NormFloat64() * 1e6)
	case *array.Date32Builder:
		fb.Append(arrow.Date32(rng.IntN(40000) - 10000))
	case *array.TimestampBuilder:
		fb.Append(arrow.Timestamp(rng.Int64N(4e18) - 2e18))
	case *array.StringBuilder:
		if rng.IntN(2) == 0 {
			fb.Append(fmt.Sprintf("v%d", rng.IntN(20)))
		} else {
			fb.Append(fmt.Sprintf("unique-%x-é", rng.Uint64()))
		}
	case *array.BinaryBuilder:
		v := make([]byte, rng.IntN(12))
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		fb.Append(v)
	default:
		panic(fmt.Sprintf("no generator for %T", fb))
	}
}

// lowCardinality rewrites the column named name to hold few distinct values.
func lowCardinalityStrings(rec arrow.RecordBatch, name string, seed uint64) arrow.RecordBatch {
	rng := rand.New(rand.NewPCG(seed, 9))
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		cols[i] = rec.Column(i)
		if rec.ColumnName(i) == name {
			sb := array.NewStringBuilder(memory.NewGoAllocator())
			for j := range int(rec.NumRows()) {
				if cols[i].IsNull(j) {
					sb.AppendNull()
				} else {
					sb.Append(fmt.Sprintf("city-%d", rng.IntN(12)))
				}
			}
			arr := sb.NewArray()
			defer arr.Release()
			cols[i] = arr
		}
	}
	return array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
}

type oracleOpts struct {
	dict      bool
	pageV2    bool
	pageSize  int64 // 0: writer default
	batch     int64 // rows per write batch (a page is cut at most once per batch)
	rowGroup  int64
	dictLimit int64
	codec     pqacompress.Compression
	int96     bool
	store     bool // store the Arrow schema (ARROW:schema)
	buffered  bool // write records into the same row group (up to rowGroup rows)
	// arrowSchema, if set, is stored as the ARROW:schema metadata in place of
	// the records' own schema.
	arrowSchema *arrow.Schema
}

// writeOracle writes recs with arrow-go's pqarrow, the independent writer the
// reader is checked against.
func writeOracle(t testing.TB, path string, o oracleOpts, recs ...arrow.RecordBatch) {
	t.Helper()
	props := []pqa.WriterProperty{
		pqa.WithDictionaryDefault(o.dict),
		pqa.WithCompression(o.codec),
		pqa.WithStats(true),
	}
	if o.pageV2 {
		props = append(props, pqa.WithDataPageVersion(pqa.DataPageV2))
	}
	if o.pageSize > 0 {
		props = append(props, pqa.WithDataPageSize(o.pageSize))
	}
	if o.batch > 0 {
		props = append(props, pqa.WithBatchSize(o.batch))
	}
	if o.rowGroup > 0 {
		props = append(props, pqa.WithMaxRowGroupLength(o.rowGroup))
	}
	if o.dictLimit > 0 {
		props = append(props, pqa.WithDictionaryPageSizeLimit(o.dictLimit))
	}
	var aprops []pqarrow.WriterOption
	if o.int96 {
		aprops = append(aprops, pqarrow.WithDeprecatedInt96Timestamps(true))
	}
	if o.store {
		aprops = append(aprops, pqarrow.WithStoreSchema())
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(recs[0].Schema(), f, pqa.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(aprops...))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		write := w.Write
		if o.buffered {
			write = w.WriteBuffered
		}
		if err := write(r); err != nil {
			t.Fatal(err)
		}
	}
	if o.arrowSchema != nil {
		stored, err := encodeIPCSchema(o.arrowSchema)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AppendKeyValueMetadata(arrowSchemaKey, stored); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every split of d in order.
func readAll(t testing.TB, d *Dataset, cols []int, mem memory.Allocator, batchSize int) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	for _, s := range d.Splits {
		err := d.ReadSplit(context.Background(), s, cols, mem, batchSize, func(r arrow.RecordBatch) error {
			out = append(out, r)
			return nil
		})
		if err != nil {
			t.Fatalf("ReadSplit(%s rg %d): %v", s.File, s.RowGroup, err)
		}
	}
	return out
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// checkRecords asserts that got, concatenated, equals the projection cols of
// want (nil: all columns).
func checkRecords(t testing.TB, got []arrow.RecordBatch, want arrow.RecordBatch, cols []int, batchSize int) {
	t.Helper()
	if cols == nil {
		for i := range want.NumCols() {
			cols = append(cols, int(i))
		}
	}
	off := int64(0)
	for _, r := range got {
		if batchSize > 0 && r.NumRows() > int64(batchSize) {
			t.Fatalf("record of %d rows exceeds batch size %d", r.NumRows(), batchSize)
		}
		if int(r.NumCols()) != len(cols) {
			t.Fatalf("record has %d columns, want %d", r.NumCols(), len(cols))
		}
		for j, c := range cols {
			if r.Schema().Field(j).Name != want.Schema().Field(c).Name {
				t.Fatalf("column %d is %q, want %q", j, r.Schema().Field(j).Name, want.Schema().Field(c).Name)
			}
			exp := array.NewSlice(want.Column(c), off, off+r.NumRows())
			if !array.Equal(r.Column(j), exp) {
				t.Fatalf("column %q rows [%d, %d) differ:\n got %s\nwant %s", want.ColumnName(c), off, off+r.NumRows(),
					clip(r.Column(j)), clip(exp))
			}
			exp.Release()
		}
		off += r.NumRows()
	}
	if off != want.NumRows() {
		t.Fatalf("read %d rows, want %d", off, want.NumRows())
	}
}

func clip(a arrow.Array) string {
	s := fmt.Sprintf("%s %v", a.DataType(), a)
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func wantKind(t *testing.T, err error, kind rberr.Kind, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a %s error", kind)
	}
	if k := rberr.KindOf(err); k != kind {
		t.Fatalf("got a %s error, want %s: %v", k, kind, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
}

// chunkLayout reports, for the column named col of the file, how many data
// pages its chunks hold, how many of them are dictionary-encoded and whether
// they are data pages v2.
func chunkLayout(t *testing.T, path, col string) (pages, dictPages int, v2 bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	leaf, ok := pf.Schema().Lookup(col)
	if !ok {
		t.Fatalf("no column %q", col)
	}
	for i, rg := range pf.RowGroups() {
		// The footer does not record page versions: decode the first data
		// page header.
		md := pf.Metadata().RowGroups[i].Columns[leaf.ColumnIndex].MetaData
		var hdr format.PageHeader
		var proto thrift.CompactProtocol
		sec := io.NewSectionReader(f, md.DataPageOffset, md.TotalCompressedSize)
		if err := thrift.NewDecoder(proto.NewReader(sec)).Decode(&hdr); err != nil {
			t.Fatal(err)
		}
		v2 = v2 || hdr.Type == format.DataPageV2
		pp := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			p, err := pp.ReadPage()
			if err != nil {
				break
			}
			pages++
			if p.Dictionary() != nil {
				dictPages++
			}
			parquet.Release(p)
		}
		pp.Close()
	}
	return pages, dictPages, v2
}

// ---- tests ----

func TestReadSplitMatchesOracle(t *testing.T) {
	const rows = 10000
	schema := allTypesSchema()
	want := lowCardinalityStrings(randomRecord(schema, rows, 1), "s", 2)
	defer want.Release()

	configs := []struct {
		name string
		o    oracleOpts
	}{
		{"plain-v1-one-page", oracleOpts{codec: pqacompress.Codecs.Uncompressed}},
		{"plain-v1-small-pages-snappy", oracleOpts{pageSize: 1024, batch: 100, rowGroup: 3000, codec: pqacompress.Codecs.Snappy}},
		{"dict-v1-small-pages", oracleOpts{dict: true, pageSize: 1024, batch: 100, rowGroup: 3000, codec: pqacompress.Codecs.Snappy}},
		{"dict-v2-small-pages-zstd", oracleOpts{dict: true, pageV2: true, pageSize: 1024, batch: 64, rowGroup: 4096, codec: pqacompress.Codecs.Zstd}},
		{"dict-fallback-to-plain-v2", oracleOpts{dict: true, pageV2: true, pageSize: 2048, batch: 128, dictLimit: 4096, codec: pqacompress.Codecs.Snappy}},
		{"plain-v2", oracleOpts{pageV2: true, codec: pqacompress.Codecs.Gzip}},
	}
	projections := [][]int{nil, {16, 3, 0, 21}, {}}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data.parquet")
			writeOracle(t, path, cfg.o, want)

			pages, dictPages, v2 := chunkLayout(t, path, "s")
			if cfg.o.pageSize > 0 && pages <= 3 {
				t.Fatalf("expected many pages in column s, got %d", pages)
			}
			if (dictPages > 0) != cfg.o.dict || v2 != cfg.o.pageV2 {
				t.Fatalf("file layout: %d dictionary pages, v2=%v; want dictionary=%v v2=%v", dictPages, v2, cfg.o.dict, cfg.o.pageV2)
			}
			if cfg.o.dictLimit > 0 {
				// The dictionary outgrew its limit: the chunk mixes
				// dictionary-encoded and plain pages.
				pages, dictPages, _ := chunkLayout(t, path, "s_hi")
				if dictPages == 0 || dictPages == pages {
					t.Fatalf("s_hi: %d of %d pages dictionary-encoded, want a mix", dictPages, pages)
				}
			}

			d, err := OpenParquet([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Schema.Equal(schema) {
				t.Fatalf("schema:\n got %s\nwant %s", d.Schema, schema)
			}
			for _, batch := range []int{0, 1000, 777} {
				for _, cols := range projections {
					mem := checkedMem(t)
					got := readAll(t, d, cols, mem, batch)
					checkRecords(t, got, want, cols, batch)
					releaseAll(got)
				}
			}
		})
	}
}

func TestReadSplitInt96Timestamps(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true}}, nil)
	want := randomRecord(schema, 5000, 3)
	defer want.Release()
	path := filepath.Join(t.TempDir(), "int96.parquet")
	writeOracle(t, path, oracleOpts{int96: true, codec: pqacompress.Codecs.Snappy, dict: true}, want)

	d, err := OpenParquet([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedMem(t)
	got := readAll(t, d, nil, mem, 1000)
	defer releaseAll(got)
	checkRecords(t, got, want, nil, 1000)
	if d.Splits[0].Stats[0].Valid {
		t.Fatal("INT96 statistics must not be reported")
	}
}

func TestReadSplitConcurrent(t *testing.T) {
	schema := allTypesSchema()
	want := randomRecord(schema, 8000, 4)
	defer want.Release()
	path := filepath.Join(t.TempDir(), "data.parquet")
	writeOracle(t, path, oracleOpts{dict: true, rowGroup: 1000, codec: pqacompress.Codecs.Zstd}, want)
	d, err := OpenParquet([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Splits) != 8 {
		t.Fatalf("got %d splits, want 8", len(d.Splits))
	}
	mem := checkedMem(t)
	results := make([][]arrow.RecordBatch, len(d.Splits))
	var wg sync.WaitGroup
	for i, s := range d.Splits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.ReadSplit(context.Background(), s, nil, mem, 300, func(r arrow.RecordBatch) error {
				results[i] = append(results[i], r)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(results...)
	defer releaseAll(all)
	checkRecords(t, all, want, nil, 300)
}

func TestReadSplitCancelAndEmitError(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := randomRecord(schema, 5000, 5)
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "x.parquet")
	writeOracle(t, path, oracleOpts{codec: pqacompress.Codecs.Snappy}, rec)
	d, err := OpenParquet([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedMem(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = d.ReadSplit(ctx, d.Splits[0], nil, mem, 100, func(r arrow.RecordBatch) error {
		r.Release()
		t.Fatal("emit called after cancellation")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	err = d.ReadSplit(ctx, d.Splits[0], nil, mem, 100, func(r arrow.RecordBatch) error {
		r.Release()
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("got %v after %d batches, want context.Canceled after 1", err, calls)
	}

	boom := errors.New("boom")
	err = d.ReadSplit(context.Background(), d.Splits[0], nil, mem, 100, func(r arrow.RecordBatch) error {
		r.Release()
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the emit error", err)
	}

	wantKind(t, d.ReadSplit(context.Background(), d.Splits[0], []int{3}, mem, 100, nil), rberr.InvalidArgument)
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	schema := allTypesSchema()
	rec := randomRecord(schema, 4000, 6)
	defer rec.Release()
	good := filepath.Join(dir, "good.parquet")
	writeOracle(t, good, oracleOpts{dict: true, rowGroup: 1000, codec: pqacompress.Codecs.Snappy}, rec)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, b := range map[string][]byte{
		"truncated.parquet": data[:len(data)/2],
		"garbage.parquet":   []byte(strings.Repeat("this is not parquet at all ", 100)),
		"empty.parquet":     nil,
		"badfooter.parquet": append(slices.Clone(data[:len(data)-12]), 0xff, 0xff, 0xff, 0x7f, 'P', 'A', 'R', '1'),
		"headonly.parquet":  []byte("PAR1PAR1"),
	} {
		p := write(name, b)
		_, err := OpenParquet([]string{good, p})
		wantKind(t, err, rberr.Data, fmt.Sprintf("%q", p))
	}

	// Damage the pages of one column chunk but keep the footer: the footer
	// opens and reading the split fails naming the file and the column.
	pf, err := parquet.OpenFile(bytesReaderAt(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	md := pf.Metadata().RowGroups[1].Columns[16].MetaData
	start := md.DataPageOffset
	if md.DictionaryPageOffset > 0 {
		start = md.DictionaryPageOffset
	}
	bad := slices.Clone(data)
	for i := start; i < start+md.TotalCompressedSize; i++ {
		bad[i] ^= 0x5a
	}
	p := write("damaged.parquet", bad)
	d, err := OpenParquet([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedMem(t)
	err = d.ReadSplit(context.Background(), d.Splits[1], nil, mem, 512, func(r arrow.RecordBatch) error {
		r.Release()
		return nil
	})
	wantKind(t, err, rberr.Data, fmt.Sprintf("%q", p), "row group 1", `column "s_hi"`)
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, errors.New("EOF")
	}
	return n, nil
}

// TestCorruptFilesNeverPanic damages a valid file in many random ways: each
// read must fail with a Data error or return every row, never panic or hang.
func TestCorruptFilesNeverPanic(t *testing.T) {
	dir := t.TempDir()
	schema := allTypesSchema()
	rec := randomRecord(schema, 2000, 7)
	defer rec.Release()
	good := filepath.Join(dir, "good.parquet")
	writeOracle(t, good, oracleOpts{dict: true, pageV2: true, rowGroup: 700, pageSize: 2048, batch: 100, codec: pqacompress.Codecs.Snappy}, rec)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	deadline := time.Now().Add(20 * time.Second)
	mem := checkedMem(t)
	for iter := 0; iter < 300 && time.Now().Before(deadline); iter++ {
		bad := slices.Clone(data)
		switch iter % 3 {
		case 0: // flip a run of bytes
			at := rng.IntN(len(bad) - 16)
			for i := range 1 + rng.IntN(16) {
				bad[at+i] ^= byte(1 + rng.IntN(255))
			}
		case 1: // overwrite a single byte
			bad[rng.IntN(len(bad))] = byte(rng.Uint32())
		case 2: // cut the tail
			bad = bad[:rng.IntN(len(bad))]
		}
		p := filepath.Join(dir, fmt.Sprintf("bad-%d.parquet", iter))
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := OpenParquet([]string{p})
		if err != nil {
			if k := rberr.KindOf(err); k != rberr.Data && k != rberr.Type && k != rberr.Schema {
				t.Fatalf("iteration %d: open failed with a %s error: %v", iter, k, err)
			}
			continue
		}
		var rows int64
		for _, s := range d.Splits {
			err = d.ReadSplit(context.Background(), s, nil, mem, 256, func(r arrow.RecordBatch) error {
				rows += r.NumRows()
				r.Release()
				return nil
			})
			if err != nil {
				break
			}
		}
		if err != nil {
			wantKind(t, err, rberr.Data, fmt.Sprintf("%q", p))
			continue
		}
		var total int64
		for _, rg := range d.files[0].pf.Metadata().RowGroups {
			total += rg.NumRows
		}
		if rows != total {
			t.Fatalf("iteration %d: read %d rows of %d without an error", iter, rows, total)
		}
		os.Remove(p)
	}
}

func TestDecimalAndFixedSizeColumns(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "d10", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "d38", Type: &arrow.Decimal128Type{Precision: 38, Scale: 9}, Nullable: true},
		{Name: "hash", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	big, _ := decimal128.FromString("-12345678901234567890.123456789", 38, 9)
	for i := range 100 {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%7 == 0 {
			b.Field(1).AppendNull()
			b.Field(2).AppendNull()
			b.Field(3).AppendNull()
			continue
		}
		b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i*1000 - 50_000)))
		b.Field(2).(*array.Decimal128Builder).Append(big.Add(decimal128.FromI64(int64(i))))
		b.Field(3).(*array.FixedSizeBinaryBuilder).Append([]byte{byte(i), 1, 2, byte(255 - i)})
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	for _, dict := range []bool{false, true} {
		path := filepath.Join(dir, fmt.Sprintf("dec-%v.parquet", dict))
		writeOracle(t, path, oracleOpts{codec: pqacompress.Codecs.Snappy, dict: dict}, rec)
		d, err := OpenParquet([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, d, nil, mem, 30)
		checkRecords(t, got, rec, nil, 30)
		releaseAll(got)
		// the pruner compares int64/float64/string bounds: unscaled decimal
		// bounds would prune wrongly, so there are none
		if st := d.Splits[0].Stats[1]; st.Valid || d.Splits[0].Stats[2].Valid || d.Splits[0].Stats[3].Valid {
			t.Fatalf("decimal or fixed-size binary bounds %+v", st)
		}
	}
}

func TestNestedColumnsAreSkippedUnlessSelected(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewGoAllocator()
	cases := map[string]arrow.Field{
		"list":   {Name: "tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		"struct": {Name: "point", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32}, arrow.Field{Name: "y", Type: arrow.BinaryTypes.String}), Nullable: true},
	}
	for name, f := range cases {
		schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, f, {Name: "after", Type: arrow.BinaryTypes.String}}, nil)
		b := array.NewRecordBuilder(mem, schema)
		for i := range 3 {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			switch fb := b.Field(1).(type) {
			case *array.ListBuilder:
				fb.Append(true)
				fb.ValueBuilder().(*array.Int32Builder).Append(1)
			case *array.StructBuilder:
				fb.Append(true)
				fb.FieldBuilder(0).(*array.Int32Builder).Append(1)
				fb.FieldBuilder(1).(*array.StringBuilder).Append("p")
			}
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprint("v", i))
		}
		rec := b.NewRecordBatch()
		b.Release()
		path := filepath.Join(dir, name+".parquet")
		writeOracle(t, path, oracleOpts{codec: pqacompress.Codecs.Snappy}, rec)
		d, err := OpenParquet([]string{path})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := readAll(t, d, []int{0, 2}, mem, 0)
		checkRecords(t, got, rec, []int{0, 2}, 0)
		releaseAll(got)
		err = d.CheckColumns([]int{0, 1})
		wantKind(t, err, rberr.Type, fmt.Sprintf("%q", path), fmt.Sprintf("%q", f.Name))
		err = d.ReadSplit(context.Background(), d.Splits[0], []int{1}, mem, 0, func(r arrow.RecordBatch) error { r.Release(); return nil })
		wantKind(t, err, rberr.Type, fmt.Sprintf("%q", f.Name))
		rec.Release()
	}
}

// BenchmarkReadSplit reads a 2M-row file of int64, double and string columns.
func BenchmarkReadSplit(b *testing.B) {
	const rows = 2 << 20
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	bld := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	for i := range rows {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
		bld.Field(1).(*array.Float64Builder).Append(rng.Float64() * 1000)
		bld.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("city-%d", rng.IntN(1000)))
	}
	rec := bld.NewRecordBatch()
	bld.Release()
	path := filepath.Join(b.TempDir(), "bench.parquet")
	writeOracle(b, path, oracleOpts{dict: true, rowGroup: 1 << 20, codec: pqacompress.Codecs.Snappy}, rec)
	rec.Release()

	d, err := OpenParquet([]string{path})
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	b.ResetTimer()
	start := time.Now()
	var total int64
	for range b.N {
		for _, s := range d.Splits {
			err := d.ReadSplit(context.Background(), s, nil, mem, DefaultBatchSize, func(r arrow.RecordBatch) error {
				total += r.NumRows()
				r.Release()
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "rows/s")
	if total != int64(b.N)*rows {
		b.Fatalf("read %d rows", total)
	}
}

// Dictionary-encoded strings are copied in fixed blocks when every value of the
// dictionary is at most 32 bytes (bytesValues.putShort): row groups (each chunk its own
// dictionary) whose dictionaries hold values of 0 to 32 bytes, then values of the same
// sizes but other bytes, then one of 33 bytes, then short ones again, read back as
// written, nullable and required, at batch sizes that cut pages anywhere.
func TestReadDictionaryStringsShortAndLong(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "r", Type: arrow.BinaryTypes.String},
	}, nil)
	rng := rand.New(rand.NewPCG(5, 5))
	groups := [][]string{
		{"", "a", strings.Repeat("b", 31), strings.Repeat("c", 32), "dé"},
		{"", "A", strings.Repeat("B", 31), strings.Repeat("C", 32), "DÉ"}, // same sizes
		{"x", strings.Repeat("y", 33), "z"},
		{strings.Repeat("q", 32), "r"},
	}
	const per = 3000
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	for _, vals := range groups {
		for i := 0; i < per; i++ {
			v := vals[rng.IntN(len(vals))]
			if i%7 == 0 {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.StringBuilder).Append(v)
			}
			b.Field(1).(*array.StringBuilder).Append(vals[rng.IntN(len(vals))])
		}
	}
	want := b.NewRecordBatch()
	defer want.Release()
	path := filepath.Join(t.TempDir(), "dict.parquet")
	writeOracle(t, path, oracleOpts{dict: true, pageSize: 1024, batch: 100, rowGroup: per, codec: pqacompress.Codecs.Snappy}, want)
	if _, dictPages, _ := chunkLayout(t, path, "r"); dictPages == 0 {
		t.Fatal("column r is not dictionary-encoded")
	}
	d, err := OpenParquet([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{0, 1000, 777, 1} {
		mem := checkedMem(t)
		got := readAll(t, d, nil, mem, batch)
		checkRecords(t, got, want, nil, batch)
		releaseAll(got)
	}
}
