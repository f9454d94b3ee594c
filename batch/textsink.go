package batch

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// TextWriteOptions say how NewRollingTextWriter writes CSV or NDJSON files.
type TextWriteOptions struct {
	Format TextFormat
	// CSV: Header begins every file with the column names; Separator separates
	// fields (0: ','); Null is the text of a null (default: the empty field).
	Header    bool
	Separator rune
	Null      string
}

// TextWritable reports whether a column of type dt can be written in format, and if
// not, why. CSV takes bool, integers, floats, strings, dates, timestamps and
// decimal128 (written as arrow-go's CSV writer prints them: timestamps as
// "2006-01-02 15:04:05.999999999", with the zone offset when zoned); NDJSON takes
// those (but decimals) and binary (base64), structs and lists, in the forms the
// NDJSON reader reads back. Dictionaries of strings are written as their values.
func TextWritable(format TextFormat, dt arrow.DataType) bool {
	if d, ok := dt.(*arrow.DictionaryType); ok {
		switch d.ValueType.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			return true
		}
		return false
	}
	if format == NDJSON {
		return textcodec.CheckType("", dt, true) == nil
	}
	switch dt.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16,
		arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64, arrow.STRING, arrow.LARGE_STRING,
		arrow.DATE32, arrow.TIMESTAMP:
		return true
	case arrow.DECIMAL128:
		d := dt.(*arrow.Decimal128Type)
		return d.Scale >= 0 && d.Scale <= d.Precision
	}
	return false
}

