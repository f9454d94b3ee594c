package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// stringFunction builds the kernel of a str.* function over a utf8 column, and its
// result type.
func stringFunction(fn string, o map[string]any) (kernelFn, arrow.DataType, error) {
	str := arrow.BinaryTypes.String
	switch fn {
	case "str_slice":
		offset, _, err := optInt(o, "offset")
		if err != nil {
			return nil, nil, err
		}
		length, hasLen, err := optInt(o, "length")
		if err != nil {
			return nil, nil, err
		}
		if hasLen && length < 0 {
			return nil, nil, fmt.Errorf("str.slice length must not be negative, got %d", length)
		}
		return stringMapKernel(func(s string) string { return sliceChars(s, offset, length, hasLen) }), str, nil
	case "str_replace":
		pat, _, err := optString(o, "pattern")
		if err != nil {
			return nil, nil, err
		}
		val, _, err := optString(o, "value")
		if err != nil {
			return nil, nil, err
		}
		literal, _ := o["literal"].(bool)
		n, hasN, err := optInt(o, "n")
		if err != nil {
			return nil, nil, err
		}
		if !hasN {
			n = 1
		}
		if literal {
			return stringMapKernel(func(s string) string { return strings.Replace(s, pat, val, int(n)) }), str, nil
		}
		re, err := regexpOrLiteral(pat, false)
		if err != nil {
			return nil, nil, err
		}
		return stringMapKernel(func(s string) string {
			if n < 0 {
				return re.ReplaceAllString(s, val)
			}
			var b []byte
			last := 0
			for _, m := range re.FindAllStringSubmatchIndex(s, int(n)) {
				b = append(b, s[last:m[0]]...)
				b = re.ExpandString(b, val, s, m)
				last = m[1]
			}
			return string(append(b, s[last:]...))
		}), str, nil
	case "str_strip_chars", "str_strip_chars_start", "str_strip_chars_end":
		chars, has, err := optString(o, "characters")
		if err != nil {
			return nil, nil, err
		}
		var f func(string) string
		switch {
		case !has && fn == "str_strip_chars":
			f = strings.TrimSpace
		case !has && fn == "str_strip_chars_start":
			f = func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) }
		case !has:
			f = func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }
		case fn == "str_strip_chars":
			f = func(s string) string { return strings.Trim(s, chars) }
		case fn == "str_strip_chars_start":
			f = func(s string) string { return strings.TrimLeft(s, chars) }
		default:
			f = func(s string) string { return strings.TrimRight(s, chars) }
		}
		return stringMapKernel(f), str, nil
	case "str_len_bytes":
		return stringIntKernel(func(s string) (int32, bool) { return int32(len(s)), true }), arrow.PrimitiveTypes.Int32, nil
	case "str_zfill":
		length, _, err := optInt(o, "length")
		if err != nil {
			return nil, nil, err
		}
		if length < 0 || length > 1<<20 {
			return nil, nil, fmt.Errorf("str.zfill length must be from 0 to %d, got %d", 1<<20, length)
		}
		return stringMapKernel(func(s string) string {
			n := int(length) - utf8.RuneCountInString(s)
			if n <= 0 {
				return s
			}
			if s != "" && (s[0] == '-' || s[0] == '+') { // the zeros go after a sign, as Polars and Python
				return s[:1] + strings.Repeat("0", n) + s[1:]
			}
			return strings.Repeat("0", n) + s
		}), str, nil
	case "str_count_matches", "str_find":
		pat, _, err := optString(o, "pattern")
		if err != nil {
			return nil, nil, err
		}
		literal, _ := o["literal"].(bool)
		re, err := regexpOrLiteral(pat, literal)
		if err != nil {
			return nil, nil, err
		}
		if fn == "str_find" { // the character offset of the first match (Polars'), null for none
			return stringIntKernel(func(s string) (int32, bool) {
				i := -1
				if literal {
					i = strings.Index(s, pat)
				} else if m := re.FindStringIndex(s); m != nil {
					i = m[0]
				}
				if i < 0 {
					return 0, false
				}
				return int32(utf8.RuneCountInString(s[:i])), true
			}), arrow.PrimitiveTypes.Int32, nil
		}
		return stringIntKernel(func(s string) (int32, bool) {
			if literal {
				return int32(strings.Count(s, pat)), true // an empty pattern: a match per character and one more
			}
			return int32(len(re.FindAllStringIndex(s, -1))), true
		}), arrow.PrimitiveTypes.Int32, nil
	case "str_pad_start", "str_pad_end":
		length, _, err := optInt(o, "length")
		if err != nil {
			return nil, nil, err
		}
		if length < 0 || length > 1<<20 {
			return nil, nil, fmt.Errorf("pad length must be from 0 to %d, got %d", 1<<20, length)
		}
		fill, has, err := optString(o, "fill_char")
		if err != nil {
			return nil, nil, err
		}
		if !has {
			fill = " "
		}
		if utf8.RuneCountInString(fill) != 1 {
			return nil, nil, fmt.Errorf("fill_char must be one character, got %q", fill)
		}
		start := fn == "str_pad_start"
		return stringMapKernel(func(s string) string {
			n := int(length) - utf8.RuneCountInString(s)
			if n <= 0 {
				return s
			}
			if start {
				return strings.Repeat(fill, n) + s
			}
			return s + strings.Repeat(fill, n)
		}), str, nil
	case "str_extract":
		pat, _, err := optString(o, "pattern")
		if err != nil {
			return nil, nil, err
		}
		group, hasGroup, err := optInt(o, "group_index")
		if err != nil {
			return nil, nil, err
		}
		if !hasGroup {
			group = 1
		}
		re, err := regexpOrLiteral(pat, false)
		if err != nil {
			return nil, nil, err
		}
		if group < 0 || group > int64(re.NumSubexp()) {
			return nil, nil, fmt.Errorf("str.extract group_index %d: the pattern has %d groups", group, re.NumSubexp())
		}
		g := int(group)
		find := newSearch(re).find
		return stringMapNullableKernel(func(s string) (string, bool) {
			m := find(s)
			if m == nil || m[2*g] < 0 {
				return "", false
			}
			return s[m[2*g]:m[2*g+1]], true
		}), str, nil
	case "str_split":
		by, _, err := optString(o, "by")
		if err != nil {
			return nil, nil, err
		}
		return splitKernel(by), arrow.ListOf(str), nil
	case "str_split_index":
		by, _, err := optString(o, "by")
		if err != nil {
			return nil, nil, err
		}
		if by == "" {
			return nil, nil, fmt.Errorf("split_index needs a non-empty separator")
		}
		index, _, err := optInt(o, "index")
		if err != nil {
			return nil, nil, err
		}
		return splitIndexKernel(by, index), str, nil
	case "str_to_date", "str_to_datetime":
		format, hasFormat, err := optString(o, "format")
		if err != nil {
			return nil, nil, err
		}
		strict := true
		if v, ok := o["strict"].(bool); ok {
			strict = v
		}
		var out arrow.DataType = arrow.FixedWidthTypes.Date32
		if fn == "str_to_datetime" {
			unit, _, err := optString(o, "time_unit")
			if err != nil {
				return nil, nil, err
			}
			if unit == "" {
				unit = "us"
			}
			u, err := parseUnit(unit)
			if err != nil {
				return nil, nil, err
			}
			tz, _, err := optString(o, "time_zone")
			if err != nil {
				return nil, nil, err
			}
			if tz == "" && strings.Contains(format, "%z") {
				tz = "UTC"
			}
			if tz != "" {
				if _, err := loadZone(tz); err != nil {
					return nil, nil, err
				}
			}
			out = &arrow.TimestampType{Unit: u, TimeZone: tz}
		}
		if hasFormat {
			if err := checkFormat(format); err != nil {
				return nil, nil, err
			}
		}
		return parseTemporalKernel(out, format, hasFormat, strict), out, nil
	}
	return nil, nil, fmt.Errorf("unknown string function %s", fn)
}

