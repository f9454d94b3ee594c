package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

const (
	// rowGroupRows is the most rows written to one row group.
	rowGroupRows = 1_000_000
	// writeChunkRows is how many rows of a column are handed to the Parquet
	// writer at once; pages are cut between chunks.
	writeChunkRows = 1024
	// dictionaryMaxBytes is the dictionary size above which a string column
	// falls back to plain encoding for the rest of its row group.
	dictionaryMaxBytes = 1 << 20
)

// FileWriter writes records to the files <dir>/<prefix>-<n>.parquet, n
// counting from 00000 (zero-padded so that lexical order is write order); or,
// made by NewRollingTextWriter, to CSV or NDJSON files <prefix>-<n>.csv / .ndjson,
// committed the same way.
//
// Each file is written as <dir>/.<prefix>-<n>.parquet.inprogress, a name that
// ResolvePaths, pyarrow.dataset and DuckDB's *.parquet globs skip, and only
// renamed to its final name by a commit, so a job that fails never leaves
// partial files visible. A file is closed and the next one begun when the
// rolling policy says so (RollingPolicy), and at every PreCommit.
//
// Write, PreCommit, Commit and Abort belong to one goroutine; CommitPreCommitted
// may run on another (a checkpoint completing while the subtask writes).
// Concurrent writers to one directory need distinct prefixes.
type FileWriter struct {
	dir, prefix  string
	schema       *arrow.Schema
	pschema      *parquet.Schema
	arrowSchema  string            // ARROW:schema metadata
	text         *TextWriteOptions // nil: Parquet
	ext          string            // file name extension: ".parquet", ".csv", ".ndjson"
	roll         RollingPolicy
	rowGroupRows int64

	files []sinkFile // files begun and not yet pre-committed, the last possibly still open
	next  int        // number of the next file to begin
	cur   *openFile
	rows  int64
	vals  []parquet.Value
	blob  []byte // scratch for encoded decimals
	err   error  // first failure; the writer can then only be aborted
	done  bool   // committed or aborted

	mu  sync.Mutex
	pre []sinkFile // pre-committed files not yet committed (guarded by mu)
}

// RollingPolicy says when a writer closes its file and begins the next one (as Flink's
// FileSink rolling policy; pyarrow's write_dataset calls the row limit
// max_rows_per_file). Zero fields do not limit. A checkpoint always closes the open file.
type RollingPolicy struct {
	// MaxRowsPerFile closes a file once it holds this many rows (exactly: a record
	// is split across files).
	MaxRowsPerFile int64
	// MaxBytesPerFile closes a file once its estimated size reaches this many bytes.
	// The estimate counts the row group being built before compression, so files
	// usually end up smaller; a file may pass the limit by at most one slice of
	// rollBytesRows rows.
	MaxBytesPerFile int64
	// RolloverInterval closes a file that has been open this long, at the next record
	// written to it.
	RolloverInterval time.Duration
	// Now is the clock of RolloverInterval; nil means time.Now.
	Now func() time.Time
}

// rollBytesRows is the slice of rows after which MaxBytesPerFile is checked.
const rollBytesRows = 8192

type sinkFile struct {
	tmp, final string
	rows       int64
}

type openFile struct {
	path   string // in-progress path
	f      *os.File
	enc    fileEncoder
	rows   int64
	rgRows int64
	opened time.Time
}

// fileEncoder writes the rows of one file in its format.
type fileEncoder interface {
	// write encodes rows [from, to) of rec.
	write(rec arrow.RecordBatch, from, to int) error
	// endRowGroup ends a row group (Parquet; a no-op for text).
	endRowGroup() error
	// size is the file's size so far, estimated.
	size() int64
	// close finishes the file (its footer, buffered data), not closing f.
	close() error
}

// parquetEncoder is the fileEncoder of Parquet files.
type parquetEncoder struct {
	w  *parquet.GenericWriter[any]
	fw *FileWriter
}

