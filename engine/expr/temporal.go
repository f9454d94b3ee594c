package expr

// dt.truncate, computed in the column's own unit with 64-bit integers and civil-calendar
// arithmetic on days, so that it is right over the whole range of every unit (arrow-go's
// floor_temporal goes through int64 nanoseconds and wraps outside 1678-2262).
//
// Semantics are Polars': fixed durations (ns ... h, d) count from the Unix epoch, weeks
// start on Monday (multiples count from Monday 1970-01-05), months, quarters and years count
// from January 1970. A column with a time zone is truncated in its local time. A result
// outside the range of the column's type is a DataError, never a wrapped value.

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// loadZone resolves an Arrow time zone: an IANA name, "UTC", or a fixed offset "+05:30".
func loadZone(tz string) (*time.Location, error) {
	if tz == "" || tz == "UTC" || tz == "Z" {
		return time.UTC, nil
	}
	if (tz[0] == '+' || tz[0] == '-') && len(tz) == 6 && tz[3] == ':' {
		h, err1 := strconv.Atoi(tz[1:3])
		m, err2 := strconv.Atoi(tz[4:6])
		if err1 == nil && err2 == nil {
			off := h*3600 + m*60
			if tz[0] == '-' {
				off = -off
			}
			return time.FixedZone(tz, off), nil
		}
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", tz)
	}
	return l, nil
}

var unitNanos = map[compute.RoundTemporalUnit]int64{
	compute.RoundTemporalNanosecond: 1, compute.RoundTemporalMicrosecond: 1e3,
	compute.RoundTemporalMillisecond: 1e6, compute.RoundTemporalSecond: 1e9,
	compute.RoundTemporalMinute: 60e9, compute.RoundTemporalHour: 3600e9,
	compute.RoundTemporalDay: 86400e9, compute.RoundTemporalWeek: 7 * 86400e9,
}

// ticksAndZone is the length of one unit of a timestamp or date32 type in nanoseconds (a
// day for date32) and its time zone (UTC without one).
func ticksAndZone(dt arrow.DataType) (int64, *time.Location, error) {
	ts, ok := dt.(*arrow.TimestampType)
	if !ok {
		return 86400e9, time.UTC, nil
	}
	loc, err := loadZone(ts.TimeZone)
	return map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}[ts.Unit], loc, err
}

// truncateKernel builds dt.truncate for a timestamp or date32 column.
func truncateKernel(dt arrow.DataType, opts compute.RoundTemporalOptions, text string) (kernelFn, error) {
	tickNanos, loc, err := ticksAndZone(dt)
	if err != nil {
		return nil, err
	}
	ticksPerDay := int64(86400e9) / tickNanos
	n := opts.Multiple
	var floor func(v int64) (int64, bool)
	switch opts.Unit {
	case compute.RoundTemporalMonth, compute.RoundTemporalQuarter, compute.RoundTemporalYear:
		months := n * map[compute.RoundTemporalUnit]int64{compute.RoundTemporalMonth: 1, compute.RoundTemporalQuarter: 3, compute.RoundTemporalYear: 12}[opts.Unit]
		floor = func(v int64) (int64, bool) {
			days := FloorDiv(v, ticksPerDay)
			y, m, _ := civilFromDays(days)
			idx := (y-1970)*12 + (m - 1)
			idx = FloorDiv(idx, months) * months
			d := daysFromCivil(1970+FloorDiv(idx, 12), idx-FloorDiv(idx, 12)*12+1, 1)
			if d < math.MinInt64/ticksPerDay {
				return 0, false
			}
			return d * ticksPerDay, true
		}
	default:
		unit := unitNanos[opts.Unit]
		if unit == 0 {
			return nil, fmt.Errorf("unsupported truncation unit")
		}
		if n > math.MaxInt64/unit {
			return nil, fmt.Errorf("truncation step is too large")
		}
		stepNanos := n * unit
		if stepNanos%tickNanos != 0 {
			if tickNanos%stepNanos == 0 {
				// Finer than the column's unit: every value is already a multiple.
				return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) { return cloneDatum(args[0]), nil }, nil
			}
			return nil, fmt.Errorf("cannot truncate %s values to a step that is not a whole number of %s", TypeName(dt), map[int64]string{1e9: "seconds", 1e6: "milliseconds", 1e3: "microseconds", 86400e9: "days"}[tickNanos])
		}
		step := stepNanos / tickNanos
		origin := int64(0)
		if opts.Unit == compute.RoundTemporalWeek {
			origin = 4 * ticksPerDay // Monday 1970-01-05
		}
		floor = func(v int64) (int64, bool) {
			r := v % step
			if r < 0 {
				r += step
			}
			r -= origin % step
			if r < 0 {
				r += step
			}
			if v < math.MinInt64+r {
				return 0, false
			}
			return v - r, true
		}
	}
	ticksPerSec := int64(1e9) / tickNanos
	local := loc != time.UTC && tickNanos < 86400e9
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		vals, err := AsInt64(in) // read only
		if err != nil {
			return nil, err
		}
		out := make([]int64, len(vals))
		valid := validity(in)
		for i, v := range vals {
			if valid != nil && !valid[i] {
				continue
			}
			var r int64
			ok := true
			if local {
				r, ok = truncateLocal(v, ticksPerSec, tickNanos, loc, floor)
			} else {
				r, ok = floor(v)
			}
			if ok && dt.ID() == arrow.DATE32 && (r < math.MinInt32 || r > math.MaxInt32) {
				ok = false
			}
			if !ok {
				return nil, rberr.New(rberr.Data, "%s: the result for %s is outside the range of %s", text, in.ValueStr(i), TypeName(dt))
			}
			out[i] = r
		}
		return Int64Array(ec.Mem, dt, out, valid), nil
	}), nil
}

