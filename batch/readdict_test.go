package batch

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// dictRecord holds an id column and a nullable dictionary column k of n rows
// drawn from distinct values, and the same values as plain strings.
func dictRecord(t *testing.T, dt *arrow.DictionaryType, n, distinct int, seed uint64) (arrow.RecordBatch, *array.String) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	db := array.NewDictionaryBuilder(memory.DefaultAllocator, dt).(*array.BinaryDictionaryBuilder)
	defer db.Release()
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	defer sb.Release()
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	defer ib.Release()
	for i := range n {
		ib.Append(int64(i))
		if rng.IntN(10) == 0 {
			db.AppendNull()
			sb.AppendNull()
			continue
		}
		v := fmt.Sprintf("value-%d-%05d-%s", seed, rng.IntN(distinct), "padding-padding-padding")
		if err := db.AppendString(v); err != nil {
			t.Fatal(err)
		}
		sb.Append(v)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "k", Type: dt, Nullable: true}}, nil)
	ids, k := ib.NewArray(), db.NewArray()
	defer ids.Release()
	defer k.Release()
	return array.NewRecordBatch(schema, []arrow.Array{ids, k}, int64(n)), sb.NewArray().(*array.String)
}

// TestReadDictionaryColumns reads dictionary columns written by arrow-go's
// writer, dictionary-encoded throughout, falling back to plain pages
// mid-chunk, and plain throughout, checking every batch is a dictionary
// array of the recorded type whose values are the written ones.
func TestReadDictionaryColumns(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dt        *arrow.DictionaryType
		distinct  int
		o         oracleOpts
		mixed     bool // expect both dictionary-encoded and plain pages
		plainOnly bool
	}{
		{"dictionary", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, 40,
			oracleOpts{dict: true, store: true, pageSize: 1024, rowGroup: 3000}, false, false},
		{"fallback", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, 4000,
			oracleOpts{dict: true, pageSize: 1024, rowGroup: 6000, dictLimit: 8 << 10}, true, false},
		{"plain", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String, Ordered: true}, 200,
			oracleOpts{dict: false, store: true, pageSize: 1024, rowGroup: 3000, pageV2: true}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, want := dictRecord(t, tc.dt, 10000, tc.distinct, 7)
			defer rec.Release()
			defer want.Release()
			path := filepath.Join(t.TempDir(), "d.parquet")
			if tc.mixed {
				// arrow-go writes dictionary arrays without falling back mid-chunk:
				// write the values, with a dictionary page limit, and record the
				// dictionary type as the writer of the dictionary column would
				plain := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{rec.Schema().Field(0), {Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
					[]arrow.Array{rec.Column(0), want}, rec.NumRows())
				defer plain.Release()
				tc.o.arrowSchema = rec.Schema()
				writeOracle(t, path, tc.o, plain)
			} else {
				writeOracle(t, path, tc.o, rec)
			}
			pages, dictPages, _ := chunkLayout(t, path, "k")
			switch {
			case tc.mixed && (dictPages == 0 || dictPages == pages):
				t.Fatalf("want mixed pages, got %d dictionary-encoded of %d", dictPages, pages)
			case tc.plainOnly && dictPages != 0, !tc.mixed && !tc.plainOnly && dictPages != pages:
				t.Fatalf("unexpected layout: %d dictionary-encoded of %d pages", dictPages, pages)
			}
			d, err := OpenParquet([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Schema.Field(1).Type; !arrow.TypeEqual(got, tc.dt) {
				t.Fatalf("schema type %s, want %s", got, tc.dt)
			}
			for _, bs := range []int{0, 333} {
				mem := checkedMem(t)
				recs := readAll(t, d, nil, mem, bs)
				off := 0
				for _, r := range recs {
					k, ok := r.Column(1).(*array.Dictionary)
					if !ok || !arrow.TypeEqual(k.DataType(), tc.dt) {
						t.Fatalf("column k is %s, want %s", r.Column(1).DataType(), tc.dt)
					}
					dict := k.Dictionary().(*array.String)
					for i := range k.Len() {
						if k.IsNull(i) != want.IsNull(off+i) {
							t.Fatalf("row %d: null %v, want %v", off+i, k.IsNull(i), want.IsNull(off+i))
						}
						if k.IsNull(i) {
							continue
						}
						j := k.GetValueIndex(i)
						if j < 0 || j >= dict.Len() {
							t.Fatalf("row %d: index %d outside a dictionary of %d", off+i, j, dict.Len())
						}
						if dict.Value(j) != want.Value(off+i) {
							t.Fatalf("row %d: %q, want %q", off+i, dict.Value(j), want.Value(off+i))
						}
					}
					off += k.Len()
				}
				releaseAll(recs)
				if off != want.Len() {
					t.Fatalf("read %d rows, want %d", off, want.Len())
				}
			}
		})
	}
}

// TestDictionaryOverflowingItsIndexType: a chunk whose dictionary holds more
// values than the recorded index type addresses, in its dictionary page or
// through plain pages, is a Data error naming the column, with no leak.
func TestDictionaryOverflowingItsIndexType(t *testing.T) {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	wide := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	rec, want := dictRecord(t, wide, 5000, 300, 1)
	defer rec.Release()
	defer want.Release()
	plain := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{rec.Schema().Field(0), {Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
		[]arrow.Array{rec.Column(0), want}, rec.NumRows())
	defer plain.Release()
	declared := arrow.NewSchema([]arrow.Field{rec.Schema().Field(0), {Name: "k", Type: dt, Nullable: true}}, nil)
	for _, dict := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "o.parquet")
		writeOracle(t, path, oracleOpts{dict: dict, arrowSchema: declared}, plain)
		if pages, dictPages, _ := chunkLayout(t, path, "k"); dict != (dictPages > 0) {
			t.Fatalf("dictionary encoding %v: %d dictionary-encoded pages of %d", dict, dictPages, pages)
		}
		d, err := OpenParquet([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		mem := checkedMem(t)
		err = d.ReadSplit(t.Context(), d.Splits[0], nil, mem, 0, func(r arrow.RecordBatch) error { r.Release(); return nil })
		wantKind(t, err, rberr.Data, `column "k"`, "int8")
	}
}
