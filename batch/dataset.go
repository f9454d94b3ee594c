package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Dataset is a set of Parquet files with one schema, cut into splits (one per
// non-empty row group) that can be read independently and concurrently.
type Dataset struct {
	// Schema is the unified Arrow schema. Its fields are in the order of the
	// first file; a field is nullable if the column is optional in any file.
	Schema *arrow.Schema
	Files  []string
	// Splits holds one split per (file, row group) with rows, in file order
	// then row-group order.
	Splits []Split

	files []*fileMeta
}

// Split is one row group of one file.
type Split struct {
	File      string
	FileIndex int
	RowGroup  int
	NumRows   int64
	// Stats is indexed like Dataset.Schema's fields.
	Stats []ColumnStats
}

// ColumnStats are the footer statistics of one column chunk.
//
// Min and Max are in the Arrow column's domain: int64 for every integer,
// date32 (days), time, duration and timestamp (raw value in the column's unit)
// column, float64 for float32/float64, string for utf8 and binary (and their
// large forms), bool for bool. They are bounds, not necessarily values present
// in the chunk (writers may truncate long strings). Valid is false when the
// file has no usable min/max: all values null, statistics not written, NaN
// bounds, INT96 columns, uint64 bounds above math.MaxInt64, and decimal,
// float16 and fixed-size binary columns (whose bounds are not in any of these
// domains).
type ColumnStats struct {
	Valid     bool
	Min, Max  any
	NullCount int64
	// HasNulls reports that NullCount is known.
	HasNulls bool
}

// fileMeta is the parsed footer of one file and how its columns map to the
// dataset schema.
type fileMeta struct {
	path string
	size int64
	pf   *parquet.File
	cols []fileColumn
	// leaf maps a dataset field index to the index of the file's column in
	// cols.
	leaf []int
}

// fileColumn is one top-level column of a file.
type fileColumn struct {
	name     string
	typ      arrow.DataType
	phys     format.Type
	optional bool
	// leaf is the index of the column's (first) leaf column chunk.
	leaf int
	// typeLen is the width of a FIXED_LEN_BYTE_ARRAY column.
	typeLen int
	// restore converts the Parquet values to the Arrow type the writer
	// recorded in the ARROW:schema metadata, when that needs more than a
	// relabelling.
	restore restoreKind
	// unsupported says why the column cannot be read ("" if it can). Such a
	// column is in the schema (so that other columns of the file can be read)
	// but selecting it is an error; see Dataset.CheckColumns.
	unsupported string
}

const (
	// footerWorkers bounds the files whose footers are read at once.
	footerWorkers = 8
	// readBufferSize is the buffered read size for footers and pages.
	readBufferSize = 256 << 10
)

// OpenParquet reads the footers of the files (concurrently), checks that their
// schemas agree and builds the Dataset. Columns are matched by name, so their
// order may differ between files; an extra or differently typed column is an
// rberr Schema error naming both files and the column, and so is a column missing
// from a file once it is read (CheckColumns: a scan of other columns reads them).
func OpenParquet(paths []string) (*Dataset, error) {
	if len(paths) == 0 {
		return nil, rberr.New(rberr.NotFound, "no Parquet files to read")
	}
	metas := make([]*fileMeta, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, footerWorkers)
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// A panic here would kill the host process: it fails the open instead.
			defer func() {
				if r := recover(); r != nil {
					errs[i] = rberr.New(rberr.Data, "%s: cannot read the Parquet footer: %v", p, r)
				}
			}()
			metas[i], errs[i] = openFooter(p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	d := &Dataset{Files: append([]string(nil), paths...), files: metas}
	if err := d.unify(); err != nil {
		return nil, err
	}
	for fi, m := range metas {
		rgs := m.pf.Metadata().RowGroups
		for ri := range rgs {
			rg := &rgs[ri]
			if rg.NumRows == 0 {
				continue
			}
			stats := make([]ColumnStats, len(m.leaf))
			for c, j := range m.leaf {
				if j < 0 {
					continue // the file lacks the column (no statistics)
				}
				if col := m.cols[j]; col.unsupported == "" {
					stats[c] = columnStats(&rg.Columns[col.leaf].MetaData.Statistics, col, rg.NumRows)
				}
			}
			d.Splits = append(d.Splits, Split{
				File: m.path, FileIndex: fi, RowGroup: ri, NumRows: rg.NumRows, Stats: stats,
			})
		}
	}
	return d, nil
}

// unify builds the dataset schema from the first file and maps every file's
// columns onto it by name.
func (d *Dataset) unify() error {
	first := d.files[0]
	fields := make([]arrow.Field, len(first.cols))
	for i, c := range first.cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: c.optional}
	}
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.Name] = true
	}
	for _, m := range d.files {
		for _, c := range m.cols {
			if !known[c.name] {
				return rberr.New(rberr.Schema, "schema of %q differs from %q: column %q is in %q but not in %q",
					m.path, first.path, c.name, m.path, first.path)
			}
		}
		m.leaf = make([]int, len(fields))
		for i, f := range fields {
			j := indexOfName(m.cols, f.Name)
			if j < 0 {
				m.leaf[i] = -1 // an error only if the column is read (CheckColumns)
				continue
			}
			adoptDictionary(&m.cols[j], f.Type) // read as the first file's type, as pyarrow does
			c := m.cols[j]
			if !arrow.TypeEqual(c.typ, f.Type) {
				return rberr.New(rberr.Schema, "schema of %q differs from %q: column %q is %s in %q and %s in %q",
					m.path, first.path, f.Name, c.typ, m.path, f.Type, first.path)
			}
			m.leaf[i] = j
			fields[i].Nullable = fields[i].Nullable || c.optional
		}
	}
	d.Schema = arrow.NewSchema(fields, nil)
	return nil
}

