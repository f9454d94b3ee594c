package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// dt_strftime formats timestamps and dates as text (Polars' dt.strftime / dt.to_string,
// chrono's directives; SQL's DATE_FORMAT is translated into it). The format is compiled
// once into pieces; each row is split into its calendar fields once and written straight
// into the output's bytes.

// strfPiece is a run of literal text, or one directive with its padding.
type strfPiece struct {
	text  string
	code  byte // 0: text
	pad   byte // '0', ' ', or 0 for none ('-' flag)
	width int  // digits of a fraction (%f: 9, %3f: 3, ...)
	dot   bool // %.3f: a dot before the fraction
}

// compileStrftime parses a strftime format. %Y %y %C %m %d %e %j %H %I %M %S %p %f %3f %6f
// %9f %.3f %.6f %.9f %a %A %b %h %B %u %w %Z %z, the shorthands %F %T %D %R, and %%; a '-'
// after the '%' drops a number's padding (%-d).
func compileStrftime(format string) ([]strfPiece, error) {
	format = strings.NewReplacer("%F", "%Y-%m-%d", "%T", "%H:%M:%S", "%D", "%m/%d/%y", "%R", "%H:%M").Replace(format)
	var out []strfPiece
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			out = append(out, strfPiece{text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			text.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return nil, fmt.Errorf("the format %q ends with a lone %%", format)
		}
		p := strfPiece{pad: '0'}
		if format[i] == '-' {
			p.pad = 0
			i++
		} else if format[i] == '.' {
			p.dot = true
			i++
		}
		if i < len(format) && (format[i] == '3' || format[i] == '6' || format[i] == '9') {
			p.width = int(format[i] - '0')
			i++
			if i >= len(format) || format[i] != 'f' {
				return nil, fmt.Errorf("the format %q has %%%d not followed by f (%%3f, %%6f, %%9f are fractions)", format, p.width)
			}
		}
		if i >= len(format) {
			return nil, fmt.Errorf("the format %q ends with an unfinished directive", format)
		}
		p.code = format[i]
		switch p.code {
		case '%':
			text.WriteByte('%')
			continue
		case 'e':
			if p.pad != 0 {
				p.pad = ' '
			}
		case 'f':
			if p.width == 0 && !p.dot {
				p.width = 9
			}
		case 'Y', 'y', 'C', 'm', 'd', 'j', 'H', 'I', 'M', 'S', 'p', 'a', 'A', 'b', 'h', 'B', 'u', 'w', 'Z', 'z':
		default:
			return nil, fmt.Errorf("the format %q has the directive %%%c, which is not supported (%%Y %%m %%d %%H %%M %%S %%f and the others listed in docs/expressions.md are)", format, p.code)
		}
		if p.dot && p.code != 'f' {
			return nil, fmt.Errorf("the format %q has %%.%c: only fractions take a dot (%%.3f)", format, p.code)
		}
		flush()
		out = append(out, p)
	}
	flush()
	return out, nil
}

// civil is one value's calendar fields.
type civil struct {
	year                        int64
	month, day, yday, wday      int // wday: 0 = Sunday
	hour, minute, second, nanos int
	offset                      int    // seconds east of UTC of the instant (%z)
	abbrev                      string // the zone's abbreviation at the instant (%Z), "" for UTC
}

