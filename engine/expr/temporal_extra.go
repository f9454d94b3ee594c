package expr

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Date and time arithmetic, calendar fields, epochs and strptime parsing. The rules are
// DuckDB's: timestamp ± duration → timestamp, timestamp − timestamp → duration,
// date ± integer days → date, date − date → days (int64), date ± duration → timestamp,
// duration ± duration → duration; units widen to the finer operand, and a result that
// leaves the type's range is an error, never a wrapped value.

// ticksPerSecond of a time unit.
func ticksPerSecond(u arrow.TimeUnit) int64 { return int64(time.Second) / int64(u.Multiplier()) }

// temporalArith types and builds add/sub when an operand is temporal; ok is false when
// neither is.
func temporalArith(fn string, a, b arrow.DataType, text string) (out arrow.DataType, k kernelFn, ok bool, err error) {
	ta, tb := a.ID(), b.ID()
	temporal := func(id arrow.Type) bool {
		return id == arrow.TIMESTAMP || id == arrow.DATE32 || id == arrow.DURATION
	}
	if !temporal(ta) && !temporal(tb) {
		return nil, nil, false, nil
	}
	bad := fmt.Errorf("cannot %s %s and %s", map[string]string{"add": "add", "sub": "subtract"}[fn], TypeName(a), TypeName(b))
	if fn != "add" && fn != "sub" {
		return nil, nil, true, fmt.Errorf("%s is not defined for %s and %s", fn, TypeName(a), TypeName(b))
	}
	unitOf := func(t arrow.DataType) arrow.TimeUnit {
		switch v := t.(type) {
		case *arrow.TimestampType:
			return v.Unit
		case *arrow.DurationType:
			return v.Unit
		}
		return arrow.Second
	}
	finer := func(x, y arrow.DataType) arrow.TimeUnit { return max(unitOf(x), unitOf(y)) }
	scale := func(t arrow.DataType, u arrow.TimeUnit) int64 {
		if t.ID() == arrow.DATE32 {
			return 86400 * ticksPerSecond(u)
		}
		return int64(unitOf(t).Multiplier()) / int64(u.Multiplier())
	}
	sub := fn == "sub"
	switch {
	case ta == arrow.TIMESTAMP && tb == arrow.DURATION, ta == arrow.DURATION && tb == arrow.TIMESTAMP && !sub:
		ts := a
		if ta == arrow.DURATION {
			ts = b
		}
		u := finer(a, b)
		out = &arrow.TimestampType{Unit: u, TimeZone: ts.(*arrow.TimestampType).TimeZone}
		return out, tickArith(out, scale(a, u), scale(b, u), sub, text), true, nil
	case ta == arrow.TIMESTAMP && tb == arrow.TIMESTAMP && sub:
		if (a.(*arrow.TimestampType).TimeZone == "") != (b.(*arrow.TimestampType).TimeZone == "") {
			return nil, nil, true, fmt.Errorf("cannot subtract %s and %s: one has a time zone and the other not", TypeName(a), TypeName(b))
		}
		u := finer(a, b)
		out = &arrow.DurationType{Unit: u}
		return out, tickArith(out, scale(a, u), scale(b, u), true, text), true, nil
	case ta == arrow.DURATION && tb == arrow.DURATION:
		out = &arrow.DurationType{Unit: finer(a, b)}
		u := finer(a, b)
		return out, tickArith(out, scale(a, u), scale(b, u), sub, text), true, nil
	case ta == arrow.DATE32 && IsInteger(b), IsInteger(a) && tb == arrow.DATE32 && !sub:
		out = arrow.FixedWidthTypes.Date32
		return out, tickArith(out, 1, 1, sub, text), true, nil
	case ta == arrow.DATE32 && tb == arrow.DATE32 && sub:
		out = arrow.PrimitiveTypes.Int64
		return out, tickArith(out, 1, 1, true, text), true, nil
	case ta == arrow.DATE32 && tb == arrow.DURATION, ta == arrow.DURATION && tb == arrow.DATE32 && !sub:
		u := finer(a, b)
		out = &arrow.TimestampType{Unit: u}
		return out, tickArith(out, scale(a, u), scale(b, u), sub, text), true, nil
	}
	return nil, nil, true, bad
}