// adoptDictionary makes a string or binary column read as want where the
// two differ only in dictionary encoding (one file recorded a dictionary type,
// another the plain values, or another index type): the reader builds
// dictionaries from plain values, and plain values from dictionary pages.
func adoptDictionary(c *fileColumn, want arrow.DataType) {
	if c.unsupported == "" && c.restore == restoreNone && sameUpToDictionary(c.typ, want) {
		c.typ = want
	}
}

// sameUpToDictionary reports whether a and b are the same string or binary
// type, either of them possibly dictionary-encoded (with any index type).
func sameUpToDictionary(a, b arrow.DataType) bool {
	value := func(t arrow.DataType) arrow.DataType {
		if d, ok := t.(*arrow.DictionaryType); ok {
			return d.ValueType
		}
		return t
	}
	va, vb := value(a), value(b)
	return (va.ID() == arrow.STRING || va.ID() == arrow.BINARY) && arrow.TypeEqual(va, vb)
}

func indexOfName(cols []fileColumn, name string) int {
	for i, c := range cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// openFooter opens path and parses its footer.
func openFooter(path string) (*fileMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "cannot stat %q", path)
	}
	pf, err := openParquetFile(&fileReaderAt{f: f, size: st.Size()}, path)
	if err != nil {
		return nil, err
	}
	m := &fileMeta{path: path, size: st.Size(), pf: pf}
	if m.cols, err = fileColumns(pf, path); err != nil {
		return nil, err
	}
	if err := checkChunkBounds(m); err != nil {
		return nil, err
	}
	return m, nil
}

func openError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return rberr.Wrap(rberr.NotFound, err, "Parquet file %q does not exist", path)
	}
	return rberr.Wrap(rberr.IO, err, "cannot open %q", path)
}

// fileReaderAt reads a file of known size. A read outside the file, which only
// a damaged footer or page header asks for, fails without touching the file;
// a failure of the file itself is remembered in ioErr so that it is reported
// as an IO error, not as corruption.
type fileReaderAt struct {
	f     *os.File
	size  int64
	ioErr error
}

