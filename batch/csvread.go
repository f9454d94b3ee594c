package batch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
	"unicode/utf8"
)

// csvReader reads RFC 4180 records, as encoding/csv's Reader (whose structure it follows,
// and whose ParseError it returns) with two differences a round trip of CSV needs:
//
//   - a quoted field's line breaks are kept as they are: "x\r\ny" stays "x\r\ny"
//     (encoding/csv turns every \r\n into \n, inside quotes too);
//   - with keepEmpty, an empty line is a record of one empty field instead of being
//     skipped: in a file of one column it is that column's null (writers put an empty
//     line there).
//
// Lines end with \n or \r\n; a field with a quote must be quoted (a bare quote is an
// error); lines starting with the comment character are skipped.
type csvReader struct {
	br        *bufio.Reader
	comma     rune
	comment   rune
	keepEmpty bool

	numLine   int
	lineBuf   []byte
	fieldBuf  []byte
	fieldEnds []int
	fieldPos  []csvPos
	record    []string
}

type csvPos struct{ line, col int }

func newCSVReader(br *bufio.Reader, comma, comment rune) *csvReader {
	return &csvReader{br: br, comma: comma, comment: comment}
}

// readLine reads the next line, its line ending included (a \r just before the end of
// the input is dropped, as encoding/csv does).
func (r *csvReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.lineBuf = append(r.lineBuf[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.br.ReadSlice('\n')
			r.lineBuf = append(r.lineBuf, line...)
		}
		line = r.lineBuf
	}
	if n := len(line); n > 0 && err == io.EOF {
		err = nil
		if line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	r.numLine++
	return line, err
}

// lengthNL is the length of b's line ending (\n or \r\n) at its end.
func lengthNL(b []byte) int {
	n := len(b)
	switch {
	case n >= 2 && b[n-2] == '\r' && b[n-1] == '\n':
		return 2
	case n >= 1 && b[n-1] == '\n':
		return 1
	}
	return 0
}

func nextRune(b []byte) rune {
	r, _ := utf8.DecodeRune(b)
	return r
}

// FieldPos is the line and the column (1-based, in bytes) where field i of the record
// Read last begins.
func (r *csvReader) FieldPos(i int) (line, col int) {
	if i < 0 || i >= len(r.fieldPos) {
		return r.numLine, 1
	}
	p := r.fieldPos[i]
	return p.line, p.col
}

// Read returns the next record (valid until the next call), or io.EOF after the last.
func (r *csvReader) Read() ([]string, error) {
	const quoteLen = 1
	commaLen := utf8.RuneLen(r.comma)
	var line []byte
	var errRead error
	for errRead == nil {
		line, errRead = r.readLine()
		if r.comment != 0 && nextRune(line) == r.comment {
			line = nil
			continue
		}
		if errRead == nil && len(line) == lengthNL(line) {
			if r.keepEmpty {
				r.fieldPos = append(r.fieldPos[:0], csvPos{line: r.numLine, col: 1})
				r.record = append(r.record[:0], "")
				return r.record, nil
			}
			line = nil
			continue
		}
		break
	}
	if errRead == io.EOF {
		return nil, errRead
	}
	if errRead != nil {
		return nil, errRead
	}

	var err error
	recLine := r.numLine
	r.fieldBuf = r.fieldBuf[:0]
	r.fieldEnds = r.fieldEnds[:0]
	r.fieldPos = r.fieldPos[:0]
	pos := csvPos{line: r.numLine, col: 1}
	var sep [utf8.UTFMax]byte
	comma := sep[:utf8.EncodeRune(sep[:], r.comma)]
parseField:
	for {
		if len(line) == 0 || line[0] != '"' {
			// A field without quotes: up to the separator or the line's end.
			i := bytes.Index(line, comma)
			field := line
			if i >= 0 {
				field = field[:i]
			} else {
				field = field[:len(field)-lengthNL(field)]
			}
			if j := bytes.IndexByte(field, '"'); j >= 0 {
				err = &csv.ParseError{StartLine: recLine, Line: r.numLine, Column: pos.col + j, Err: csv.ErrBareQuote}
				break parseField
			}
			r.fieldBuf = append(r.fieldBuf, field...)
			r.fieldEnds = append(r.fieldEnds, len(r.fieldBuf))
			r.fieldPos = append(r.fieldPos, pos)
			if i >= 0 {
				line = line[i+commaLen:]
				pos.col += i + commaLen
				continue parseField
			}
			break parseField
		}
		// A quoted field: up to its closing quote, over lines if need be.
		fieldPos := pos
		line = line[quoteLen:]
		pos.col += quoteLen
		for {
			i := bytes.IndexByte(line, '"')
			switch {
			case i >= 0:
				r.fieldBuf = append(r.fieldBuf, line[:i]...)
				line = line[i+quoteLen:]
				pos.col += i + quoteLen
				switch rn := nextRune(line); {
				case rn == '"': // "" is a quote
					r.fieldBuf = append(r.fieldBuf, '"')
					line = line[quoteLen:]
					pos.col += quoteLen
				case rn == r.comma && len(line) > 0: // end of the field
					line = line[commaLen:]
					pos.col += commaLen
					r.fieldEnds = append(r.fieldEnds, len(r.fieldBuf))
					r.fieldPos = append(r.fieldPos, fieldPos)
					continue parseField
				case lengthNL(line) == len(line): // end of the record
					r.fieldEnds = append(r.fieldEnds, len(r.fieldBuf))
					r.fieldPos = append(r.fieldPos, fieldPos)
					break parseField
				default:
					err = &csv.ParseError{StartLine: recLine, Line: r.numLine, Column: pos.col - quoteLen, Err: csv.ErrQuote}
					break parseField
				}
			case len(line) > 0:
				// The line ends inside the quotes: its line break is part of the field.
				r.fieldBuf = append(r.fieldBuf, line...)
				if errRead != nil {
					break parseField
				}
				pos.col += len(line)
				line, errRead = r.readLine()
				if len(line) > 0 {
					pos.line++
					pos.col = 1
				}
				if errRead == io.EOF {
					errRead = nil
				}
			default:
				// The input ends inside the quotes.
				if errRead == nil {
					err = &csv.ParseError{StartLine: recLine, Line: pos.line, Column: pos.col, Err: csv.ErrQuote}
					break parseField
				}
				r.fieldEnds = append(r.fieldEnds, len(r.fieldBuf))
				r.fieldPos = append(r.fieldPos, fieldPos)
				break parseField
			}
		}
	}
	if err == nil {
		err = errRead
	}
	if err != nil {
		return nil, err
	}
	// One string for the record, its fields slices of it.
	str := string(r.fieldBuf)
	r.record = r.record[:0]
	prev := 0
	for _, end := range r.fieldEnds {
		r.record = append(r.record, str[prev:end])
		prev = end
	}
	return r.record, nil
}