func (e *parquetEncoder) write(rec arrow.RecordBatch, from, to int) error {
	return e.fw.writeRows(e.w, rec, from, to)
}
func (e *parquetEncoder) endRowGroup() error { return e.w.Flush() }
func (e *parquetEncoder) size() int64        { return e.w.Size() }
func (e *parquetEncoder) close() error       { return e.w.Close() }

// NewParquetWriter returns a writer of records with the given schema, creating
// dir if needed. A file is closed and the next one begun once it holds
// maxRowsPerFile rows (0: one file). mem is accepted for symmetry with the
// readers: the Parquet encoder keeps its buffers on the Go heap.
//
// Column types map to Parquet as the inverse of the read mapping: nullable
// fields become optional columns; int8/16/32 and uint8/16/32/64 become INT32 or
// INT64 with an INT logical type; date32 becomes DATE; timestamps keep their
// unit (seconds are stored as milliseconds, Parquet having no seconds) and
// are marked adjusted to UTC when they have a time zone; utf8 and large_utf8
// become STRING, binary and large_binary plain BYTE_ARRAY; decimal128(p, s)
// becomes DECIMAL(p, s) in the fewest FIXED_LEN_BYTE_ARRAY bytes that hold p
// digits (as pyarrow writes it); durations become INT64. Other types are an
// rberr Type error. Like pyarrow, every file also stores the Arrow schema in
// its ARROW:schema metadata, which restores on reading what Parquet's types
// cannot say (time zone names, seconds, large types, durations).
func NewParquetWriter(dir, prefix string, schema *arrow.Schema, mem memory.Allocator, maxRowsPerFile int64) (*FileWriter, error) {
	_ = mem
	return NewRollingParquetWriter(dir, prefix, schema, RollingPolicy{MaxRowsPerFile: maxRowsPerFile})
}