// truncateLocal truncates v (ticks since the epoch, UTC) in the local time of loc: the
// wall time floored, then the instant the clocks of loc show it. Of two such instants (an
// hour repeated when summer time ends) the later at or before v, so that a value keeps its
// own hour; a wall time the clocks skip (a day whose midnight summer time jumps over, or
// 02:54 where 02:00 to 03:00 is skipped) gives the instant the skip ends, the first of the
// bucket (Polars reads it with the offset before the skip, landing past the value
// truncated; DuckDB with the offset after it, landing before the skip).
func truncateLocal(v, ticksPerSec, tickNanos int64, loc *time.Location, floor func(int64) (int64, bool)) (int64, bool) {
	offAt := func(x int64) int64 {
		_, o := time.Unix(FloorDiv(x, ticksPerSec), 0).In(loc).Zone()
		return int64(o) * ticksPerSec
	}
	off := offAt(v)
	if (off > 0 && v > math.MaxInt64-off) || (off < 0 && v < math.MinInt64-off) {
		return 0, false
	}
	lt, ok := floor(v + off)
	if !ok {
		return 0, false
	}
	day := 86400 * ticksPerSec
	if lt < math.MinInt64/2 || lt > math.MaxInt64/2 || day > math.MaxInt64/4 {
		return 0, false
	}
	best, found := int64(0), false
	for _, o := range []int64{off, offAt(lt - off), offAt(lt - day), offAt(lt + day)} {
		if c := lt - o; c <= v && offAt(c) == o && (!found || c > best) {
			best, found = c, true
		}
	}
	if found {
		return best, true
	}
	// The floored wall time is one the clocks skip: the instant the skip ends (the start of
	// the zone offset the wall time read with the offset before it falls in), at or before
	// v since v's own wall time is past the skip.
	c := lt - offAt(lt-day)
	start, _ := time.Unix(FloorDiv(c, ticksPerSec), 0).In(loc).ZoneBounds()
	if s := start.Unix(); !start.IsZero() && s > math.MinInt64/ticksPerSec && s*ticksPerSec <= v {
		return s * ticksPerSec, true
	}
	return min(c, v), true
}

// localSeconds is the instant (seconds since the epoch) at which the clocks of loc show
// wall (a wall-clock time, in seconds since the epoch as if it were UTC). A time repeated
// when summer time ends is its first instant; a time the clocks skip when it begins is
// read with the offset before the skip (02:30 on the day New York's clocks go from 02:00
// to 03:00 is 03:30 EDT), as DuckDB and Java do.
func localSeconds(wall int64, loc *time.Location) int64 {
	offAt := func(s int64) int64 {
		_, o := time.Unix(s, 0).In(loc).Zone()
		return int64(o)
	}
	const day = 86400
	best, found := int64(0), false
	for _, o := range []int64{offAt(wall), offAt(wall - day), offAt(wall + day)} {
		if c := wall - o; offAt(c) == o && (!found || c < best) {
			best, found = c, true
		}
	}
	if found {
		return best
	}
	return wall - offAt(wall-day)
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant).
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := FloorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civilFromDays.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := FloorDiv(y, 400)
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// monthKernel builds dt.month_start, dt.month_end and dt.days_in_month over a timestamp or
// date32 column (fn without its "dt_"). The first two roll a value to the first or last day
// of its month, keeping its time of day (a column with a time zone in its local time; a
// wall time the clocks skip is read with the offset before the skip, as str.to_datetime),
// as Polars; days_in_month is 28 to 31, int32.
func monthKernel(fn string, dt arrow.DataType, text string) (kernelFn, arrow.DataType, error) {
	tickNanos, loc, err := ticksAndZone(dt)
	if err != nil {
		return nil, nil, err
	}
	ticksPerDay := int64(86400e9) / tickNanos
	ticksPerSec := max(int64(1e9)/tickNanos, 1)
	local := loc != time.UTC && tickNanos < 86400e9
	out := dt
	if fn == "days_in_month" {
		out = arrow.PrimitiveTypes.Int32
	}
	k := unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		vals, err := AsInt64(in) // read only
		if err != nil {
			return nil, err
		}
		valid := validity(in)
		res := make([]int64, len(vals))
		for i, v := range vals {
			if valid != nil && !valid[i] {
				continue
			}
			w := v
			if local {
				_, o := time.Unix(FloorDiv(v, ticksPerSec), 0).In(loc).Zone()
				w = v + int64(o)*ticksPerSec
			}
			days := FloorDiv(w, ticksPerDay)
			y, m, _ := civilFromDays(days)
			first := daysFromCivil(y, m, 1)
			next := daysFromCivil(y+m/12, m%12+1, 1)
			if fn == "days_in_month" {
				res[i] = next - first
				continue
			}
			d := first
			if fn == "month_end" {
				d = next - 1
			}
			tod := w - days*ticksPerDay
			if d > (math.MaxInt64-tod)/ticksPerDay || d < (math.MinInt64+ticksPerDay)/ticksPerDay {
				return nil, rberr.New(rberr.Data, "%s: the result for %s is outside the range of %s", text, in.ValueStr(i), TypeName(dt))
			}
			r := d*ticksPerDay + tod
			if local {
				sec := FloorDiv(r, ticksPerSec)
				r = localSeconds(sec, loc)*ticksPerSec + (r - sec*ticksPerSec)
			}
			if dt.ID() == arrow.DATE32 && (r < math.MinInt32 || r > math.MaxInt32) {
				return nil, rberr.New(rberr.Data, "%s: the result for %s is outside the range of %s", text, in.ValueStr(i), TypeName(dt))
			}
			res[i] = r
		}
		return Int64Array(ec.Mem, out, res, valid), nil
	})
	return k, out, nil
}