// NewRollingTextWriter is NewRollingParquetWriter for CSV or NDJSON files
// (<prefix>-<n>.csv or .ndjson), committed in the same ways.
func NewRollingTextWriter(dir, prefix string, schema *arrow.Schema, roll RollingPolicy, opts TextWriteOptions) (*FileWriter, error) {
	if roll.MaxRowsPerFile < 0 || roll.MaxBytesPerFile < 0 || roll.RolloverInterval < 0 {
		return nil, rberr.New(rberr.InvalidArgument, "rolling policy limits must not be negative (got %d rows, %d bytes, %s)",
			roll.MaxRowsPerFile, roll.MaxBytesPerFile, roll.RolloverInterval)
	}
	if roll.Now == nil {
		roll.Now = time.Now
	}
	if prefix == "" || strings.ContainsAny(prefix, `/\`) || hidden(prefix) {
		return nil, rberr.New(rberr.InvalidArgument, "invalid file prefix %q", prefix)
	}
	ext := ".csv"
	switch opts.Format {
	case CSV:
		if opts.Separator == 0 {
			opts.Separator = ','
		}
		if !textcodec.ValidDelimiter(opts.Separator) {
			return nil, rberr.New(rberr.InvalidArgument, "CSV separator %q is not allowed", opts.Separator)
		}
	case NDJSON:
		ext = ".ndjson"
	default:
		return nil, rberr.New(rberr.InvalidArgument, "unknown text format %q (want csv or ndjson)", opts.Format)
	}
	if schema.NumFields() == 0 {
		return nil, rberr.New(rberr.Schema, "cannot write %s files without columns", strings.ToUpper(string(opts.Format)))
	}
	seen := map[string]bool{}
	for _, f := range schema.Fields() {
		if seen[f.Name] {
			return nil, rberr.New(rberr.Schema, "cannot write %s: column %q appears twice", strings.ToUpper(string(opts.Format)), f.Name)
		}
		seen[f.Name] = true
		if !TextWritable(opts.Format, f.Type) {
			return nil, rberr.New(rberr.Type, "cannot write column %q of type %s to %s", f.Name, f.Type, strings.ToUpper(string(opts.Format)))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "cannot create output directory %q", dir)
	}
	return &FileWriter{
		dir: dir, prefix: prefix, schema: schema, text: &opts, ext: ext,
		roll: roll, rowGroupRows: 1 << 62,
	}, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// textEncoder is the fileEncoder of CSV and NDJSON files.
type textEncoder struct {
	bw     *bufio.Writer
	out    *countingWriter
	schema *arrow.Schema // with dictionaries replaced by their value types
	opts   TextWriteOptions
	csv    *arrowcsv.Writer
	floats []int // CSV: the float columns, written as text by csvFloats
	rows   int64
	line   bytes.Buffer
}

func newTextEncoder(f *os.File, schema *arrow.Schema, opts TextWriteOptions) *textEncoder {
	bw := bufio.NewWriterSize(f, 1<<16)
	e := &textEncoder{bw: bw, out: &countingWriter{w: bw}, opts: opts}
	fields := make([]arrow.Field, schema.NumFields())
	for i, fl := range schema.Fields() {
		if d, ok := fl.Type.(*arrow.DictionaryType); ok {
			fl.Type = d.ValueType
		}
		fields[i] = fl
	}
	e.schema = arrow.NewSchema(fields, nil)
	if opts.Format == CSV {
		// Floats are written by csvFloats (arrow-go writes infinities as Go's "+Inf").
		csvFields := slices.Clone(fields)
		for i, fl := range csvFields {
			if fl.Type.ID() == arrow.FLOAT64 || fl.Type.ID() == arrow.FLOAT32 {
				csvFields[i].Type = arrow.BinaryTypes.String
				e.floats = append(e.floats, i)
			}
		}
		e.schema = arrow.NewSchema(csvFields, nil)
		e.csv = arrowcsv.NewWriter(e.out, e.schema, arrowcsv.WithComma(opts.Separator),
			arrowcsv.WithHeader(opts.Header), arrowcsv.WithNullWriter(opts.Null))
	}
	return e
}

// csvFloats is the text of a float column as CSV files hold it: as arrow-go writes it
// (shortest round trip), but infinities as "inf" and "-inf" (as Polars writes them, and
// what pyarrow, Polars and DuckDB read as floats) and NaN as "NaN".
func csvFloats(c arrow.Array) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(c.Len())
	bits, at := 64, func(i int) float64 { return 0 }
	switch c := c.(type) {
	case *array.Float64:
		at = c.Value
	case *array.Float32:
		bits, at = 32, func(i int) float64 { return float64(c.Value(i)) }
	}
	for i := 0; i < c.Len(); i++ {
		switch v := at(i); {
		case c.IsNull(i):
			b.AppendNull()
		case math.IsInf(v, 1):
			b.Append("inf")
		case math.IsInf(v, -1):
			b.Append("-inf")
		case math.IsNaN(v):
			b.Append("NaN")
		default:
			b.Append(strconv.FormatFloat(v, 'g', -1, bits))
		}
	}
	return b.NewArray()
}

// undict returns the columns [from, to) of rec with dictionaries replaced by their
// values (the caller releases them).
func undict(rec arrow.RecordBatch, from, to int) []arrow.Array {
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		d, ok := c.(*array.Dictionary)
		if !ok {
			cols[i] = array.NewSlice(c, int64(from), int64(to))
			continue
		}
		b := array.NewBuilder(memory.DefaultAllocator, d.Dictionary().DataType())
		for j := from; j < to; j++ {
			if d.IsNull(j) {
				b.AppendNull()
				continue
			}
			switch v := d.Dictionary().(type) {
			case *array.String:
				b.(*array.StringBuilder).Append(v.Value(d.GetValueIndex(j)))
			case *array.LargeString:
				b.(*array.LargeStringBuilder).Append(v.Value(d.GetValueIndex(j)))
			}
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	return cols
}

func (e *textEncoder) write(rec arrow.RecordBatch, from, to int) error {
	cols := undict(rec, from, to)
	for _, i := range e.floats {
		text := csvFloats(cols[i])
		cols[i].Release()
		cols[i] = text
	}
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	part := array.NewRecordBatch(e.schema, cols, int64(to-from))
	defer part.Release()
	e.rows += int64(to - from)
	if e.csv != nil {
		return e.csv.Write(part)
	}
	for i := range to - from {
		e.line.Reset()
		e.line.WriteByte('{')
		for c, f := range e.schema.Fields() {
			if c > 0 {
				e.line.WriteByte(',')
			}
			textcodec.WriteJSONString(&e.line, f.Name)
			e.line.WriteByte(':')
			if err := textcodec.WriteJSONValue(&e.line, part.Column(c), i); err != nil {
				return rberr.Wrap(rberr.Data, err, "cannot write NDJSON: column %q row %d", f.Name, from+i)
			}
		}
		e.line.WriteString("}\n")
		if _, err := e.out.Write(e.line.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func (e *textEncoder) endRowGroup() error { return nil }
func (e *textEncoder) size() int64        { return e.out.n }

func (e *textEncoder) close() error {
	if e.csv != nil && e.opts.Header && e.rows == 0 {
		// No row came: the file still names the columns, so it reads back with them.
		empty := array.NewRecordBatch(e.schema, emptyColumns(e.schema), 0)
		err := e.csv.Write(empty)
		empty.Release()
		if err != nil {
			return err
		}
	}
	if e.csv != nil {
		if err := e.csv.Flush(); err != nil {
			return err
		}
	}
	return e.bw.Flush()
}

func emptyColumns(s *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		b := array.NewBuilder(memory.DefaultAllocator, f.Type)
		cols[i] = b.NewArray()
		b.Release()
	}
	return cols
}

// CheckAppendText is CheckAppend for CSV and NDJSON files, which record no types:
// CSV files (by their first record) must have as many columns as schema, and, when
// that record is a header, the same names in the same order. NDJSON files are not
// checked: a reader takes their objects' fields by name.
func CheckAppendText(existing []string, schema *arrow.Schema) error {
	for _, path := range existing {
		if !strings.HasSuffix(path, ".csv") {
			continue
		}
		d := &TextDataset{opts: TextOptions{Format: CSV, Separator: ','}}
		rc, br, err := openText(path)
		if err != nil {
			return err
		}
		r := d.newCSVReader(br)
		rec, err := r.Read()
		rc.Close()
		if err != nil {
			continue // empty or not comma-separated: nothing to compare
		}
		if len(rec) != schema.NumFields() {
			return rberr.New(rberr.Schema, "cannot append: the existing file %q has %d columns, the new data %d", path, len(rec), schema.NumFields())
		}
		header := true
		for i, f := range schema.Fields() {
			header = header && rec[i] == f.Name
		}
		if !header {
			// A header of other names, or a row of data: names cannot be compared unless
			// every field is a name of the new data.
			for i, f := range schema.Fields() {
				if schema.FieldIndices(rec[i]) != nil && rec[i] != f.Name {
					return rberr.New(rberr.Schema, "cannot append: column %d is %q in the new data but %q in the header of the existing file %q", i+1, f.Name, rec[i], path)
				}
			}
		}
		return nil
	}
	return nil
}