// sliceChars is Polars' str.slice: offset and length in characters; a negative offset
// counts from the end; out of range gives what overlaps (maybe "").
func sliceChars(s string, offset, length int64, hasLen bool) string {
	// The characters [offset, offset+length) (a negative offset counts from the end),
	// clipped to the string, as Polars: slice(-7, 3) of "abcde" is "a".
	n := int64(utf8.RuneCountInString(s))
	start := offset
	if start < 0 {
		start = n + max(start, math.MinInt64/2) // no overflow below
	}
	if start >= n {
		return ""
	}
	end := n
	if hasLen && length < n-start {
		end = start + length
	}
	start = max(start, 0)
	if end <= start {
		return ""
	}
	if int64(len(s)) == n { // ASCII
		return s[start:end]
	}
	i, b0, b1 := int64(0), len(s), len(s)
	for pos := range s {
		if i == start {
			b0 = pos
		}
		if i == end {
			b1 = pos
			break
		}
		i++
	}
	return s[b0:b1]
}

func splitKernel(by string) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		a := in.(*array.String)
		b := array.NewListBuilder(ec.Mem, arrow.BinaryTypes.String)
		defer b.Release()
		vb := b.ValueBuilder().(*array.StringBuilder)
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(true)
			for _, part := range strings.Split(a.Value(i), by) {
				vb.Append(part)
			}
		}
		return b.NewArray(), nil
	})
}