func (r *fileReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > r.size || int64(len(p)) > r.size-off {
		return 0, fmt.Errorf("read of %d bytes at offset %d is outside the file (%d bytes): %w", len(p), off, r.size, io.ErrUnexpectedEOF)
	}
	n, err := r.f.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) && r.ioErr == nil {
		r.ioErr = err
	}
	return n, err
}

// failure classifies an error met while reading the file at path.
func (r *fileReaderAt) failure(path, where string, cause error) error {
	if r.ioErr != nil {
		return rberr.Wrap(rberr.IO, r.ioErr, "cannot read %q", path)
	}
	return corrupt(path, where, cause)
}

// openParquetFile parses the footer, turning any failure or panic of the
// Parquet library into an rberr Data error naming the file.
func openParquetFile(r *fileReaderAt, path string) (pf *parquet.File, err error) {
	if r.size < 12 {
		return nil, rberr.New(rberr.Data, "corrupt Parquet file %q: %d bytes is too small for a Parquet file", path, r.size)
	}
	defer func() {
		if p := recover(); p != nil {
			pf, err = nil, r.failure(path, "", fmt.Errorf("%v", p))
		}
	}()
	pf, err = parquet.OpenFile(r, r.size,
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(readBufferSize),
	)
	if err != nil {
		return nil, r.failure(path, "", err)
	}
	return pf, nil
}

// corrupt is the Data error for an unreadable file; where locates the fault
// (e.g. `row group 2, column "amount"`) when known.
func corrupt(path, where string, cause error) error {
	if where != "" {
		return rberr.Wrap(rberr.Data, cause, "corrupt Parquet file %q: %s", path, where)
	}
	return rberr.Wrap(rberr.Data, cause, "corrupt Parquet file %q", path)
}

// fileColumns maps the file's top-level columns to Arrow. Columns that cannot
// be read (nested groups, repeated or unsupported types) are kept with their
// reason so that the file's other columns stay readable.
func fileColumns(pf *parquet.File, path string) ([]fileColumn, error) {
	elems := pf.Metadata().Schema
	if len(elems) == 0 {
		return nil, corrupt(path, "", errors.New("empty schema"))
	}
	origin := originSchema(pf)
	n := int(elems[0].NumChildren.V)
	cols := make([]fileColumn, 0, n)
	i, leaves := 1, 0
	for len(cols) < n {
		if i >= len(elems) {
			return nil, corrupt(path, "", fmt.Errorf("schema root declares %d columns, found %d", n, len(cols)))
		}
		se := &elems[i]
		next, nleaves, ok := subtree(elems, i)
		if !ok {
			return nil, corrupt(path, "", fmt.Errorf("schema of column %q is cut short", se.Name))
		}
		if indexOfName(cols, se.Name) >= 0 {
			return nil, rberr.New(rberr.Schema, "column %q appears twice in %q", se.Name, path)
		}
		c := fileColumn{
			name:     se.Name,
			optional: se.RepetitionType.Valid && se.RepetitionType.V == format.Optional,
			leaf:     leaves,
		}
		var otype arrow.DataType
		if origin != nil {
			if idx := origin.FieldIndices(se.Name); len(idx) == 1 {
				otype = origin.Field(idx[0]).Type
			}
		}
		switch {
		case (se.NumChildren.Valid && se.NumChildren.V > 0) || !se.Type.Valid:
			c.unsupported = "is a nested column (struct, list or map), which riverbed cannot read yet"
		case se.RepetitionType.Valid && se.RepetitionType.V == format.Repeated:
			c.unsupported = "is a repeated column (a list), which riverbed cannot read yet"
		default:
			c.phys = se.Type.V
			if se.TypeLength.Valid {
				c.typeLen = int(se.TypeLength.V)
			}
			if c.typ = arrowTypeOf(se); c.typ == nil {
				c.unsupported = fmt.Sprintf("has the Parquet type %s, which riverbed cannot read yet", describeType(se))
			} else if otype != nil {
				c.typ, c.restore = restoreType(c.typ, otype)
			}
		}
		if c.unsupported != "" {
			c.typ = otype
			if c.typ == nil {
				c.typ = arrow.Null
			}
		}
		cols = append(cols, c)
		i, leaves = next, leaves+nleaves
	}
	if i != len(elems) {
		return nil, corrupt(path, "", fmt.Errorf("schema root declares %d columns, found more", n))
	}
	return cols, nil
}