// tickArith adds or subtracts two integer-backed operands after scaling each to the
// result's unit, with every overflow an error naming the expression.
func tickArith(out arrow.DataType, fa, fb int64, sub bool, text string) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		arrs, n, allScalar, err := materialize(ec, args)
		if err != nil {
			return nil, err
		}
		defer releaseAll(arrs)
		x, err := scaledTicks(arrs[0], fa)
		if err == nil {
			var y []int64
			if y, err = scaledTicks(arrs[1], fb); err == nil {
				vals := make([]int64, n)
				valid := make([]bool, n)
				lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
				if out.ID() == arrow.DATE32 {
					lo, hi = math.MinInt32, math.MaxInt32
				}
				for i := range vals {
					if x[i] == nullTick || y[i] == nullTick {
						continue
					}
					v, overflow := addInt64(x[i], y[i], sub)
					if overflow || v < lo || v > hi || v == nullTick {
						return nil, rberr.New(rberr.Data, "%s: the result leaves the range of %s", text, TypeName(out))
					}
					vals[i], valid[i] = v, true
				}
				return wrapResult(Int64Array(ec.Mem, out, vals, valid), allScalar)
			}
		}
		return nil, rberr.Wrap(rberr.Data, err, "%s", text)
	}
}

// nullTick marks a null row in scaledTicks' output (math.MinInt64 is out of every range).
const nullTick = math.MinInt64

func scaledTicks(a arrow.Array, f int64) ([]int64, error) {
	out := make([]int64, a.Len())
	if u, ok := a.(*array.Uint64); ok {
		for i, v := range u.Uint64Values() {
			if u.IsNull(i) {
				out[i] = nullTick
				continue
			}
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("%d days is out of range", v)
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	vals, err := AsInt64(a)
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if a.IsNull(i) {
			out[i] = nullTick
			continue
		}
		hi, lo := bits.Mul64(uint64(absI(v)), uint64(f))
		if hi != 0 || lo > math.MaxInt64 {
			return nil, fmt.Errorf("the value %d is out of range in the finer unit", v)
		}
		out[i] = v * f
	}
	return out, nil
}

func absI(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func addInt64(x, y int64, sub bool) (int64, bool) {
	if sub {
		r := x - y
		return r, (x >= 0) != (y >= 0) && (r >= 0) != (x >= 0)
	}
	r := x + y
	return r, (x >= 0) == (y >= 0) && (r >= 0) != (x >= 0)
}

func zoneOrUTC(ts *arrow.TimestampType) *time.Location {
	if ts != nil && ts.TimeZone != "" {
		if loc, err := loadZone(ts.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// calendarKernel: dt.date (date32), dt.weekday (1 = Monday … 7 = Sunday, ISO, as Polars),
// dt.quarter (1-4), dt.ordinal_day (1-366), in the column's time zone.
func calendarKernel(field string, t arrow.DataType) (kernelFn, error) {
	var days func(v int64) int64
	switch tt := t.(type) {
	case *arrow.TimestampType:
		loc, err := loadZone(tt.TimeZone)
		if err != nil {
			return nil, err
		}
		per := ticksPerSecond(tt.Unit)
		days = func(v int64) int64 {
			secs := floorDiv(v, per)
			if loc != time.UTC {
				_, off := time.Unix(secs, 0).In(loc).Zone()
				secs += int64(off)
			}
			return floorDiv(secs, 86400)
		}
	default:
		days = func(v int64) int64 { return v }
	}
	out := arrow.DataType(arrow.PrimitiveTypes.Int32)
	if field == "date" {
		out = arrow.FixedWidthTypes.Date32
	}
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		vals, err := AsInt64(in)
		if err != nil {
			return nil, err
		}
		res := make([]int64, len(vals))
		for i, v := range vals {
			if in.IsNull(i) {
				continue
			}
			d := days(v)
			switch field {
			case "date":
				res[i] = d
			case "weekday":
				res[i] = (floorMod(d+3, 7)) + 1 // 1970-01-01 was a Thursday (4)
			default:
				y, m, _ := civilFromDays(d)
				if field == "quarter" {
					res[i] = (m-1)/3 + 1
				} else {
					res[i] = d - daysFromCivil(y, 1, 1) + 1
				}
			}
		}
		return Int64Array(ec.Mem, out, res, validity(in)), nil
	}), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// epochKernel: the instant as a count of unit ("d", "s", "ms", "us", "ns") since
// 1970-01-01 UTC, rounded down (as Polars' dt.epoch).
func epochKernel(t arrow.DataType, unit string) (kernelFn, error) {
	per := map[string]int64{"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "d": 86400e9}
	target, ok := per[unit]
	if !ok {
		return nil, fmt.Errorf("dt.epoch unit must be one of \"d\", \"s\", \"ms\", \"us\", \"ns\", got %q", unit)
	}
	src := int64(86400e9)
	if ts, ok := t.(*arrow.TimestampType); ok {
		src = int64(ts.Unit.Multiplier())
	}
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		vals, err := AsInt64(in)
		if err != nil {
			return nil, err
		}
		res := make([]int64, len(vals))
		for i, v := range vals {
			if in.IsNull(i) {
				continue
			}
			if src >= target {
				f := src / target
				hi, lo := bits.Mul64(uint64(absI(v)), uint64(f))
				if hi != 0 || lo > math.MaxInt64 {
					return nil, rberr.New(rberr.Data, "dt.epoch(%q): %d is out of range in that unit", unit, v)
				}
				res[i] = v * f
			} else {
				res[i] = floorDiv(v, target/src)
			}
		}
		return Int64Array(ec.Mem, arrow.PrimitiveTypes.Int64, res, validity(in)), nil
	}), nil
}

// durationTotalKernel: a duration as a whole count of a unit (per nanoseconds each),
// truncated toward zero; mult is nanoseconds per tick of the column.
func durationTotalKernel(mult, per int64) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		vals, err := AsInt64(in)
		if err != nil {
			return nil, err
		}
		res := make([]int64, len(vals))
		for i, v := range vals {
			if per >= mult {
				res[i] = v / (per / mult)
			} else {
				f := mult / per
				hi, lo := bits.Mul64(uint64(absI(v)), uint64(f))
				if hi != 0 || lo > math.MaxInt64 {
					return nil, rberr.New(rberr.Data, "duration %d is out of range in the finer unit", v)
				}
				res[i] = v * f
			}
		}
		return Int64Array(ec.Mem, arrow.PrimitiveTypes.Int64, res, validity(in)), nil
	})
}

