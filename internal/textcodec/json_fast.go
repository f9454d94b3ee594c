package textcodec

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// JSONFlatReader is a fast path of JSONRowParser for schemas of scalar columns: it reads
// the commonest form of a JSON object (ASCII or valid UTF-8, spaces only between tokens,
// no escaped surrogates, no value it would have to reject) straight from the bytes into
// scratch values, and appends them to Arrow builders without an intermediate row. For
// any document outside that form, and for every document JSONRowParser would reject,
// Read reports false, and the caller reads the document with JSONRowParser.Parse (which
// then gives the result, or the error, as it always has). A document Read accepts reads
// exactly as JSONRowParser reads it. A JSONFlatReader is not safe for concurrent use.
type JSONFlatReader struct {
	cols  []flatCol
	index map[string]int
	hint  []int // per key position: the column the key at that position named last time
	buf   []byte
}

type flatKind uint8

const (
	flatBool flatKind = iota
	flatInt
	flatUint
	flatFloat32
	flatFloat64
	flatString
	flatBinary
	flatTimestamp
	flatDate32
)

type flatCol struct {
	name []byte
	// plainName: the name is printable ASCII without quotes or backslashes, so a key
	// whose bytes are the name's followed by a quote is the name
	plainName bool
	kind      flatKind
	nullable  bool
	typ       arrow.DataType
	lo, hi    int64  // flatInt bounds
	uhi       uint64 // flatUint bound
	unit      arrow.TimeUnit
	// the scratch value of the current document
	set  bool // present and not null
	i    int64
	u    uint64
	f    float64
	b    bool
	s    []byte // into the document or the reader's buf
	sOff int    // with sBuf: the value is buf[sOff:sOff+len(s)] (buf may move)
	sBuf bool
	// string and binary bytes and rows appended since the last Reserve
	bytes, rows int
}

// NewJSONFlatReader returns the fast reader of schema, or nil when a column's type is
// not a scalar it reads (structs, lists).
func NewJSONFlatReader(schema *arrow.Schema) *JSONFlatReader {
	r := &JSONFlatReader{index: make(map[string]int, schema.NumFields())}
	for _, f := range schema.Fields() {
		c := flatCol{name: []byte(f.Name), nullable: f.Nullable, typ: f.Type, plainName: true}
		for _, b := range c.name {
			if b < 0x20 || b >= 0x80 || b == '"' || b == '\\' {
				c.plainName = false
			}
		}
		switch t := f.Type.(type) {
		case *arrow.BooleanType:
			c.kind = flatBool
		case *arrow.Float32Type:
			c.kind = flatFloat32
		case *arrow.Float64Type:
			c.kind = flatFloat64
		case *arrow.StringType, *arrow.LargeStringType:
			c.kind = flatString
		case *arrow.BinaryType, *arrow.LargeBinaryType:
			c.kind = flatBinary
		case *arrow.TimestampType:
			c.kind, c.unit = flatTimestamp, t.Unit
		case *arrow.Date32Type:
			c.kind = flatDate32
		default:
			if !IsInteger(t) {
				return nil
			}
			var signed bool
			c.lo, c.hi, c.uhi, signed = intRange(t)
			c.kind = flatUint
			if signed {
				c.kind = flatInt
			}
		}
		if _, dup := r.index[f.Name]; !dup {
			r.index[f.Name] = len(r.cols)
		} else {
			return nil // a name twice in the schema: leave it to JSONRowParser
		}
		r.cols = append(r.cols, c)
	}
	return r
}