// subtree returns the index of the schema element after the subtree rooted at
// elems[i] and the number of leaf columns in it; ok is false if the schema
// ends inside it.
func subtree(elems []format.SchemaElement, i int) (next, leaves int, ok bool) {
	se := &elems[i]
	if !se.NumChildren.Valid || se.NumChildren.V <= 0 {
		if se.Type.Valid {
			return i + 1, 1, true
		}
		return i + 1, 0, true
	}
	next = i + 1
	for range se.NumChildren.V {
		if next >= len(elems) {
			return 0, 0, false
		}
		var l int
		if next, l, ok = subtree(elems, next); !ok {
			return 0, 0, false
		}
		leaves += l
	}
	return next, leaves, true
}

// CheckColumns returns an rberr Type error naming the first of the columns
// (indexes into Schema) that cannot be read, with the file and the reason.
func (d *Dataset) CheckColumns(columns []int) error {
	for _, c := range columns {
		if c < 0 || c >= len(d.Schema.Fields()) {
			return rberr.New(rberr.InvalidArgument, "column index %d out of range for a schema of %d fields", c, len(d.Schema.Fields()))
		}
		for _, m := range d.files {
			if m.leaf[c] < 0 {
				first := d.files[0].path
				return rberr.New(rberr.Schema, "schema of %q differs from %q: column %q is missing from %q",
					m.path, first, d.Schema.Field(c).Name, m.path)
			}
			if col := m.cols[m.leaf[c]]; col.unsupported != "" {
				return rberr.New(rberr.Type, "column %q of %q %s; leave it out of the columns read (read_parquet(columns=[...]) or select)",
					col.name, m.path, col.unsupported)
			}
		}
	}
	return nil
}

