package batch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// TextFormat is a text file format that TextDataset reads.
type TextFormat string

const (
	// CSV is comma- (or otherwise) separated values, RFC 4180 quoting, one row per
	// record, optionally with a header.
	CSV TextFormat = "csv"
	// NDJSON is newline-delimited JSON: one JSON object per line.
	NDJSON TextFormat = "ndjson"
)

// DefaultInferRows is how many rows a read without a schema samples to infer one
// (Polars' infer_schema_length).
const DefaultInferRows = 100

// TextOptions configure OpenText.
type TextOptions struct {
	Format TextFormat
	// Schema is the schema of the rows; nil: inferred from the first InferRows rows
	// (of the files in order). For CSV with a header, its names are looked up in each
	// file's header (in any order; other columns of the file are not read); without
	// a header the schema gives the columns in order.
	Schema *arrow.Schema
	// InferRows is how many rows inference samples: 0 means DefaultInferRows,
	// negative means every row of every file.
	InferRows int
	// CSV only. HasHeader: the first record of each file names its columns
	// (without one, columns are named column_1, column_2, ... as Polars names them).
	HasHeader bool
	// Separator between fields (default ','); Comment, if not 0, starts a comment line.
	Separator rune
	Comment   rune
	// NullValues are field texts read as null, besides the empty field.
	NullValues []string
}

// TextDataset is a set of CSV or NDJSON files read as one table: one split per file.
type TextDataset struct {
	Files  []string
	Schema *arrow.Schema
	// Inferred says that Schema was inferred from a sample.
	Inferred bool
	opts     TextOptions
	nulls    map[string]bool
}

func (o TextOptions) what() string {
	if o.Format == NDJSON {
		return "read_ndjson"
	}
	return "read_csv"
}

// OpenText checks the options and settles the schema of files: the given one, or
// one inferred from a sample of rows. Errors are rberr errors naming the file
// (and line) at fault: Schema when no schema can be inferred or a header lacks a
// column, Data for malformed text, IO when a file cannot be read.
func OpenText(files []string, opts TextOptions) (*TextDataset, error) {
	what := opts.what()
	switch opts.Format {
	case CSV, NDJSON:
	default:
		return nil, rberr.New(rberr.InvalidArgument, "unknown text format %q (want csv or ndjson)", opts.Format)
	}
	if opts.Separator == 0 {
		opts.Separator = ','
	}
	if opts.Format == CSV {
		if !textcodec.ValidDelimiter(opts.Separator) {
			return nil, rberr.New(rberr.InvalidArgument, "%s: separator %q is not allowed", what, opts.Separator)
		}
		if opts.Comment != 0 && (opts.Comment == opts.Separator || !textcodec.ValidDelimiter(opts.Comment)) {
			return nil, rberr.New(rberr.InvalidArgument, "%s: comment_prefix %q is not allowed", what, opts.Comment)
		}
	}
	if opts.InferRows == 0 {
		opts.InferRows = DefaultInferRows
	}
	d := &TextDataset{Files: files, opts: opts, nulls: map[string]bool{"": true}}
	for _, v := range opts.NullValues {
		d.nulls[v] = true
	}
	if opts.Schema != nil {
		if opts.Schema.NumFields() == 0 {
			return nil, rberr.New(rberr.Schema, "%s: the schema has no columns", what)
		}
		seen := map[string]bool{}
		for _, f := range opts.Schema.Fields() {
			if seen[f.Name] {
				return nil, rberr.New(rberr.Schema, "%s: column %q appears twice in the schema", what, f.Name)
			}
			seen[f.Name] = true
			if err := textcodec.CheckType(f.Name, f.Type, opts.Format == NDJSON); err != nil {
				return nil, rberr.Wrap(rberr.Type, err, "%s cannot read", what)
			}
		}
		d.Schema = opts.Schema
		return d, nil
	}
	var err error
	if opts.Format == CSV {
		d.Schema, err = d.inferCSV()
	} else {
		d.Schema, err = d.inferNDJSON()
	}
	if err != nil {
		return nil, err
	}
	d.Inferred = true
	return d, nil
}

func (d *TextDataset) isNull(s string) bool { return d.nulls[s] }

// openText opens a file for reading: gunzipped if its name ends in .gz, past a
// UTF-8 byte order mark.
func openText(path string) (io.ReadCloser, *bufio.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, rberr.Wrap(rberr.IO, err, "cannot open %q", path)
	}
	var rc io.ReadCloser = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil && err != io.EOF {
			f.Close()
			return nil, nil, rberr.Wrap(rberr.Data, err, "file %q is not gzip data", path)
		}
		if err == io.EOF {
			z = nil
		}
		rc = &gzipFile{z: z, f: f}
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return rc, br, nil
}