// NewRollingParquetWriter is NewParquetWriter with a full rolling policy. Negative
// limits are an InvalidArgument error.
func NewRollingParquetWriter(dir, prefix string, schema *arrow.Schema, roll RollingPolicy) (*FileWriter, error) {
	if roll.MaxRowsPerFile < 0 || roll.MaxBytesPerFile < 0 || roll.RolloverInterval < 0 {
		return nil, rberr.New(rberr.InvalidArgument, "Parquet rolling policy limits must not be negative (got %d rows, %d bytes, %s)",
			roll.MaxRowsPerFile, roll.MaxBytesPerFile, roll.RolloverInterval)
	}
	if roll.Now == nil {
		roll.Now = time.Now
	}
	if prefix == "" || strings.ContainsAny(prefix, `/\`) || hidden(prefix) {
		return nil, rberr.New(rberr.InvalidArgument, "invalid Parquet file prefix %q", prefix)
	}
	fields := make(orderedGroup, 0, len(schema.Fields()))
	for _, f := range schema.Fields() {
		for _, g := range fields {
			if g.Name() == f.Name {
				return nil, rberr.New(rberr.Schema, "cannot write Parquet: column %q appears twice", f.Name)
			}
		}
		node, err := parquetNode(f)
		if err != nil {
			return nil, err
		}
		fields = append(fields, namedNode{Node: node, name: f.Name})
	}
	if len(fields) == 0 {
		return nil, rberr.New(rberr.Schema, "cannot write Parquet files without columns")
	}
	stored, err := encodeIPCSchema(arrow.NewSchema(schema.Fields(), nil))
	if err != nil {
		return nil, rberr.Wrap(rberr.Internal, err, "cannot serialize the Arrow schema for Parquet")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "cannot create output directory %q", dir)
	}
	return &FileWriter{
		dir: dir, prefix: prefix, schema: schema,
		pschema:      parquet.NewSchema("schema", fields),
		arrowSchema:  stored,
		ext:          ".parquet",
		roll:         roll,
		rowGroupRows: rowGroupRows,
	}, nil
}

// parquetNode maps an Arrow field to a Parquet leaf.
func parquetNode(f arrow.Field) (parquet.Node, error) {
	var n parquet.Node
	switch t := f.Type.(type) {
	case *arrow.BooleanType:
		n = parquet.Leaf(parquet.BooleanType)
	case *arrow.Int8Type:
		n = parquet.Int(8)
	case *arrow.Int16Type:
		n = parquet.Int(16)
	case *arrow.Int32Type:
		n = parquet.Leaf(parquet.Int32Type)
	case *arrow.Int64Type:
		n = parquet.Leaf(parquet.Int64Type)
	case *arrow.Uint8Type:
		n = parquet.Uint(8)
	case *arrow.Uint16Type:
		n = parquet.Uint(16)
	case *arrow.Uint32Type:
		n = parquet.Uint(32)
	case *arrow.Uint64Type:
		n = parquet.Uint(64)
	case *arrow.Float32Type:
		n = parquet.Leaf(parquet.FloatType)
	case *arrow.Float64Type:
		n = parquet.Leaf(parquet.DoubleType)
	case *arrow.Date32Type:
		n = parquet.Date()
	case *arrow.TimestampType:
		unit := parquet.Millisecond
		switch t.Unit {
		case arrow.Microsecond:
			unit = parquet.Microsecond
		case arrow.Nanosecond:
			unit = parquet.Nanosecond
		}
		n = parquet.TimestampAdjusted(unit, t.TimeZone != "")
	case *arrow.StringType, *arrow.LargeStringType:
		n = parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		n = parquet.Encoded(parquet.Leaf(parquet.ByteArrayType), &parquet.RLEDictionary)
	case *arrow.DurationType:
		n = parquet.Leaf(parquet.Int64Type)
	case *arrow.DictionaryType:
		// Written as its values (dictionary-encoded by the writer); the
		// ARROW:schema metadata restores the dictionary type on reading.
		switch t.ValueType.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
			return parquetNode(arrow.Field{Name: f.Name, Type: t.ValueType, Nullable: f.Nullable})
		}
		return nil, rberr.New(rberr.Type, "cannot write column %q of type %s to Parquet", f.Name, f.Type)
	case *arrow.Decimal128Type:
		if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
			return nil, rberr.New(rberr.Type, "cannot write column %q of type %s to Parquet: the scale must be between 0 and the precision", f.Name, f.Type)
		}
		n = parquet.Decimal(int(t.Scale), int(t.Precision), parquet.FixedLenByteArrayType(decimalBytes(t.Precision)))
	default:
		return nil, rberr.New(rberr.Type, "cannot write column %q of type %s to Parquet", f.Name, f.Type)
	}
	if f.Nullable {
		return parquet.Optional(n), nil
	}
	return parquet.Required(n), nil
}

// Write appends a record. Its schema must have the writer's field names and
// types; a null in a non-nullable field is an error.
func (w *FileWriter) Write(rec arrow.RecordBatch) error {
	if w.done {
		return rberr.New(rberr.InvalidArgument, "write to a Parquet writer that was already committed or aborted")
	}
	if w.err != nil {
		return w.err
	}
	if err := w.checkRecord(rec); err != nil {
		return err
	}
	n := rec.NumRows()
	for at := int64(0); at < n; {
		if w.cur != nil && w.roll.RolloverInterval > 0 && w.roll.Now().Sub(w.cur.opened) >= w.roll.RolloverInterval {
			if err := w.closeCurrent(); err != nil {
				return w.fail(err)
			}
		}
		if w.cur == nil {
			if err := w.openNext(); err != nil {
				return w.fail(err)
			}
		}
		k := min(n-at, w.rowGroupRows-w.cur.rgRows)
		if w.roll.MaxRowsPerFile > 0 {
			k = min(k, w.roll.MaxRowsPerFile-w.cur.rows)
		}
		if w.roll.MaxBytesPerFile > 0 {
			k = min(k, rollBytesRows)
		}
		if err := w.cur.enc.write(rec, int(at), int(at+k)); err != nil {
			return w.fail(err)
		}
		at += k
		w.rows += k
		w.cur.rows += k
		w.cur.rgRows += k
		w.files[len(w.files)-1].rows += k
		if w.cur.rgRows == w.rowGroupRows {
			if err := w.cur.enc.endRowGroup(); err != nil {
				return w.fail(w.ioErr(err))
			}
			w.cur.rgRows = 0
		}
		if (w.roll.MaxRowsPerFile > 0 && w.cur.rows >= w.roll.MaxRowsPerFile) ||
			(w.roll.MaxBytesPerFile > 0 && w.cur.enc.size() >= w.roll.MaxBytesPerFile) {
			if err := w.closeCurrent(); err != nil {
				return w.fail(err)
			}
		}
	}
	return nil
}

func (w *FileWriter) checkRecord(rec arrow.RecordBatch) error {
	got := rec.Schema()
	if got.NumFields() != w.schema.NumFields() {
		return rberr.New(rberr.Schema, "record with %d columns written to a %s writer of %d", got.NumFields(), w.formatName(), w.schema.NumFields())
	}
	for i, f := range w.schema.Fields() {
		g := got.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return rberr.New(rberr.Schema, "record column %d is %q %s where the %s writer expects %q %s", i, g.Name, g.Type, w.formatName(), f.Name, f.Type)
		}
		if !f.Nullable && rec.Column(i).NullN() > 0 {
			return rberr.New(rberr.Schema, "column %q is not nullable but the record has nulls in it", f.Name)
		}
	}
	return nil
}

// writeRows writes rows [from, to) of rec to the Parquet writer pw, column by
// column, in chunks.
func (w *FileWriter) writeRows(pw *parquet.GenericWriter[any], rec arrow.RecordBatch, from, to int) error {
	for c, cw := range pw.ColumnWriters() {
		arr := rec.Column(c)
		def := 0
		if w.schema.Field(c).Nullable {
			def = 1
		}
		for lo := from; lo < to; lo += writeChunkRows {
			hi := min(lo+writeChunkRows, to)
			w.vals = appendValues(w.vals[:0], arr, lo, hi, c, def, &w.blob)
			if _, err := cw.WriteRowValues(w.vals); err != nil {
				return w.ioErr(err)
			}
		}
	}
	clear(w.vals) // drop references to the record's memory
	return nil
}

// appendValues appends rows [from, to) of arr as Parquet values of column col.
// blob is scratch memory for values that need encoding; the values point into
// it until the next call.
func appendValues(vals []parquet.Value, arr arrow.Array, from, to, col, def int, blob *[]byte) []parquet.Value {
	switch a := arr.(type) {
	case *array.Duration:
		vals = appendInts(vals, a, a.DurationValues(), from, to, col, def, func(x arrow.Duration) parquet.Value { return parquet.Int64Value(int64(x)) })
	case *array.Decimal128:
		width := decimalBytes(a.DataType().(*arrow.Decimal128Type).Precision)
		if need := width * (to - from); cap(*blob) < need {
			*blob = make([]byte, need)
		}
		buf := (*blob)[:width*(to-from)]
		for i := from; i < to; i++ {
			vals = appendValue(vals, a, i, col, def, func() parquet.Value {
				b := buf[(i-from)*width : (i-from+1)*width]
				decimalBigEndian(b, a.Value(i))
				return parquet.FixedLenByteArrayValue(b)
			})
		}
	case *array.Boolean:
		for i := from; i < to; i++ {
			vals = appendValue(vals, a, i, col, def, func() parquet.Value { return parquet.BooleanValue(a.Value(i)) })
		}
	case *array.Int8:
		vals = appendInts(vals, a, a.Int8Values(), from, to, col, def, func(x int8) parquet.Value { return parquet.Int32Value(int32(x)) })
	case *array.Int16:
		vals = appendInts(vals, a, a.Int16Values(), from, to, col, def, func(x int16) parquet.Value { return parquet.Int32Value(int32(x)) })
	case *array.Int32:
		vals = appendInts(vals, a, a.Int32Values(), from, to, col, def, parquet.Int32Value)
	case *array.Int64:
		vals = appendInts(vals, a, a.Int64Values(), from, to, col, def, parquet.Int64Value)
	case *array.Uint8:
		vals = appendInts(vals, a, a.Uint8Values(), from, to, col, def, func(x uint8) parquet.Value { return parquet.Int32Value(int32(x)) })
	case *array.Uint16:
		vals = appendInts(vals, a, a.Uint16Values(), from, to, col, def, func(x uint16) parquet.Value { return parquet.Int32Value(int32(x)) })
	case *array.Uint32:
		vals = appendInts(vals, a, a.Uint32Values(), from, to, col, def, func(x uint32) parquet.Value { return parquet.Int32Value(int32(x)) })
	case *array.Uint64:
		vals = appendInts(vals, a, a.Uint64Values(), from, to, col, def, func(x uint64) parquet.Value { return parquet.Int64Value(int64(x)) })
	case *array.Float32:
		vals = appendInts(vals, a, a.Float32Values(), from, to, col, def, parquet.FloatValue)
	case *array.Float64:
		vals = appendInts(vals, a, a.Float64Values(), from, to, col, def, parquet.DoubleValue)
	case *array.Date32:
		vals = appendInts(vals, a, a.Date32Values(), from, to, col, def, func(x arrow.Date32) parquet.Value { return parquet.Int32Value(int32(x)) })
	case *array.Timestamp:
		scale := int64(1)
		if a.DataType().(*arrow.TimestampType).Unit == arrow.Second {
			scale = 1000
		}
		vals = appendInts(vals, a, a.TimestampValues(), from, to, col, def, func(x arrow.Timestamp) parquet.Value { return parquet.Int64Value(int64(x) * scale) })
	case *array.String:
		for i := from; i < to; i++ {
			vals = appendValue(vals, a, i, col, def, func() parquet.Value { return parquet.ByteArrayValue(stringBytes(a.Value(i))) })
		}
	case *array.LargeString:
		for i := from; i < to; i++ {
			vals = appendValue(vals, a, i, col, def, func() parquet.Value { return parquet.ByteArrayValue(stringBytes(a.Value(i))) })
		}
	case *array.Binary:
		for i := from; i < to; i++ {
			vals = appendValue(vals, a, i, col, def, func() parquet.Value { return parquet.ByteArrayValue(a.Value(i)) })
		}
	case *array.LargeBinary:
		for i := from; i < to; i++ {
			vals = appendValue(vals, a, i, col, def, func() parquet.Value { return parquet.ByteArrayValue(a.Value(i)) })
		}
	case *array.Dictionary:
		var value func(int) []byte
		switch d := a.Dictionary().(type) {
		case *array.String:
			value = func(j int) []byte { return stringBytes(d.Value(j)) }
		case *array.LargeString:
			value = func(j int) []byte { return stringBytes(d.Value(j)) }
		case *array.Binary:
			value = d.Value
		case *array.LargeBinary:
			value = d.Value
		default:
			panic(fmt.Sprintf("batch: unexpected dictionary of %T", d)) // ruled out by NewParquetWriter
		}
		for i := from; i < to; i++ {
			vals = appendValue(vals, a, i, col, def, func() parquet.Value { return parquet.ByteArrayValue(value(a.GetValueIndex(i))) })
		}
	default:
		panic(fmt.Sprintf("batch: unexpected array type %T", arr)) // ruled out by NewParquetWriter and checkRecord
	}
	return vals
}

func appendInts[T any](vals []parquet.Value, a arrow.Array, raw []T, from, to, col, def int, mk func(T) parquet.Value) []parquet.Value {
	if a.NullN() == 0 {
		for _, x := range raw[from:to] {
			vals = append(vals, mk(x).Level(0, def, col))
		}
		return vals
	}
	for i := from; i < to; i++ {
		if a.IsNull(i) {
			vals = append(vals, parquet.NullValue().Level(0, 0, col))
		} else {
			vals = append(vals, mk(raw[i]).Level(0, def, col))
		}
	}
	return vals
}

func appendValue(vals []parquet.Value, a arrow.Array, i, col, def int, mk func() parquet.Value) []parquet.Value {
	if a.IsNull(i) {
		return append(vals, parquet.NullValue().Level(0, 0, col))
	}
	return append(vals, mk().Level(0, def, col))
}

// decimalBytes is the fewest bytes whose two's complement holds every
// unscaled value of the precision (as pyarrow writes them).
func decimalBytes(precision int32) int {
	for n := 1; ; n++ {
		if math.Floor(math.Log10(2)*float64(8*n-1)) >= float64(precision) {
			return n
		}
	}
}

// decimalBigEndian writes v's low len(b) bytes big-endian into b.
func decimalBigEndian(b []byte, v decimal128.Num) {
	var le [16]byte
	binary.LittleEndian.PutUint64(le[0:], v.LowBits())
	binary.LittleEndian.PutUint64(le[8:], uint64(v.HighBits()))
	for j := range b {
		b[len(b)-1-j] = le[j]
	}
}

// stringBytes views s as bytes without copying; the Parquet writer copies
// values into its own buffers.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// openNext begins the next in-progress file.
func (w *FileWriter) openNext() error {
	name := fmt.Sprintf("%s-%05d%s", w.prefix, w.next, w.ext)
	sf := sinkFile{
		tmp:   filepath.Join(w.dir, "."+name+".inprogress"),
		final: filepath.Join(w.dir, name),
	}
	f, err := os.Create(sf.tmp)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "cannot create %s file %q", w.formatName(), sf.tmp)
	}
	w.files = append(w.files, sf)
	w.next++
	w.cur = &openFile{path: sf.tmp, f: f, opened: w.roll.Now()}
	if w.text != nil {
		w.cur.enc = newTextEncoder(f, w.schema, *w.text)
		return nil
	}
	opts := []parquet.WriterOption{
		w.pschema,
		parquet.Compression(&parquet.Snappy),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes),
		parquet.CreatedBy("riverbed", "", ""),
		parquet.KeyValueMetadata(arrowSchemaKey, w.arrowSchema),
	}
	for _, f := range w.schema.Fields() {
		if f.Type.ID() == arrow.DECIMAL128 {
			// The writer orders fixed-length decimals as unsigned bytes (min 1.00, max
			// -5.00 for -5.00, 1.00, 3.00), and readers that prune row groups by those
			// bounds skip rows that match: no bounds rather than wrong ones.
			opts = append(opts, parquet.SkipPageBounds(f.Name), parquet.SkipPageStatistics(f.Name))
		}
	}
	w.cur.enc = &parquetEncoder{fw: w, w: parquet.NewGenericWriter[any](f, opts...)}
	return nil
}

// closeCurrent writes the current file's footer and closes it.
func (w *FileWriter) closeCurrent() error {
	cur := w.cur
	w.cur = nil
	if err := cur.enc.close(); err != nil {
		cur.f.Close()
		return rberr.Wrap(rberr.IO, err, "cannot write %s file %q", w.formatName(), cur.path)
	}
	if err := cur.f.Sync(); err != nil {
		cur.f.Close()
		return rberr.Wrap(rberr.IO, err, "cannot write %s file %q", w.formatName(), cur.path)
	}
	if err := cur.f.Close(); err != nil {
		return rberr.Wrap(rberr.IO, err, "cannot write %s file %q", w.formatName(), cur.path)
	}
	return nil
}

func (w *FileWriter) ioErr(err error) error {
	return rberr.Wrap(rberr.IO, err, "cannot write %s file %q", w.formatName(), w.cur.path)
}

// formatName names the writer's format in messages.
func (w *FileWriter) formatName() string {
	if w.text == nil {
		return "Parquet"
	}
	if w.text.Format == NDJSON {
		return "NDJSON"
	}
	return "CSV"
}

func (w *FileWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// Commit finishes the last file and makes every file of the writer visible, those
// pre-committed (PreCommit) and not yet committed included, as one atomic commit
// (CommitAll). It returns the final paths, in order, and the number of rows written. A
// writer that never began a file commits one empty file, which keeps the schema. After a
// failed Commit, call Abort to remove the files not yet renamed.
func (w *FileWriter) Commit() (files []string, rows int64, err error) {
	committed, err := CommitAll(w.dir, []*FileWriter{w}, nil)
	if err != nil {
		return nil, 0, err
	}
	for _, f := range committed {
		files = append(files, f.Path)
	}
	return files, w.rows, nil
}

// finish closes the open file (beginning an empty one if the writer never began any)
// and returns the files to commit: the pre-committed ones, then the rest. The caller
// holds w.mu.
func (w *FileWriter) finish() ([]sinkFile, error) {
	if w.done {
		return nil, rberr.New(rberr.InvalidArgument, "Parquet writer was already committed or aborted")
	}
	if w.err != nil {
		return nil, w.err
	}
	if w.next == 0 {
		if err := w.openNext(); err != nil {
			return nil, w.fail(err)
		}
	}
	if w.cur != nil {
		if err := w.closeCurrent(); err != nil {
			return nil, w.fail(err)
		}
	}
	return append(append([]sinkFile(nil), w.pre...), w.files...), nil
}

// Abort closes and removes the in-progress files that were not pre-committed. It is a
// no-op after a successful Commit. Pre-committed files stay: they belong to a checkpoint,
// whose restore commits them (or removes them, if that checkpoint never completed).
func (w *FileWriter) Abort() error {
	if w.cur != nil {
		w.cur.f.Close()
		w.cur = nil
	}
	var first error
	for _, sf := range w.files {
		if err := os.Remove(sf.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = rberr.Wrap(rberr.IO, err, "cannot remove in-progress Parquet file %q", sf.tmp)
		}
	}
	w.files, w.done = nil, true
	return first
}

// orderedGroup is a Parquet group whose columns keep the Arrow schema's order
// (parquet.Group orders them by name).
type orderedGroup []parquet.Field

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return fmt.Sprintf("group of %d columns", len(g)) }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Fields() []parquet.Field     { return g }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }

func (g orderedGroup) GoType() reflect.Type {
	fields := make([]reflect.StructField, len(g))
	for i, f := range g {
		fields[i] = reflect.StructField{
			Name: "F" + strconv.Itoa(i),
			Type: f.GoType(),
			Tag:  reflect.StructTag(`parquet:` + strconv.Quote(f.Name())),
		}
	}
	return reflect.StructOf(fields)
}

// namedNode is a column of an orderedGroup.
type namedNode struct {
	parquet.Node
	name string
}

func (f namedNode) Name() string { return f.name }

// Value is used only when writing Go values, which this package never does.
func (f namedNode) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

// CheckAppend checks that records of schema can be appended to the Parquet
// files existing (a directory's files, as ResolvePaths lists them) so that the
// directory stays readable as one dataset: the same column names with the
// same types as riverbed reads them back. A difference is an rberr Schema
// error naming the column and a file.
func CheckAppend(existing []string, schema *arrow.Schema) error {
	if len(existing) == 0 {
		return nil
	}
	d, err := OpenParquet(existing)
	if err != nil {
		return err
	}
	file := d.Files[0]
	for _, f := range schema.Fields() {
		idx := d.Schema.FieldIndices(f.Name)
		if len(idx) == 0 {
			return rberr.New(rberr.Schema, "cannot append: column %q of the new data is not in the existing file %q", f.Name, file)
		}
		// Types that differ only in dictionary encoding read back together.
		if old := d.Schema.Field(idx[0]).Type; !arrow.TypeEqual(old, f.Type) && !sameUpToDictionary(old, f.Type) {
			return rberr.New(rberr.Schema, "cannot append: column %q is %s in the new data but %s in the existing file %q", f.Name, f.Type, old, file)
		}
	}
	for _, f := range d.Schema.Fields() {
		if len(schema.FieldIndices(f.Name)) == 0 {
			return rberr.New(rberr.Schema, "cannot append: column %q of the existing file %q is not in the new data", f.Name, file)
		}
	}
	return nil
}

// Rows returns the number of rows written so far.
func (w *FileWriter) Rows() int64 { return w.rows }