// arrowTypeOf maps a leaf schema element to its Arrow type, or nil if the type
// is not supported.
func arrowTypeOf(se *format.SchemaElement) arrow.DataType {
	lt := se.LogicalType.Value
	if lt == nil && se.ConvertedType.Valid {
		if lt = convertedLogicalType(se); lt == nil {
			return nil
		}
	}
	if d, ok := lt.(*format.DecimalType); ok {
		return decimalType(se, d)
	}
	switch se.Type.V {
	case format.Boolean:
		if lt == nil {
			return arrow.FixedWidthTypes.Boolean
		}
	case format.Int32:
		switch t := lt.(type) {
		case nil:
			return arrow.PrimitiveTypes.Int32
		case *format.DateType:
			return arrow.FixedWidthTypes.Date32
		case *format.TimeType:
			if _, ok := t.Unit.Value.(*format.MilliSeconds); ok {
				return arrow.FixedWidthTypes.Time32ms
			}
		case *format.IntType:
			switch {
			case t.BitWidth == 8 && t.IsSigned:
				return arrow.PrimitiveTypes.Int8
			case t.BitWidth == 16 && t.IsSigned:
				return arrow.PrimitiveTypes.Int16
			case t.BitWidth == 32 && t.IsSigned:
				return arrow.PrimitiveTypes.Int32
			case t.BitWidth == 8:
				return arrow.PrimitiveTypes.Uint8
			case t.BitWidth == 16:
				return arrow.PrimitiveTypes.Uint16
			case t.BitWidth == 32:
				return arrow.PrimitiveTypes.Uint32
			}
		}
	case format.Int64:
		switch t := lt.(type) {
		case nil:
			return arrow.PrimitiveTypes.Int64
		case *format.IntType:
			switch {
			case t.BitWidth == 64 && t.IsSigned:
				return arrow.PrimitiveTypes.Int64
			case t.BitWidth == 64:
				return arrow.PrimitiveTypes.Uint64
			}
		case *format.TimeType:
			switch t.Unit.Value.(type) {
			case *format.MicroSeconds:
				return arrow.FixedWidthTypes.Time64us
			case *format.NanoSeconds:
				return arrow.FixedWidthTypes.Time64ns
			}
		case *format.TimestampType:
			tz := ""
			if t.IsAdjustedToUTC {
				tz = "UTC"
			}
			switch t.Unit.Value.(type) {
			case *format.MilliSeconds:
				return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: tz}
			case *format.MicroSeconds:
				return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: tz}
			case *format.NanoSeconds:
				return &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: tz}
			}
		}
	case format.Int96:
		if lt == nil {
			return &arrow.TimestampType{Unit: arrow.Nanosecond}
		}
	case format.Float:
		if lt == nil {
			return arrow.PrimitiveTypes.Float32
		}
	case format.Double:
		if lt == nil {
			return arrow.PrimitiveTypes.Float64
		}
	case format.FixedLenByteArray:
		if !se.TypeLength.Valid || se.TypeLength.V <= 0 {
			return nil
		}
		switch lt.(type) {
		case nil, *format.UUIDType:
			return &arrow.FixedSizeBinaryType{ByteWidth: int(se.TypeLength.V)}
		case *format.Float16Type:
			if se.TypeLength.V == 2 {
				return arrow.FixedWidthTypes.Float16
			}
		}
	case format.ByteArray:
		switch lt.(type) {
		case nil, *format.BsonType:
			return arrow.BinaryTypes.Binary
		case *format.StringType, *format.EnumType, *format.JsonType:
			return arrow.BinaryTypes.String
		}
	}
	return nil
}

// decimalType maps a DECIMAL column to decimal128 (precision up to 38) or
// decimal256, or nil if its physical type or parameters are invalid.
func decimalType(se *format.SchemaElement, d *format.DecimalType) arrow.DataType {
	p, sc := d.Precision, d.Scale
	maxP := int32(76)
	switch se.Type.V {
	case format.Int32:
		maxP = 9
	case format.Int64:
		maxP = 18
	case format.FixedLenByteArray:
		if !se.TypeLength.Valid || se.TypeLength.V <= 0 || se.TypeLength.V > 32 {
			return nil
		}
		// the largest precision n bytes hold: floor(log10(2^(8n-1)-1))
		maxP = int32(math.Floor(math.Log10(2) * float64(8*se.TypeLength.V-1)))
	case format.ByteArray:
	default:
		return nil
	}
	if p < 1 || p > maxP || sc < 0 || sc > p {
		return nil
	}
	if p <= 38 {
		return &arrow.Decimal128Type{Precision: p, Scale: sc}
	}
	return &arrow.Decimal256Type{Precision: p, Scale: sc}
}

// convertedLogicalType translates the legacy converted type annotations that
// have a supported logical equivalent; it returns nil for the others.
func convertedLogicalType(se *format.SchemaElement) format.LogicalTypeValue {
	switch ct := se.ConvertedType.V; ct {
	case deprecated.Decimal:
		return &format.DecimalType{Scale: se.Scale.V, Precision: se.Precision.V}
	case deprecated.TimeMillis:
		return &format.TimeType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MilliSeconds{}}}
	case deprecated.TimeMicros:
		return &format.TimeType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MicroSeconds{}}}
	case deprecated.UTF8:
		return &format.StringType{}
	case deprecated.Enum:
		return &format.EnumType{}
	case deprecated.Json:
		return &format.JsonType{}
	case deprecated.Bson:
		return &format.BsonType{}
	case deprecated.Date:
		return &format.DateType{}
	case deprecated.TimestampMillis:
		return &format.TimestampType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MilliSeconds{}}}
	case deprecated.TimestampMicros:
		return &format.TimestampType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MicroSeconds{}}}
	case deprecated.Int8:
		return &format.IntType{BitWidth: 8, IsSigned: true}
	case deprecated.Int16:
		return &format.IntType{BitWidth: 16, IsSigned: true}
	case deprecated.Int32:
		return &format.IntType{BitWidth: 32, IsSigned: true}
	case deprecated.Int64:
		return &format.IntType{BitWidth: 64, IsSigned: true}
	case deprecated.Uint8:
		return &format.IntType{BitWidth: 8}
	case deprecated.Uint16:
		return &format.IntType{BitWidth: 16}
	case deprecated.Uint32:
		return &format.IntType{BitWidth: 32}
	case deprecated.Uint64:
		return &format.IntType{BitWidth: 64}
	}
	return nil
}