type gzipFile struct {
	z *gzip.Reader // nil: the file is empty
	f *os.File
}

func (g *gzipFile) Read(p []byte) (int, error) {
	if g.z == nil {
		return 0, io.EOF
	}
	return g.z.Read(p)
}

func (g *gzipFile) Close() error { return g.f.Close() }

// readErr wraps a failure to read path (gzip damage included) as an error naming it.
func readErr(path string, err error) error {
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		return rberr.Wrap(rberr.Data, err, "file %q is damaged", path)
	}
	return rberr.Wrap(rberr.IO, err, "cannot read %q", path)
}

// ---- CSV ----

func (d *TextDataset) newCSVReader(br *bufio.Reader) *csvReader {
	return newCSVReader(br, d.opts.Separator, d.opts.Comment)
}

// csvErr turns an error of encoding/csv into one naming the file and line.
func csvErr(what, path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return rberr.New(rberr.Data, "%s: file %q line %d, character %d: malformed CSV: %v", what, path, pe.Line, pe.Column, pe.Err)
	}
	return readErr(path, err)
}

// csvHeader reads the header of a file (nil for an empty file).
func (d *TextDataset) csvHeader(path string, r *csvReader) ([]string, error) {
	rec, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvErr(d.opts.what(), path, err)
	}
	names := slices.Clone(rec)
	seen := map[string]bool{}
	for _, n := range names {
		if strings.Contains(n, "\r") {
			// Lines ended by \r alone (classic Mac OS) would read as one line of garbled names.
			return nil, rberr.New(rberr.Data, "%s: file %q: the header holds a carriage return: are its lines ended by \\r alone? Only \\n and \\r\\n end lines; convert the file", d.opts.what(), path)
		}
		if !utf8.ValidString(n) {
			return nil, rberr.New(rberr.Data, "%s: file %q: the header is not valid UTF-8", d.opts.what(), path)
		}
		if seen[n] {
			return nil, rberr.New(rberr.Schema, "%s: file %q: column %q appears twice in the header", d.opts.what(), path, n)
		}
		seen[n] = true
	}
	return names, nil
}

func defaultNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("column_%d", i+1)
	}
	return names
}

