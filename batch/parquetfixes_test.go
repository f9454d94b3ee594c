package batch

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqacompress "github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// TestParquetFixes checks that the replacements of parquetfixes.go are in
// the Parquet library's tables.
func TestParquetFixes(t *testing.T) {
	if parquet.LookupCompressionCodec(format.Lz4Raw) != lz4RawCodec || parquet.LookupCompressionCodec(format.Lz4) != lz4HadoopCodec {
		t.Fatal("the Parquet library's codec table changed: the LZ4 codecs are not installed")
	}
	if _, ok := parquet.LookupEncoding(format.RLE).(rleBooleans); !ok {
		t.Fatal("the Parquet library's encoding table changed: the RLE boolean decoder is not installed")
	}
}

// TestLZ4Codecs checks that this package's LZ4 codecs decode what independent
// encoders produce.
func TestLZ4Codecs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 100, 70_000, 1 << 20} {
		src := make([]byte, n)
		for i := range src { // half random, half runs: ratios around the 3x guess
			if i%2 == 0 {
				src[i] = byte(rng.IntN(256))
			}
		}
		for _, c := range []compress.Codec{lz4RawCodec, lz4HadoopCodec} {
			enc, err := c.Encode(nil, src)
			if err != nil {
				t.Fatal(err)
			}
			// the page reader hands a buffer of exactly the uncompressed size
			dst := make([]byte, n)
			got, err := c.Decode(dst, enc)
			if err != nil || string(got) != string(src) {
				t.Fatalf("%s, %d bytes: round trip failed (err %v)", c, n, err)
			}
			if n > 0 && &got[0] != &dst[0] {
				t.Fatalf("%s decoded into a new buffer; the page reader would drop it", c)
			}
			if got, err := c.Decode(nil, enc); err != nil || string(got) != string(src) {
				t.Fatalf("%s, %d bytes, nil dst: round trip failed (err %v)", c, n, err)
			}
		}
		// the deprecated codec also accepts bare blocks, as Arrow does
		raw, _ := lz4RawCodec.Encode(nil, src)
		if got, err := lz4HadoopCodec.Decode(make([]byte, n), raw); err != nil || string(got) != string(src) {
			t.Fatalf("LZ4 bare block of %d bytes: err %v", n, err)
		}
	}
	if _, err := lz4RawCodec.Decode(nil, []byte{0xf0, 1, 2}); err == nil {
		t.Fatal("damaged LZ4 block decoded without error")
	}
}