// describeType renders a schema element's type for error messages.
func describeType(se *format.SchemaElement) string {
	s := se.Type.V.String()
	if se.Type.V == format.FixedLenByteArray && se.TypeLength.Valid {
		s = fmt.Sprintf("%s(%d)", s, se.TypeLength.V)
	}
	switch {
	case se.LogicalType.Value != nil:
		s += " " + se.LogicalType.Value.String()
	case se.ConvertedType.Valid:
		s += " " + convertedTypeName(se.ConvertedType.V)
	}
	return s
}

func convertedTypeName(ct deprecated.ConvertedType) string {
	names := map[deprecated.ConvertedType]string{
		deprecated.Map: "MAP", deprecated.MapKeyValue: "MAP_KEY_VALUE", deprecated.List: "LIST",
		deprecated.Decimal: "DECIMAL", deprecated.TimeMillis: "TIME_MILLIS",
		deprecated.TimeMicros: "TIME_MICROS", deprecated.Interval: "INTERVAL",
	}
	if n, ok := names[ct]; ok {
		return n
	}
	return fmt.Sprintf("converted type %d", ct)
}

// leaves returns the number of leaf columns (column chunks per row group).
func (m *fileMeta) leaves() int {
	n := 0
	for _, e := range m.pf.Metadata().Schema[1:] {
		if !e.NumChildren.Valid || e.NumChildren.V <= 0 {
			if e.Type.Valid {
				n++
			}
		}
	}
	return n
}

// checkChunkBounds rejects column chunks that lie outside the file, so that a
// damaged footer fails here rather than as a huge read later.
//
// It also rejects a column whose chunks use different compression codecs in
// different row groups: the Parquet library decompresses every chunk of a
// column with the codec of its first chunk.
func checkChunkBounds(m *fileMeta) error {
	rgs := m.pf.Metadata().RowGroups
	leaves := m.leaves()
	for ri, rg := range rgs {
		if rg.NumRows < 0 {
			return corrupt(m.path, fmt.Sprintf("row group %d", ri), fmt.Errorf("negative row count %d", rg.NumRows))
		}
		if rg.NumRows == 0 {
			continue // never read; some writers leave its chunks unset
		}
		if len(rg.Columns) != leaves {
			return corrupt(m.path, fmt.Sprintf("row group %d", ri),
				fmt.Errorf("%d column chunks for %d leaf columns", len(rg.Columns), leaves))
		}
		for _, c := range m.cols {
			if c.unsupported != "" {
				continue // never read
			}
			md := &rg.Columns[c.leaf].MetaData
			start := md.DataPageOffset
			if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
				start = md.DictionaryPageOffset
			}
			if start < 4 || md.TotalCompressedSize < 0 || start+md.TotalCompressedSize > m.size {
				return corrupt(m.path, fmt.Sprintf("row group %d, column %q", ri, c.name),
					fmt.Errorf("column chunk at offset %d, %d bytes, lies outside the file (%d bytes)",
						start, md.TotalCompressedSize, m.size))
			}
		}
	}
	// Every non-empty row group has one chunk per leaf (checked above). The
	// library takes the codec from row group 0, empty or not.
	ref := -1
	if len(rgs) > 0 && len(rgs[0].Columns) == leaves {
		ref = 0
	}
	for ri, rg := range rgs {
		if rg.NumRows == 0 || ri == ref {
			continue
		}
		if ref < 0 {
			ref = ri
			continue
		}
		for _, c := range m.cols {
			first, this := rgs[ref].Columns[c.leaf].MetaData.Codec, rg.Columns[c.leaf].MetaData.Codec
			if c.unsupported == "" && this != first {
				return rberr.New(rberr.Type, "column %q of %q is compressed with %s in row group %d but %s in row group %d; files whose row groups use different codecs cannot be read yet",
					c.name, m.path, first, ref, this, ri)
			}
		}
	}
	return nil
}