func (d *TextDataset) inferCSV() (*arrow.Schema, error) {
	what := d.opts.what()
	var names []string
	var inf textcodec.CSVInferrer
	rows := 0
	for _, path := range d.Files {
		if d.opts.InferRows > 0 && rows >= d.opts.InferRows {
			break
		}
		err := func() error {
			rc, br, err := openText(path)
			if err != nil {
				return err
			}
			defer rc.Close()
			r := d.newCSVReader(br)
			var header []string // this file's
			var at []int        // by column of names: its field in this file's rows (-1: none)
			if d.opts.HasHeader {
				h, err := d.csvHeader(path, r)
				if err != nil || h == nil {
					return err
				}
				if names == nil {
					names = h
				}
				header = h
				r.keepEmpty = len(h) == 1 // an empty line is the one column's null
				// Later files may order the columns otherwise: they are matched by name.
				for _, n := range names {
					at = append(at, slices.Index(h, n))
				}
			}
			var row []string
			for d.opts.InferRows < 0 || rows < d.opts.InferRows {
				rec, err := r.Read()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return csvErr(what, path, err)
				}
				if names == nil {
					names = defaultNames(len(rec))
				}
				r.keepEmpty = len(names) == 1
				width := len(names)
				if header != nil {
					width = len(header)
				}
				if len(rec) != width {
					line, _ := r.FieldPos(0)
					return rberr.New(rberr.Data, "%s: file %q line %d: %d fields where the %s has %d", what, path, line, len(rec), headerWord(d.opts.HasHeader), width)
				}
				if at != nil {
					row = row[:0]
					for _, k := range at {
						if k < 0 {
							row = append(row, "") // a null
						} else {
							row = append(row, rec[k])
						}
					}
					rec = row
				}
				inf.Add(rec, d.isNull)
				rows++
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	if names == nil {
		return nil, rberr.New(rberr.Schema, "%s: cannot infer a schema: every file is empty (%s); pass schema=", what, fileList(d.Files))
	}
	types := inf.Types(len(names))
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: types[i], Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// fileList names files in a message: all of them, or the first three and how many more.
func fileList(files []string) string {
	var b strings.Builder
	for i, f := range files {
		if i == 3 {
			fmt.Fprintf(&b, " and %d more", len(files)-3)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", f)
	}
	return b.String()
}

func headerWord(header bool) string {
	if header {
		return "header"
	}
	return "first row"
}

// ---- NDJSON ----

// lineReader reads the lines of a file, counting them, skipping blank ones.
type lineReader struct {
	br   *bufio.Reader
	line int64 // number of the line last returned (1-based)
	long []byte
}

// next returns the next non-blank line (valid until the next call), or io.EOF.
func (l *lineReader) next() ([]byte, error) {
	for {
		b, err := l.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			l.long = append(l.long[:0], b...)
			for err == bufio.ErrBufferFull {
				b, err = l.br.ReadSlice('\n')
				l.long = append(l.long, b...)
			}
			b = l.long
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(b) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		l.line++
		if len(bytes.TrimSpace(b)) > 0 {
			return b, nil
		}
		if err == io.EOF {
			return nil, io.EOF
		}
	}
}

func (d *TextDataset) inferNDJSON() (*arrow.Schema, error) {
	what := d.opts.what()
	var inf textcodec.JSONInferrer
	rows := 0
	for _, path := range d.Files {
		if d.opts.InferRows > 0 && rows >= d.opts.InferRows {
			break
		}
		err := func() error {
			rc, br, err := openText(path)
			if err != nil {
				return err
			}
			defer rc.Close()
			lr := &lineReader{br: br}
			for d.opts.InferRows < 0 || rows < d.opts.InferRows {
				b, err := lr.next()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return readErr(path, err)
				}
				ok, err := inf.Add(b)
				if err != nil {
					return rberr.New(rberr.Schema, "%s: cannot infer a schema (file %q line %d): %v; pass schema=", what, path, lr.line, err)
				}
				if !ok {
					// Say what is wrong with the line: the decoder's message.
					_, perr := textcodec.ParseJSONRow(arrow.NewSchema(nil, nil), b)
					if perr == nil {
						perr = errors.New("not one JSON object")
					}
					return rberr.New(rberr.Data, "%s: file %q line %d: %v", what, path, lr.line, perr)
				}
				rows++
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	if inf.Objects() == 0 {
		return nil, rberr.New(rberr.Schema, "%s: cannot infer a schema: the files hold no JSON object (%s); pass schema=", what, fileList(d.Files))
	}
	fs := inf.Fields()
	if len(fs) == 0 {
		return nil, rberr.New(rberr.Schema, "%s: cannot infer a schema: the sampled objects of %s have no fields; pass schema=", what, fileList(d.Files))
	}
	return arrow.NewSchema(fs, nil), nil
}

// ---- reading a file ----

// TextReader reads one file of a TextDataset in batches.
type TextReader struct {
	d      *TextDataset
	path   string
	rc     io.ReadCloser
	schema *arrow.Schema // projected
	json   *textcodec.JSONRowParser
	bld    *array.RecordBuilder
	batch  int
	row    int64 // rows read so far (data rows, header excluded)
	done   bool

	// CSV
	csv   *csvReader
	width int   // fields per record
	src   []int // by projected column: its field in the record
	conv  []func(string) error
	// NDJSON
	lines *lineReader
}

// OpenFile returns a reader of file i's projected columns (indexes into Schema) in
// batches of at most batchSize rows, from data row skip on (the rows before it are
// read but not decoded).
func (d *TextDataset) OpenFile(i int, projection []int, mem memory.Allocator, batchSize int, skip int64) (*TextReader, error) {
	if batchSize <= 0 {
		batchSize = 64 * 1024
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	fields := make([]arrow.Field, len(projection))
	for j, p := range projection {
		fields[j] = d.Schema.Field(p)
	}
	path := d.Files[i]
	r := &TextReader{d: d, path: path, schema: arrow.NewSchema(fields, nil), batch: batchSize}
	rc, br, err := openText(path)
	if err != nil {
		return nil, err
	}
	r.rc = rc
	if err := r.init(br, projection, mem); err != nil {
		rc.Close()
		r.release()
		return nil, err
	}
	for r.row < skip {
		if err := r.skipRow(); err == io.EOF {
			break
		} else if err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *TextReader) init(br *bufio.Reader, projection []int, mem memory.Allocator) error {
	d := r.d
	what := d.opts.what()
	r.bld = array.NewRecordBuilder(mem, r.schema)
	if d.opts.Format == NDJSON {
		r.lines = &lineReader{br: br}
		return nil
	}
	r.csv = d.newCSVReader(br)
	r.src = make([]int, len(projection))
	if d.opts.HasHeader {
		h, err := d.csvHeader(r.path, r.csv)
		if err != nil {
			return err
		}
		if h == nil {
			r.done = true // an empty file: no rows
			return nil
		}
		r.width = len(h)
		for j, f := range r.schema.Fields() {
			k := slices.Index(h, f.Name)
			if k < 0 {
				return rberr.New(rberr.Schema, "%s: file %q has no column %q (its header: %s)", what, r.path, f.Name, strings.Join(h, ", "))
			}
			r.src[j] = k
		}
	} else {
		r.width = d.Schema.NumFields()
		copy(r.src, projection)
	}
	r.csv.keepEmpty = r.width == 1 // an empty line is the one column's null
	r.conv = make([]func(string) error, len(projection))
	for j, f := range r.schema.Fields() {
		c, err := textcodec.CSVAppender(f, r.bld.Field(j), d.isNull)
		if err != nil {
			return rberr.Wrap(rberr.Type, err, "%s cannot read", what)
		}
		r.conv[j] = c
	}
	return nil
}

// Schema is the schema of the batches: the projected columns.
func (r *TextReader) Schema() *arrow.Schema { return r.schema }

// Row is the number of data rows read so far: where the next batch starts.
func (r *TextReader) Row() int64 { return r.row }

func (r *TextReader) skipRow() error {
	if r.done {
		return io.EOF
	}
	if r.lines != nil {
		if _, err := r.lines.next(); err != nil {
			if err != io.EOF {
				return readErr(r.path, err)
			}
			return err
		}
		r.row++
		return nil
	}
	rec, err := r.csv.Read()
	if err == io.EOF {
		return err
	}
	if err != nil {
		return csvErr(r.d.opts.what(), r.path, err)
	}
	if len(rec) != r.width {
		return r.widthErr(len(rec))
	}
	r.row++
	return nil
}

func (r *TextReader) widthErr(n int) error {
	line, _ := r.csv.FieldPos(0)
	return rberr.New(rberr.Data, "%s: file %q line %d: %d fields where the %s has %d", r.d.opts.what(), r.path, line, n, headerWord(r.d.opts.HasHeader), r.width)
}

// Next returns the next batch (the caller releases it), or io.EOF after the last.
// A row that cannot be read is a Data error naming the file, its line and the
// column.
func (r *TextReader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.done {
		return nil, io.EOF
	}
	n := 0
	for n < r.batch {
		if n%1024 == 0 && ctx != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var err error
		if r.lines != nil {
			err = r.nextJSON()
		} else {
			err = r.nextCSV()
		}
		if err == io.EOF {
			r.done = true
			break
		}
		if err != nil {
			// The row may be half appended: the reader ends here (the batch begun is
			// dropped with the builder when the reader is closed).
			r.done = true
			return nil, err
		}
		n++
		r.row++
	}
	if n == 0 {
		return nil, io.EOF
	}
	return r.bld.NewRecordBatch(), nil
}

func (r *TextReader) nextCSV() error {
	rec, err := r.csv.Read()
	if err == io.EOF {
		return err
	}
	if err != nil {
		return csvErr(r.d.opts.what(), r.path, err)
	}
	if len(rec) != r.width {
		return r.widthErr(len(rec))
	}
	for j, c := range r.conv {
		k := r.src[j]
		if err := c(rec[k]); err != nil {
			line, col := r.csv.FieldPos(k)
			return rberr.New(rberr.Data, "%s: file %q line %d, character %d: column %s", r.d.opts.what(), r.path, line, col, strings.TrimPrefix(err.Error(), "field "))
		}
	}
	return nil
}

func (r *TextReader) nextJSON() error {
	b, err := r.lines.next()
	if err == io.EOF {
		return err
	}
	if err != nil {
		return readErr(r.path, err)
	}
	if r.json == nil {
		r.json = textcodec.NewJSONRowParser(r.schema)
	}
	row, err := r.json.Parse(b)
	if err != nil {
		return rberr.New(rberr.Data, "%s: file %q line %d: %v", r.d.opts.what(), r.path, r.lines.line, err)
	}
	for j, v := range row {
		textcodec.AppendValue(r.bld.Field(j), v)
	}
	return nil
}

func (r *TextReader) release() {
	if r.bld != nil {
		r.bld.Release()
		r.bld = nil
	}
}

// Close frees the reader.
func (r *TextReader) Close() {
	r.release()
	if r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
}