// Read reads one JSON object (value) into the reader's scratch row, reporting whether it
// could (see JSONFlatReader); Append then appends the row.
func (r *JSONFlatReader) Read(value []byte) bool {
	if value == nil {
		return false
	}
	for i := range r.cols {
		r.cols[i].set, r.cols[i].sBuf = false, false
	}
	r.buf = r.buf[:0]
	v := trimJSONSpace(value)
	if len(v) < 2 || v[0] != '{' {
		return false
	}
	p := skipSpaces(v, 1)
	if p < len(v) && v[p] == '}' {
		p++
	} else {
		for k := 0; ; k++ {
			if p >= len(v) || v[p] != '"' {
				return false
			}
			var ci int
			if h, q, ok := r.sameKey(k, v, p+1); ok {
				ci, p = h, q
			} else {
				key, q, ok := rawKey(v, p+1)
				if !ok {
					return false
				}
				ci, p = r.lookup(k, key), q
			}
			p = skipSpaces(v, p)
			if p >= len(v) || v[p] != ':' {
				return false
			}
			p = skipSpaces(v, p+1)
			var ok bool
			if ci < 0 {
				p, ok = skipValue(v, p, 0)
			} else {
				p, ok = r.readValue(&r.cols[ci], v, p)
			}
			if !ok {
				return false
			}
			p = skipSpaces(v, p)
			if p >= len(v) {
				return false
			}
			if v[p] == '}' {
				p++
				break
			}
			if v[p] != ',' {
				return false
			}
			p = skipSpaces(v, p+1)
		}
	}
	if p != len(v) {
		return false
	}
	for i := range r.cols {
		c := &r.cols[i]
		if !c.set && !c.nullable {
			return false
		}
		if c.set && c.sBuf {
			c.s = r.buf[c.sOff : c.sOff+len(c.s)]
		}
	}
	return true
}

// sameKey reports whether the key starting at p (after its opening quote) is the k-th key
// of the previous object, a plain name, and if so returns its column and the position
// after its closing quote.
func (r *JSONFlatReader) sameKey(k int, v []byte, p int) (int, int, bool) {
	if k >= len(r.hint) || r.hint[k] < 0 {
		return 0, 0, false
	}
	c := &r.cols[r.hint[k]]
	end := p + len(c.name)
	if !c.plainName || end >= len(v) || v[end] != '"' || !bytes.Equal(v[p:end], c.name) {
		return 0, 0, false
	}
	return r.hint[k], end + 1, true
}

// lookup is the column of the k-th key of an object, or -1: first the column the k-th
// key named in the previous object, then by name.
func (r *JSONFlatReader) lookup(k int, key []byte) int {
	if k < len(r.hint) {
		if h := r.hint[k]; h >= 0 && bytes.Equal(r.cols[h].name, key) {
			return h
		}
	}
	ci, ok := r.index[string(key)]
	if !ok {
		ci = -1
	}
	if k < len(r.hint) {
		r.hint[k] = ci
	} else if k == len(r.hint) && k < 256 {
		r.hint = append(r.hint, ci)
	}
	return ci
}

// Append appends the row Read read to bs, the builders of the schema's columns.
func (r *JSONFlatReader) Append(bs []array.Builder) {
	for i := range r.cols {
		c := &r.cols[i]
		b := bs[i]
		if !c.set {
			b.AppendNull()
			continue
		}
		switch c.kind {
		case flatBool:
			b.(*array.BooleanBuilder).Append(c.b)
		case flatInt:
			switch b := b.(type) {
			case *array.Int64Builder:
				b.Append(c.i)
			case *array.Int32Builder:
				b.Append(int32(c.i))
			case *array.Int16Builder:
				b.Append(int16(c.i))
			default:
				b.(*array.Int8Builder).Append(int8(c.i))
			}
		case flatUint:
			switch b := b.(type) {
			case *array.Uint64Builder:
				b.Append(c.u)
			case *array.Uint32Builder:
				b.Append(uint32(c.u))
			case *array.Uint16Builder:
				b.Append(uint16(c.u))
			default:
				b.(*array.Uint8Builder).Append(uint8(c.u))
			}
		case flatFloat32:
			b.(*array.Float32Builder).Append(float32(c.f))
		case flatFloat64:
			b.(*array.Float64Builder).Append(c.f)
		case flatString, flatBinary:
			c.bytes += len(c.s)
			c.rows++
			switch b := b.(type) {
			case *array.StringBuilder:
				b.BinaryBuilder.Append(c.s)
			case *array.LargeStringBuilder:
				b.BinaryBuilder.Append(c.s)
			default:
				b.(*array.BinaryBuilder).Append(c.s)
			}
		case flatTimestamp:
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(c.i))
		case flatDate32:
			b.(*array.Date32Builder).Append(arrow.Date32(c.i))
		}
	}
}