// columnStats converts a column chunk's footer statistics to the column's
// Arrow domain.
func columnStats(st *format.Statistics, c fileColumn, numRows int64) ColumnStats {
	var cs ColumnStats
	switch {
	case !c.optional:
		cs.HasNulls = true
	case st.MinValue != nil || st.MaxValue != nil || st.Min != nil || st.Max != nil || st.NullCount > 0:
		cs.NullCount = st.NullCount
		cs.HasNulls = st.NullCount >= 0 && st.NullCount <= numRows
	}
	if !cs.HasNulls {
		cs.NullCount = 0
	}

	minB, maxB := st.MinValue, st.MaxValue
	if minB == nil || maxB == nil {
		// The deprecated fields hold signed-order bounds: only usable where
		// that is the column's order.
		minB, maxB = nil, nil
		if signedOrder(c) {
			minB, maxB = st.Min, st.Max
		}
	}
	if minB == nil || maxB == nil {
		return cs
	}
	lo, ok1 := statValue(minB, c)
	hi, ok2 := statValue(maxB, c)
	if ok1 && ok2 {
		switch c.restore {
		case restoreSecondsFromMillis: // round the bounds outwards
			lo, hi = floorDiv(lo.(int64), 1000), -floorDiv(-hi.(int64), 1000)
		}
		cs.Valid, cs.Min, cs.Max = true, lo, hi
	}
	return cs
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func signedOrder(c fileColumn) bool {
	switch c.phys {
	case format.Boolean, format.Float, format.Double:
		return true
	case format.Int32, format.Int64:
		return !isUnsigned(c.typ)
	}
	return false
}

func isUnsigned(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

// statValue decodes one PLAIN-encoded statistics bound. Columns whose values
// the pruner could not compare correctly in this domain (decimals, restored
// units, fixed-size binary) have no bounds.
func statValue(b []byte, c fileColumn) (any, bool) {
	switch c.typ.ID() {
	case arrow.DECIMAL128, arrow.DECIMAL256, arrow.FIXED_SIZE_BINARY, arrow.FLOAT16:
		return nil, false
	}
	return physicalStatValue(b, c)
}

// physicalStatValue decodes a bound in the domain of the column's Parquet type.
func physicalStatValue(b []byte, c fileColumn) (any, bool) {
	switch c.phys {
	case format.Boolean:
		if len(b) != 1 {
			return nil, false
		}
		return b[0] != 0, true
	case format.Int32:
		if len(b) != 4 {
			return nil, false
		}
		v := binary.LittleEndian.Uint32(b)
		if isUnsigned(c.typ) {
			return int64(v), true
		}
		return int64(int32(v)), true
	case format.Int64:
		if len(b) != 8 {
			return nil, false
		}
		v := binary.LittleEndian.Uint64(b)
		if isUnsigned(c.typ) && v > math.MaxInt64 {
			return nil, false
		}
		return int64(v), true
	case format.Float:
		if len(b) != 4 {
			return nil, false
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(b))
		return float64(f), !math.IsNaN(float64(f))
	case format.Double:
		if len(b) != 8 {
			return nil, false
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(b))
		return f, !math.IsNaN(f)
	case format.ByteArray:
		return string(b), true
	}
	return nil, false
}