// TestReadLZ4Files reads LZ4_RAW files written by arrow-go and LZ4 (Hadoop)
// files written with this package's encoder, with data pages v1 and v2 and
// pages of every compression ratio, against the written data.
func TestReadLZ4Files(t *testing.T) {
	dir := t.TempDir()
	schema := allTypesSchema()
	rec := randomRecord(schema, 20_000, 11)
	defer rec.Release()
	mem := checkedMem(t)
	for _, v2 := range []bool{false, true} {
		path := filepath.Join(dir, fmt.Sprintf("raw-%v.parquet", v2))
		writeOracle(t, path, oracleOpts{codec: pqacompress.Codecs.Lz4Raw, pageV2: v2, pageSize: 4 << 10, rowGroup: 7000}, rec)
		d, err := OpenParquet([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		var got []arrow.RecordBatch
		for _, s := range d.Splits {
			got = append(got, readSplit(t, d, s, mem)...)
		}
		checkRecords(t, got, rec, nil, 0)
		releaseAll(got)
	}

	// LZ4 (Hadoop framing): arrow-go cannot write it any more; write it with
	// the Parquet library and this package's encoder.
	ints := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	path := filepath.Join(dir, "hadoop.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		X *int64 `parquet:"x,optional"`
	}
	w := parquet.NewGenericWriter[row](f, parquet.Compression(lz4HadoopCodec), parquet.PageBufferSize(4<<10))
	want := array.NewInt64Builder(memory.NewGoAllocator())
	defer want.Release()
	rows := make([]row, 50_000)
	for i := range rows {
		if i%9 != 0 {
			v := int64(i) * 31
			rows[i].X = &v
			want.Append(v)
		} else {
			want.AppendNull()
		}
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, err := OpenParquet([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.files[0].pf.Metadata().RowGroups[0].Columns[0].MetaData.Codec; c != format.Lz4 {
		t.Fatalf("file written with codec %s", c)
	}
	wantArr := want.NewArray()
	wantRec := array.NewRecordBatch(ints, []arrow.Array{wantArr}, int64(wantArr.Len()))
	wantArr.Release()
	defer wantRec.Release()
	got := readAll(t, d, nil, mem, 0)
	checkRecords(t, got, wantRec, nil, 0)
	releaseAll(got)
}

func readSplit(t *testing.T, d *Dataset, s Split, mem memory.Allocator) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	if err := d.ReadSplit(t.Context(), s, nil, mem, 0, func(r arrow.RecordBatch) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAllNullDictionaryColumn reads dictionary-encoded chunks that hold only
// nulls (an empty dictionary, no indexes).
func TestAllNullDictionaryColumn(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "t", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	for range 3000 {
		for c := range schema.NumFields() {
			b.Field(c).AppendNull()
		}
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	for _, v2 := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "nulls.parquet")
		writeOracle(t, path, oracleOpts{codec: pqacompress.Codecs.Snappy, dict: true, pageV2: v2, rowGroup: 1000}, rec)
		d, err := OpenParquet([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, d, nil, checkedMem(t), 0)
		checkRecords(t, got, rec, nil, 0)
		releaseAll(got)
	}
}

// TestRLEBooleans decodes RLE/bit-packed hybrid booleans built by hand from
// the format's specification, with runs of every length, against the values
// they encode. (The Python suite reads pyarrow's data page v2 files, whose
// booleans are RLE-encoded.)
func TestRLEBooleans(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		var want []bool
		var enc []byte
		for range 1 + rng.IntN(40) {
			if rng.IntN(3) == 0 { // bit-packed: groups of 8 values
				groups := 1 + rng.IntN(4)
				enc = binary.AppendUvarint(enc, uint64(groups)<<1|1)
				for range groups {
					var b byte
					for j := range 8 {
						v := rng.IntN(2) == 0
						want = append(want, v)
						if v {
							b |= 1 << j
						}
					}
					enc = append(enc, b)
				}
				continue
			}
			n := 1 + rng.IntN(100)
			if trial%10 == 0 {
				n = 1 + rng.IntN(100_000)
			}
			v := rng.IntN(2) == 0
			for range n {
				want = append(want, v)
			}
			enc = binary.AppendUvarint(enc, uint64(n)<<1)
			if v {
				enc = append(enc, 1)
			} else {
				enc = append(enc, 0)
			}
		}
		src := binary.LittleEndian.AppendUint32(nil, uint32(len(enc)))
		src = append(src, enc...)
		dst := make([]byte, 3) // stale bytes must not leak into the result
		dst[0], dst[1], dst[2] = 0xff, 0xff, 0xff
		got, err := parquet.LookupEncoding(format.RLE).DecodeBoolean(dst, src)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < (len(want)+7)/8 {
			t.Fatalf("trial %d: %d bytes for %d values", trial, len(got), len(want))
		}
		for i, v := range want {
			if bitutil.BitIsSet(got, i) != v {
				t.Fatalf("trial %d: value %d is %v, want %v", trial, i, !v, v)
			}
		}
	}
	for _, bad := range [][]byte{{1, 0}, {9, 0, 0, 0, 1}, {1, 0, 0, 0, 0x03}, {1, 0, 0, 0, 8}} {
		if _, err := parquet.LookupEncoding(format.RLE).DecodeBoolean(nil, bad); err == nil {
			t.Fatalf("damaged input %v decoded without error", bad)
		}
	}
}

// TestMixedCodecsRejected: a column whose row groups use different codecs is
// refused (the Parquet library would decompress them all with the first one's
// codec) rather than read as garbage.
func TestMixedCodecsRejected(t *testing.T) {
	schema := allTypesSchema()
	rec := randomRecord(schema, 2000, 8)
	defer rec.Release()
	good := filepath.Join(t.TempDir(), "good.parquet")
	writeOracle(t, good, oracleOpts{rowGroup: 1000, codec: pqacompress.Codecs.Snappy}, rec)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	footer := data[len(data)-8-n : len(data)-8]
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		t.Fatal(err)
	}
	md.RowGroups[1].Columns[3].MetaData.Codec = format.Gzip
	out, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	bad := append(slices.Clone(data[:len(data)-8-n]), out...)
	bad = binary.LittleEndian.AppendUint32(bad, uint32(len(out)))
	bad = append(bad, "PAR1"...)
	p := filepath.Join(t.TempDir(), "mixed.parquet")
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenParquet([]string{p})
	wantKind(t, err, rberr.Type, fmt.Sprintf("%q", p), `column "i32"`, "row group 1")
}