// parsedTime is what strptime read.
type parsedTime struct {
	days      int64 // since 1970-01-01
	secs      int64 // seconds into the day
	nanos     int64
	offset    int64 // seconds east of UTC, if hasOffset
	hasOffset bool
}

// ticks returns the instant in the timestamp's unit: with a parsed offset, that instant;
// else the wall time in the column's zone (UTC without one).
func (p parsedTime) ticks(ts *arrow.TimestampType, loc *time.Location) (int64, bool) {
	secs := p.days*86400 + p.secs
	switch {
	case p.hasOffset:
		secs -= p.offset
	case loc != time.UTC:
		secs = localSeconds(secs, loc)
	}
	// secs*per + frac, exactly (the last whole second of a unit's range included).
	per, frac := ticksPerSecond(ts.Unit), p.nanos/int64(ts.Unit.Multiplier())
	hi, lo := bits.Mul64(uint64(absI(secs)), uint64(per))
	if secs < 0 {
		m := lo - uint64(frac) // the magnitude: frac < per <= lo
		if hi != 0 || m > 1<<63 {
			return 0, false
		}
		return int64(-m), true // 1<<63 wraps to math.MinInt64
	}
	if hi != 0 || lo > math.MaxInt64 || int64(lo) > math.MaxInt64-frac {
		return 0, false
	}
	return int64(lo) + frac, true
}

var strptimeDirectives = "YmdeHIpMSfjbhBaAzTFDRy%"

// checkFormat refuses a format with a directive strptime does not read.
func checkFormat(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		if i+1 >= len(format) || !strings.ContainsRune(strptimeDirectives, rune(format[i+1])) {
			d := format[i:min(i+2, len(format))]
			return fmt.Errorf("format %q: unsupported directive %q (supported: %%Y %%m %%d %%e %%H %%I %%p %%M %%S %%f %%j %%b %%B %%a %%A %%z %%T %%F %%D %%R %%y %%%%)", format, d)
		}
		i++
	}
	return nil
}

var monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
var dayNames = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// strptime reads s with a strftime-style format (the directives of checkFormat). The whole
// string must match.
func strptime(s, format string) (parsedTime, error) {
	format = strings.NewReplacer("%T", "%H:%M:%S", "%F", "%Y-%m-%d", "%D", "%m/%d/%y", "%R", "%H:%M").Replace(format)
	var p parsedTime
	y, mo, d, yday, wday := int64(1970), int64(1), int64(1), int64(0), int64(0)
	h, mi, sec := int64(0), int64(0), int64(0)
	pm, hasPM, hour12 := false, false, false
	dated := false // a year was read: a weekday read must be the date's
	i := 0
	num := func(minD, maxD int, what string) (int64, error) {
		j := i
		if j < len(s) && (s[j] == '-' || s[j] == '+') && what == "year" {
			j++
		}
		k := j
		for k < len(s) && k-j < maxD && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k-j < minD {
			return 0, fmt.Errorf("expected the %s at position %d", what, i+1)
		}
		v, err := strconv.ParseInt(s[i:k], 10, 64)
		i = k
		return v, err
	}
	name := func(names []string, what string) (int64, error) {
		rest := strings.ToLower(s[i:])
		for n, full := range names {
			if strings.HasPrefix(rest, full) {
				i += len(full)
				return int64(n + 1), nil
			}
		}
		for n, full := range names {
			if strings.HasPrefix(rest, full[:3]) {
				i += 3
				return int64(n + 1), nil
			}
		}
		return 0, fmt.Errorf("expected a %s name at position %d", what, i+1)
	}
	var err error
	for f := 0; f < len(format); f++ {
		c := format[f]
		if c != '%' {
			if i >= len(s) || s[i] != c {
				return p, fmt.Errorf("does not match the format %q at position %d", format, i+1)
			}
			i++
			continue
		}
		f++
		switch format[f] {
		case 'Y':
			y, err = num(4, 4, "year")
			dated = true
		case 'y':
			dated = true
			var v int64
			v, err = num(2, 2, "year")
			if v < 70 { // 00-69 are 2000-2069, as chrono (Polars); POSIX's pivot is 69
				y = 2000 + v
			} else {
				y = 1900 + v
			}
		case 'm':
			mo, err = num(1, 2, "month")
		case 'd', 'e':
			if format[f] == 'e' && i < len(s) && s[i] == ' ' {
				i++
			}
			d, err = num(1, 2, "day")
		case 'j':
			if yday, err = num(1, 3, "day of the year"); err == nil && yday == 0 {
				err = fmt.Errorf("day 0 of the year at position %d", i)
			}
		case 'H':
			h, err = num(1, 2, "hour")
		case 'I':
			h, err = num(1, 2, "hour")
			hour12 = true
		case 'p':
			switch {
			case i+2 <= len(s) && strings.EqualFold(s[i:i+2], "am"):
				hasPM = true
			case i+2 <= len(s) && strings.EqualFold(s[i:i+2], "pm"):
				hasPM, pm = true, true
			default:
				err = fmt.Errorf("expected AM or PM at position %d", i+1)
			}
			i += 2
		case 'M':
			mi, err = num(1, 2, "minute")
		case 'S':
			sec, err = num(1, 2, "second")
		case 'f':
			j := i
			for j < len(s) && j-i < 9 && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i {
				err = fmt.Errorf("expected a fraction of a second at position %d", i+1)
				break
			}
			frac := s[i:j] + strings.Repeat("0", 9-(j-i))
			p.nanos, err = strconv.ParseInt(frac, 10, 64)
			i = j
		case 'b', 'h', 'B':
			mo, err = name(monthNames, "month")
		case 'a', 'A':
			wday, err = name(dayNames, "weekday")
		case 'z':
			if i < len(s) && (s[i] == 'Z' || s[i] == 'z') {
				i++
				p.hasOffset = true
				break
			}
			off, ok := parseOffset(takeOffset(s[i:]))
			if !ok {
				err = fmt.Errorf("expected a UTC offset (+HH:MM) at position %d", i+1)
				break
			}
			i += len(takeOffset(s[i:]))
			p.offset, p.hasOffset = off, true
		case '%':
			if i >= len(s) || s[i] != '%' {
				err = fmt.Errorf("expected %% at position %d", i+1)
			}
			i++
		}
		if err != nil {
			return p, err
		}
	}
	if i != len(s) {
		return p, fmt.Errorf("has text left over after the format %q: %q", format, s[i:])
	}
	if hour12 {
		if h < 1 || h > 12 {
			return p, fmt.Errorf("hour %d is not between 1 and 12", h)
		}
		h %= 12
	}
	if hasPM && pm {
		h += 12
	}
	if h > 23 || mi > 59 || sec > 60 {
		return p, fmt.Errorf("%02d:%02d:%02d is not a time of day", h, mi, sec)
	}
	if yday > 0 {
		if yday > 365+int64(daysIn(y, 2)-28) {
			return p, fmt.Errorf("day %d is not in the year %d", yday, y)
		}
		p.days = daysFromCivil(y, 1, 1) + yday - 1
	} else {
		if mo < 1 || mo > 12 || d < 1 || d > int64(daysIn(y, mo)) {
			return p, fmt.Errorf("%04d-%02d-%02d is not a date", y, mo, d)
		}
		p.days = daysFromCivil(y, mo, d)
	}
	if wday > 0 && dated && floorMod(p.days+3, 7)+1 != wday { // 1970-01-01 was a Thursday
		return p, fmt.Errorf("%s is a %s, not a %s", time.Unix(p.days*86400, 0).UTC().Format("2006-01-02"),
			time.Unix(p.days*86400, 0).UTC().Weekday(), time.Weekday(wday%7))
	}
	p.secs = h*3600 + mi*60 + sec
	return p, nil
}

// takeOffset is the longest prefix of s that looks like a UTC offset (+HH[:MM] or +HHMM).
func takeOffset(s string) string {
	j := 0
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	for j < len(s) && j < 6 && (s[j] >= '0' && s[j] <= '9' || s[j] == ':') {
		j++
	}
	return s[:j]
}