var cumDays = [13]int{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

func civilOfDays(days int64, c *civil) {
	y, m, d := civilFromDays(days)
	c.year, c.month, c.day = y, int(m), int(d)
	c.yday = cumDays[c.month] + c.day
	if c.month > 2 && (c.year%4 == 0 && (c.year%100 != 0 || c.year%400 == 0)) {
		c.yday++
	}
	c.wday = int(floorMod(days+4, 7)) // 1970-01-01 was a Thursday
}

// strftimeKernel formats a timestamp or date32 column with the compiled format.
func strftimeKernel(dt arrow.DataType, pieces []strfPiece) (kernelFn, error) {
	zoneName := "UTC"
	var loc *time.Location
	var perSecond int64 = 1
	if t, ok := dt.(*arrow.TimestampType); ok {
		var err error
		if loc, err = loadZone(t.TimeZone); err != nil {
			return nil, err
		}
		if t.TimeZone != "" {
			zoneName = t.TimeZone
		}
		perSecond = int64(time.Second / t.Unit.Multiplier())
	}
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		n := in.Len()
		b := array.NewStringBuilder(ec.Mem)
		defer b.Release()
		b.Reserve(n)
		b.ReserveData(n * 16)
		var get func(i int, c *civil)
		switch a := in.(type) {
		case *array.Date32:
			vals := a.Date32Values()
			get = func(i int, c *civil) {
				civilOfDays(int64(vals[i]), c)
				c.hour, c.minute, c.second, c.nanos = 0, 0, 0, 0
			}
		case *array.Timestamp:
			vals := a.TimestampValues()
			if loc == time.UTC {
				get = func(i int, c *civil) {
					secs, sub := floorDiv(int64(vals[i]), perSecond), floorMod(int64(vals[i]), perSecond)
					days, sod := floorDiv(secs, 86400), floorMod(secs, 86400)
					civilOfDays(days, c)
					c.hour, c.minute, c.second = int(sod/3600), int(sod/60%60), int(sod%60)
					c.nanos = int(sub * (int64(time.Second) / perSecond))
				}
			} else {
				get = func(i int, c *civil) {
					secs, sub := floorDiv(int64(vals[i]), perSecond), floorMod(int64(vals[i]), perSecond)
					t := time.Unix(secs, sub*(int64(time.Second)/perSecond)).In(loc)
					c.year, c.month, c.day, c.yday, c.wday = int64(t.Year()), int(t.Month()), t.Day(), t.YearDay(), int(t.Weekday())
					c.hour, c.minute, c.second, c.nanos = t.Hour(), t.Minute(), t.Second(), t.Nanosecond()
					c.abbrev, c.offset = t.Zone() // of the instant: a civil time repeated by a DST fall-back has two
				}
			}
		default:
			return nil, fmt.Errorf("dt.strftime: unsupported type %s", in.DataType())
		}
		var c civil
		var buf []byte
		for i := 0; i < n; i++ {
			if in.IsNull(i) {
				b.AppendNull()
				continue
			}
			get(i, &c)
			buf = appendStrftime(buf[:0], pieces, &c, zoneName)
			b.BinaryBuilder.Append(buf)
		}
		return b.NewArray(), nil
	}), nil
}

var (
	monthAbbrev = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	monthFull   = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayAbbrev   = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	dayFull     = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// appendNum appends v with at least width digits, padded with pad (0: not padded).
func appendNum(b []byte, v int64, width int, pad byte) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if pad != 0 {
		for len(tmp)-i < width {
			i--
			tmp[i] = pad
		}
	}
	return append(b, tmp[i:]...)
}

func appendStrftime(b []byte, pieces []strfPiece, c *civil, zone string) []byte {
	for _, p := range pieces {
		switch p.code {
		case 0:
			b = append(b, p.text...)
		case 'Y':
			b = appendNum(b, c.year, 4, p.pad)
		case 'y':
			y := c.year % 100
			if y < 0 {
				y += 100
			}
			b = appendNum(b, y, 2, p.pad)
		case 'C':
			b = appendNum(b, floorDiv(c.year, 100), 2, p.pad)
		case 'm':
			b = appendNum(b, int64(c.month), 2, p.pad)
		case 'd', 'e':
			b = appendNum(b, int64(c.day), 2, p.pad)
		case 'j':
			b = appendNum(b, int64(c.yday), 3, p.pad)
		case 'H':
			b = appendNum(b, int64(c.hour), 2, p.pad)
		case 'I':
			h := c.hour % 12
			if h == 0 {
				h = 12
			}
			b = appendNum(b, int64(h), 2, p.pad)
		case 'M':
			b = appendNum(b, int64(c.minute), 2, p.pad)
		case 'S':
			b = appendNum(b, int64(c.second), 2, p.pad)
		case 'p':
			if c.hour < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'f':
			width := p.width
			if width == 0 { // %.f: as few of 3, 6 or 9 digits as the fraction needs, none for 0 (chrono)
				switch {
				case c.nanos == 0:
					continue
				case c.nanos%1_000_000 == 0:
					width = 3
				case c.nanos%1000 == 0:
					width = 6
				default:
					width = 9
				}
			}
			if p.dot {
				b = append(b, '.')
			}
			v := int64(c.nanos)
			for w := 9; w > width; w-- {
				v /= 10
			}
			b = appendNum(b, v, width, '0')
		case 'a':
			b = append(b, dayAbbrev[c.wday]...)
		case 'A':
			b = append(b, dayFull[c.wday]...)
		case 'b', 'h':
			b = append(b, monthAbbrev[c.month-1]...)
		case 'B':
			b = append(b, monthFull[c.month-1]...)
		case 'u':
			w := c.wday
			if w == 0 {
				w = 7
			}
			b = appendNum(b, int64(w), 1, 0)
		case 'w':
			b = appendNum(b, int64(c.wday), 1, 0)
		case 'Z':
			if c.abbrev != "" {
				b = append(b, c.abbrev...) // EST, CEST, as chrono-tz (Polars)
			} else {
				b = append(b, zone...)
			}
		case 'z':
			off := c.offset
			if off < 0 {
				b = append(b, '-')
				off = -off
			} else {
				b = append(b, '+')
			}
			mins := (off + 30) / 60 // an offset with seconds (LMT) to the nearest minute, as chrono
			b = appendNum(b, int64(mins/60), 2, '0')
			b = appendNum(b, int64(mins%60), 2, '0')
		}
	}
	return b
}