// splitIndexKernel is the piece number index (from 0) of each string split at the text by
// (Flink's SPLIT_INDEX): null where there are fewer pieces, or for a negative index. The
// pieces before it are skipped by searching for the separator, without splitting.
func splitIndexKernel(by string, index int64) kernelFn {
	return stringMapNullableKernel(func(v string) (string, bool) {
		if index < 0 {
			return "", false
		}
		for k := int64(0); k < index; k++ {
			j := strings.Index(v, by)
			if j < 0 {
				return "", false
			}
			v = v[j+len(by):]
		}
		if j := strings.Index(v, by); j >= 0 {
			v = v[:j]
		}
		return v, true
	})
}

// parseTemporalKernel parses strings into dates or timestamps: with a strftime format, or,
// without one, the ISO forms a cast accepts. strict: a value that does not parse is an
// error naming it; otherwise it becomes null.
func parseTemporalKernel(out arrow.DataType, format string, hasFormat, strict bool) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		a := in.(*array.String)
		ts, _ := out.(*arrow.TimestampType)
		// Without a format, into a time zone: texts without an offset are wall times in
		// the zone (as Polars' time_zone=), those with one are instants.
		zoned := !hasFormat && ts != nil && ts.TimeZone != ""
		if !hasFormat && strict && !zoned {
			return castTo(ec, a, out, "parsing strings as "+TypeName(out))
		}
		var loc = zoneOrUTC(ts)
		vals := make([]int64, a.Len())
		valid := make([]bool, a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				continue
			}
			s := a.Value(i)
			var v int64
			var why string
			var ok bool
			switch {
			case !hasFormat && ts == nil:
				d, rest, ok := parseDateText(strings.TrimSpace(s))
				v = d
				if !ok || rest != "" {
					why = "is not a date"
				}
			case zoned:
				v, why = parseTimestampText(s, &arrow.TimestampType{Unit: ts.Unit})
				switch {
				case why == "":
					// the wall time's instant in the zone, as a format's (parsedTime.ticks)
					per := ticksPerSecond(ts.Unit)
					wall := parsedTime{secs: FloorDiv(v, per), nanos: (v - FloorDiv(v, per)*per) * int64(ts.Unit.Multiplier())}
					if v, ok = wall.ticks(ts, loc); !ok {
						why = "is out of range for " + TypeName(out)
					}
				case why == whyHasZone:
					v, why = parseTimestampText(s, ts)
				}
			case !hasFormat:
				v, why = parseTimestampText(s, ts)
			default:
				f, err := strptime(s, format)
				if err != nil {
					why = err.Error()
					break
				}
				if ts == nil {
					v = f.days
					break
				}
				v, ok = f.ticks(ts, loc)
				if !ok {
					why = "is out of range for " + TypeName(out)
				}
			}
			if why != "" {
				if strict {
					return nil, rberr.New(rberr.Data, "cannot parse %s as %s: %s (pass strict=False to get null instead)", strconv.Quote(s), TypeName(out), why)
				}
				continue
			}
			vals[i], valid[i] = v, true
		}
		return Int64Array(ec.Mem, out, vals, valid), nil
	})
}

// stringMapNullableKernel maps each string to a string, or to null where f says so.
func stringMapNullableKernel(f func(string) (string, bool)) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		a := in.(*array.String)
		b := array.NewStringBuilder(ec.Mem)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			if v, ok := f(a.Value(i)); ok {
				b.Append(v)
			} else {
				b.AppendNull()
			}
		}
		return b.NewArray(), nil
	})
}

// stringIntKernel maps each string of a utf8 column to an int32, or to null where f says
// there is none (a null string stays null).
func stringIntKernel(f func(string) (int32, bool)) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		a := in.(*array.String)
		b := array.NewInt32Builder(ec.Mem)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			if v, ok := f(a.Value(i)); ok {
				b.UnsafeAppend(v)
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray(), nil
	})
}