// Reserve makes room in bs (the builders of the schema's columns) for rows more rows:
// in string and binary columns, as many bytes as the rows appended since the last
// Reserve had on average, and an eighth more (so that slightly longer values do not
// double the buffer).
func (r *JSONFlatReader) Reserve(bs []array.Builder, rows int) {
	for i := range r.cols {
		c := &r.cols[i]
		bs[i].Reserve(rows)
		if c.rows > 0 {
			n := (c.bytes/c.rows + 1) * rows
			n += n / 8
			switch b := bs[i].(type) {
			case *array.StringBuilder:
				b.ReserveData(n)
			case *array.LargeStringBuilder:
				b.ReserveData(n)
			case *array.BinaryBuilder:
				b.ReserveData(n)
			}
		}
		c.bytes, c.rows = 0, 0
	}
}

func trimJSONSpace(v []byte) []byte {
	for len(v) > 0 && isJSONSpace(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isJSONSpace(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return v
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// skipSpaces skips blanks; tabs and line breaks inside a document are left to
// JSONRowParser.
func skipSpaces(v []byte, p int) int {
	for p < len(v) && v[p] == ' ' {
		p++
	}
	return p
}

// rawKey reads an object key starting after its opening quote: keys with escapes or
// bytes that are not printable ASCII are not read.
func rawKey(v []byte, p int) (key []byte, next int, ok bool) {
	start := p
	for p < len(v) {
		c := v[p]
		if c == '"' {
			return v[start:p], p + 1, true
		}
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return nil, 0, false
		}
		p++
	}
	return nil, 0, false
}

// strSpecial marks the bytes that end a run of plain string bytes: the closing quote, a
// backslash, control characters and the bytes of non-ASCII UTF-8.
var strSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

// readString reads a string value starting after its opening quote, unescaping into
// r.buf when it has escapes.
func (r *JSONFlatReader) readString(v []byte, p int) (s []byte, inBuf bool, off int, next int, ok bool) {
	start := p
	ascii := true
	for {
		for p < len(v) && !strSpecial[v[p]] {
			p++
		}
		if p >= len(v) {
			return nil, false, 0, 0, false
		}
		switch c := v[p]; {
		case c == '"':
			s = v[start:p]
			if !ascii && !utf8.Valid(s) {
				return nil, false, 0, 0, false
			}
			return s, false, 0, p + 1, true
		case c == '\\':
			return r.readEscaped(v, start, p)
		case c < 0x20:
			return nil, false, 0, 0, false
		}
		ascii = false
		p++
	}
}

// readEscaped goes on with a string value from its first backslash at p.
func (r *JSONFlatReader) readEscaped(v []byte, start, p int) (s []byte, inBuf bool, off int, next int, ok bool) {
	off = len(r.buf)
	r.buf = append(r.buf, v[start:p]...)
	for {
		q := p
		for p < len(v) && !strSpecial[v[p]] {
			p++
		}
		r.buf = append(r.buf, v[q:p]...)
		if p >= len(v) {
			return nil, false, 0, 0, false
		}
		switch c := v[p]; {
		case c == '"':
			s = r.buf[off:]
			if !utf8.Valid(s) {
				return nil, false, 0, 0, false
			}
			return s, true, off, p + 1, true
		case c < 0x20:
			return nil, false, 0, 0, false
		case c != '\\':
			r.buf = append(r.buf, c)
			p++
			continue
		}
		if p+1 >= len(v) {
			return nil, false, 0, 0, false
		}
		var e byte
		switch v[p+1] {
		case '"', '\\', '/':
			e = v[p+1]
		case 'b':
			e = '\b'
		case 'f':
			e = '\f'
		case 'n':
			e = '\n'
		case 'r':
			e = '\r'
		case 't':
			e = '\t'
		case 'u':
			if p+6 > len(v) || !isHex4(v[p+2:p+6]) {
				return nil, false, 0, 0, false
			}
			x, _ := strconv.ParseUint(unsafe.String(&v[p+2], 4), 16, 32)
			if x >= 0xD800 && x <= 0xDFFF {
				return nil, false, 0, 0, false // surrogates are left to JSONRowParser
			}
			r.buf = utf8.AppendRune(r.buf, rune(x))
			p += 6
			continue
		default:
			return nil, false, 0, 0, false
		}
		r.buf = append(r.buf, e)
		p += 2
	}
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// number scans a JSON number at p (RFC 8259 grammar): its end, and whether it is an
// integer (no fraction, no exponent).
func number(v []byte, p int) (end int, integer bool, ok bool) {
	if p < len(v) && v[p] == '-' {
		p++
	}
	if p >= len(v) {
		return 0, false, false
	}
	switch c := v[p]; {
	case c == '0':
		p++
	case '1' <= c && c <= '9':
		for p < len(v) && '0' <= v[p] && v[p] <= '9' {
			p++
		}
	default:
		return 0, false, false
	}
	integer = true
	if p < len(v) && v[p] == '.' {
		integer = false
		p++
		d := p
		for p < len(v) && '0' <= v[p] && v[p] <= '9' {
			p++
		}
		if p == d {
			return 0, false, false
		}
	}
	if p < len(v) && (v[p] == 'e' || v[p] == 'E') {
		integer = false
		p++
		if p < len(v) && (v[p] == '+' || v[p] == '-') {
			p++
		}
		d := p
		for p < len(v) && '0' <= v[p] && v[p] <= '9' {
			p++
		}
		if p == d {
			return 0, false, false
		}
	}
	return p, integer, true
}

// smallInt parses an integer number's text (false if it is out of int64's range).
func smallInt(s []byte) (int64, bool) {
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) > 18 {
		n, err := strconv.ParseInt(unsafe.String(&s[0], len(s)), 10, 64)
		if neg {
			n = -n
		}
		return n, err == nil
	}
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// literal reads true, false or null at p.
func literal(v []byte, p int, word string) (int, bool) {
	if len(v)-p >= len(word) && string(v[p:p+len(word)]) == word {
		return p + len(word), true
	}
	return 0, false
}

// readValue reads the value at p into column c.
func (r *JSONFlatReader) readValue(c *flatCol, v []byte, p int) (int, bool) {
	if p >= len(v) {
		return 0, false
	}
	c.sBuf = false
	switch ch := v[p]; {
	case ch == 'n':
		c.set = false
		return literal(v, p, "null")
	case ch == 't' || ch == 'f':
		if c.kind != flatBool {
			return 0, false
		}
		c.set, c.b = true, ch == 't'
		if c.b {
			return literal(v, p, "true")
		}
		return literal(v, p, "false")
	case ch == '"':
		s, inBuf, off, next, ok := r.readString(v, p+1)
		if !ok {
			return 0, false
		}
		switch c.kind {
		case flatString:
			c.s, c.sBuf, c.sOff = s, inBuf, off
		case flatBinary:
			// As JSONRowParser: standard base64, into the scratch buffer.
			at := len(r.buf)
			r.buf = append(r.buf, make([]byte, base64.StdEncoding.DecodedLen(len(s)))...)
			if inBuf {
				s = r.buf[off : off+len(s)]
			}
			n, err := base64.StdEncoding.Decode(r.buf[at:], s)
			if err != nil {
				return 0, false
			}
			r.buf = r.buf[:at+n]
			c.s, c.sBuf, c.sOff = r.buf[at:at+n], true, at
		case flatTimestamp:
			t, ok := timestampBytes(s, c.unit)
			if !ok {
				x, err := ParseTimestamp("", c.typ.(*arrow.TimestampType), string(s))
				if err != nil {
					return 0, false
				}
				t = x.(int64)
			}
			c.i = t
		case flatDate32:
			x, err := ParseDate("", string(s))
			if err != nil {
				return 0, false
			}
			c.i = int64(x.(int32))
		default:
			return 0, false
		}
		c.set = true
		return next, true
	case ch == '-' || '0' <= ch && ch <= '9':
		end, integer, ok := number(v, p)
		if !ok {
			return 0, false
		}
		raw := v[p:end]
		switch c.kind {
		case flatInt, flatTimestamp, flatDate32:
			if !integer {
				return 0, false
			}
			n, ok := smallInt(raw)
			if !ok {
				return 0, false
			}
			switch c.kind {
			case flatInt:
				ok = c.lo <= n && n <= c.hi
			case flatDate32:
				ok = math.MinInt32 <= n && n <= math.MaxInt32
			}
			if !ok {
				return 0, false
			}
			c.i = n
		case flatUint:
			if !integer || raw[0] == '-' {
				return 0, false
			}
			n, err := strconv.ParseUint(unsafe.String(&raw[0], len(raw)), 10, 64)
			if err != nil || n > c.uhi {
				return 0, false
			}
			c.u = n
		case flatFloat32, flatFloat64:
			bits := 64
			if c.kind == flatFloat32 {
				bits = 32
			}
			f, err := strconv.ParseFloat(unsafe.String(&raw[0], len(raw)), bits)
			if err != nil || (bits == 32 && math.IsInf(f, 0)) {
				return 0, false
			}
			c.f = f
		default:
			return 0, false
		}
		c.set = true
		return end, true
	}
	return 0, false
}

// skipValue steps over the value at p (of a key no column names), checking its syntax.
func skipValue(v []byte, p int, depth int) (int, bool) {
	if p >= len(v) || depth > 64 {
		return 0, false
	}
	switch ch := v[p]; {
	case ch == 'n':
		return literal(v, p, "null")
	case ch == 't':
		return literal(v, p, "true")
	case ch == 'f':
		return literal(v, p, "false")
	case ch == '"':
		return skipString(v, p+1)
	case ch == '-' || '0' <= ch && ch <= '9':
		end, _, ok := number(v, p)
		return end, ok
	case ch == '[' || ch == '{':
		closer := byte(']')
		if ch == '{' {
			closer = '}'
		}
		p = skipSpaces(v, p+1)
		if p < len(v) && v[p] == closer {
			return p + 1, true
		}
		for {
			var ok bool
			if ch == '{' {
				if p >= len(v) || v[p] != '"' {
					return 0, false
				}
				if p, ok = skipString(v, p+1); !ok {
					return 0, false
				}
				p = skipSpaces(v, p)
				if p >= len(v) || v[p] != ':' {
					return 0, false
				}
				p = skipSpaces(v, p+1)
			}
			if p, ok = skipValue(v, p, depth+1); !ok {
				return 0, false
			}
			p = skipSpaces(v, p)
			if p >= len(v) {
				return 0, false
			}
			if v[p] == closer {
				return p + 1, true
			}
			if v[p] != ',' {
				return 0, false
			}
			p = skipSpaces(v, p+1)
		}
	}
	return 0, false
}

// skipString steps over a string from after its opening quote; escapes other than the
// simple ones, and bytes that are not printable ASCII, are left to JSONRowParser.
func skipString(v []byte, p int) (int, bool) {
	for p < len(v) {
		c := v[p]
		switch {
		case c == '"':
			return p + 1, true
		case c < 0x20 || c >= 0x80:
			return 0, false
		case c == '\\':
			if p+1 >= len(v) {
				return 0, false
			}
			switch v[p+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p += 2
				continue
			}
			return 0, false
		}
		p++
	}
	return 0, false
}

// timestampBytes reads the commonest textual timestamps, YYYY-MM-DDTHH:MM:SS with an
// optional fraction of up to 9 digits and an optional Z (T or a space between date and
// time), as ParseTimestamp reads them; other forms report false.
func timestampBytes(s []byte, unit arrow.TimeUnit) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := s[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		d := 1
		for d < len(rest) && '0' <= rest[d] && rest[d] <= '9' {
			d++
		}
		if d == 1 || d > 10 {
			return 0, false
		}
		nsec, _ = num(rest[1:d])
		for range 10 - d {
			nsec *= 10
		}
		rest = rest[d:]
	}
	if len(rest) == 1 && rest[0] == 'Z' {
		rest = rest[1:]
	}
	if len(rest) != 0 {
		return 0, false
	}
	return timeToUnit(time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), unit)
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int((m-1)%7%2)
}
