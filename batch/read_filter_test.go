package batch

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	pqacompress "github.com/apache/arrow-go/v18/parquet/compress"
)

// A split reader under a RowFilter returns what arrow's take picks out of the batches
// read without one (not arrow's filter: in arrow-go 18.8 it drops the values of a
// boolean column's valid rows after a null): over plain and dictionary pages (v1 and v2, a dictionary that falls
// back to plain), columns with and without nulls, every value kind (those decoded only at
// the rows kept, and those decoded whole and gathered), the predicate's column returned
// or not, a column neither read nor returned, filters keeping all, some, few and no rows,
// and rows dropped by their position in the split.
func TestReadSplitFilteredMatchesOracle(t *testing.T) {
	const rows = 4000
	schema := allTypesSchema()
	data := lowCardinalityStrings(randomRecord(schema, rows, 3), "s", 2)
	defer data.Release()
	i64, i8 := schema.FieldIndices("i64")[0], schema.FieldIndices("i8")[0]

	type filter struct {
		keep func(v int64, valid bool) bool // of a row's value
		from int64                          // the first row of each split that may be kept
	}
	keeps := map[string]filter{
		"some":      {keep: func(v int64, valid bool) bool { return valid && v%3 != 0 }},
		"few":       {keep: func(v int64, valid bool) bool { return valid && v%50 == 0 }},
		"nulls":     {keep: func(v int64, valid bool) bool { return !valid || v%2 == 0 }},
		"all":       {keep: func(int64, bool) bool { return true }},
		"none":      {keep: func(int64, bool) bool { return false }},
		"from-1500": {keep: func(v int64, valid bool) bool { return !valid || v%2 == 0 }, from: 1500},
	}
	outs := map[string][]int{
		"every column":          nil,
		"without the predicate": {0, 1, 2, 3, 5, 9, 10, 13, 15, 16, 17, 19, 20, 21},
		"some, one unread":      {21, 15, 8},
	}
	configs := map[string]oracleOpts{
		"plain-v1":           {pageSize: 1024, batch: 100, rowGroup: 1700, codec: pqacompress.Codecs.Snappy},
		"dict-v1":            {dict: true, pageSize: 1024, batch: 100, rowGroup: 1700, codec: pqacompress.Codecs.Snappy},
		"dict-fallback-v2":   {dict: true, pageV2: true, pageSize: 2048, batch: 128, dictLimit: 4096, codec: pqacompress.Codecs.Snappy},
		"plain-v2-one-group": {pageV2: true, codec: pqacompress.Codecs.Uncompressed},
	}
	for name, cfg := range configs {
		path := filepath.Join(t.TempDir(), "data.parquet")
		writeOracle(t, path, cfg, data)
		d, err := OpenParquet([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		// Batches of a whole row group, and of 333 rows (batches and pages ending apart).
		batch := 333
		if cfg.pageV2 {
			batch = 0
		}
		// The predicate over its column's values (a page's dictionary or values) on an
		// int64 column; over the batch on it and on an int8 column (narrowed on reading).
		hows := []struct {
			name   string
			col    int
			values bool
		}{{"by value", i64, true}, {"by batch", i64, false}, {"int8 by batch", i8, true}}
		for kname, f := range keeps {
			for oname, out := range outs {
				for _, how := range hows {
					t.Run(name+"/"+kname+"/"+oname+"/"+how.name, func(t *testing.T) {
						checkFiltered(t, d, how.col, out, batch, f.keep, f.from, how.values)
					})
				}
			}
		}
	}
}

// checkFiltered reads every split of d with and without a filter keeping the rows from
// row from0 of each split on where keep holds of the value of column col (an integer
// column), returning the columns out (nil: all), and compares; with byValue, the filter
// offers KeepValues too.
func checkFiltered(t *testing.T, d *Dataset, col int, out []int, batchSize int, keep func(int64, bool) bool, from0 int64, byValue bool) {
	mem := checkedMem(t)
	ctx := context.Background()
	if out == nil {
		for i := range d.Schema.Fields() {
			out = append(out, i)
		}
	}
	values := func(c arrow.Array) []bool { // keep of each row's value
		m := make([]bool, c.Len())
		for i := range m {
			switch v := c.(type) {
			case *array.Int64:
				m[i] = keep(v.Value(i), v.IsValid(i))
			case *array.Int8:
				m[i] = keep(int64(v.Value(i)), v.IsValid(i))
			default:
				t.Fatalf("a %T", c)
			}
		}
		return m
	}
	mask := func(c arrow.Array, from int64, n int) []bool {
		m := values(c)
		for i := range m {
			m[i] = m[i] && from+int64(i) >= from0
		}
		return m
	}
	for _, sp := range d.Splits {
		// What arrow's filter keeps of the batches read whole.
		var want []arrow.RecordBatch
		var from int64
		err := d.ReadSplit(ctx, sp, nil, mem, batchSize, func(r arrow.RecordBatch) error {
			defer r.Release()
			ib := array.NewInt32Builder(mem)
			for i, k := range mask(r.Column(col), from, int(r.NumRows())) {
				if k {
					ib.Append(int32(i))
				}
			}
			idx := ib.NewArray()
			ib.Release()
			defer idx.Release()
			from += r.NumRows()
			cols := make([]arrow.Array, len(out))
			for j, c := range out {
				res, err := compute.TakeArray(compute.WithAllocator(ctx, mem), r.Column(c), idx)
				if err != nil {
					return err
				}
				cols[j] = res
			}
			want = append(want, array.NewRecordBatch(projectSchema(d.Schema, out), cols, int64(idx.Len())))
			for _, c := range cols {
				c.Release()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		r, err := d.OpenSplit(ctx, sp, nil, mem, batchSize)
		if err != nil {
			t.Fatal(err)
		}
		rf := &RowFilter{
			Reads: []int{col},
			Out:   out,
			From:  from0,
			Keep: func(cols []arrow.Array, n int, rows []int32) ([]int32, error) {
				if len(cols) != 1 || cols[0].Len() != n {
					t.Fatalf("Keep got %d columns of %d rows for a batch of %d", len(cols), cols[0].Len(), n)
				}
				for i, k := range values(cols[0]) { // From is the reader's to apply
					if k {
						rows = append(rows, int32(i))
					}
				}
				return rows, nil
			},
			Gather: func(cols []arrow.Array, rows []int32) ([]arrow.Array, error) {
				// Not take (the oracle): the stretches of consecutive rows, concatenated.
				taken := make([]arrow.Array, len(cols))
				for i, c := range cols {
					var parts []arrow.Array
					for a := 0; a < len(rows); {
						b := a + 1
						for b < len(rows) && rows[b] == rows[b-1]+1 {
							b++
						}
						parts = append(parts, array.NewSlice(c, int64(rows[a]), int64(rows[b-1])+1))
						a = b
					}
					if len(parts) == 0 {
						parts = append(parts, array.NewSlice(c, 0, 0))
					}
					var err error
					taken[i], err = array.Concatenate(parts, mem)
					for _, p := range parts {
						p.Release()
					}
					if err != nil {
						return nil, err
					}
				}
				return taken, nil
			},
		}
		if byValue {
			rf.KeepValues = func(vals arrow.Array) ([]bool, error) { return values(vals), nil }
		}
		r.SetFilter(rf)
		for i := 0; ; i++ {
			got, err := r.Next()
			if errors.Is(err, io.EOF) {
				if i != len(want) {
					t.Fatalf("%d batches, want %d", i, len(want))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if i >= len(want) {
				t.Fatalf("more than the %d batches read whole", len(want))
			}
			if got.NumRows() != want[i].NumRows() || got.NumCols() != want[i].NumCols() {
				t.Fatalf("split %s rg %d, batch %d: %d rows and %d columns, want %d and %d", sp.File, sp.RowGroup, i,
					got.NumRows(), got.NumCols(), want[i].NumRows(), want[i].NumCols())
			}
			for j := range got.NumCols() {
				if !array.Equal(got.Column(int(j)), want[i].Column(int(j))) {
					t.Fatalf("split %s rg %d, batch %d, column %q:\n got %s\nwant %s", sp.File, sp.RowGroup, i,
						got.ColumnName(int(j)), clip(got.Column(int(j))), clip(want[i].Column(int(j))))
				}
			}
			got.Release()
		}
		if r.Consumed() != sp.NumRows {
			t.Fatalf("consumed %d rows of a split of %d", r.Consumed(), sp.NumRows)
		}
		r.Close()
		releaseAll(want)
	}
}

func projectSchema(s *arrow.Schema, cols []int) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = s.Field(c)
	}
	return arrow.NewSchema(fields, nil)
}
