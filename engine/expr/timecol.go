package expr

import (
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Event-time columns: their units, conversion to and from microseconds, and building them.

// TimeColumnOK reports whether a column can carry event time: a timestamp (any unit), a
// date, or an int64 of epoch milliseconds (as Flink reads a BIGINT rowtime).
func TimeColumnOK(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.INT64:
		return true
	}
	return false
}

// MicrosPer is how many microseconds one unit of the column's type is.
func MicrosPer(dt arrow.DataType) (mul, div int64) {
	switch t := dt.(type) {
	case *arrow.TimestampType:
		switch t.Unit {
		case arrow.Second:
			return 1_000_000, 1
		case arrow.Millisecond:
			return 1000, 1
		case arrow.Microsecond:
			return 1, 1
		default:
			return 1, 1000
		}
	case *arrow.Date32Type:
		return 86_400_000_000, 1
	}
	return 1000, 1 // int64 epoch milliseconds
}

// ToMicros converts a column value to microseconds (floor for nanoseconds).
func ToMicros(v int64, mul, div int64) int64 {
	if div == 1 {
		return v * mul
	}
	return FloorDiv(v, div)
}

// fromMicros converts microseconds back to the column's unit.
func fromMicros(us int64, mul, div int64) int64 {
	if div == 1 {
		return FloorDiv(us, mul)
	}
	return us * div
}

func FloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// EventTimes reads a time column as microseconds; valid[i] is false for nulls.
func EventTimes(col arrow.Array, out []int64) []int64 {
	n := col.Len()
	out = Grow(out[:0], n)[:n]
	mul, div := MicrosPer(col.DataType())
	get := Int64Getter(col)
	for i := 0; i < n; i++ {
		if col.IsNull(i) {
			out[i] = math.MinInt64
			continue
		}
		out[i] = ToMicros(get(i), mul, div)
	}
	return out
}

// timeArray builds a column of the time type dt from microsecond values.
// A value outside the range of dt (a window that ends after 2262-04-11 in a nanosecond
// column, say) is a DataError, never a wrapped value.
// shift is added to each value in the unit of dt (-1: the instant before).
func timeArray(ec *EvalCtx, dt arrow.DataType, us []int64, shift int64) (arrow.Array, error) {
	mul, div := MicrosPer(dt)
	vals := make([]int64, len(us))
	for i, v := range us {
		if div != 1 && (v > math.MaxInt64/div || v < math.MinInt64/div) {
			return nil, rberr.New(rberr.Data, "a window bound (%s) is outside the range of the time column's type %s", time.UnixMicro(v).UTC().Format(time.RFC3339Nano), TypeName(dt))
		}
		vals[i] = fromMicros(v, mul, div) + shift
		if dt.ID() == arrow.DATE32 && (vals[i] > math.MaxInt32 || vals[i] < math.MinInt32) {
			return nil, rberr.New(rberr.Data, "a window bound is outside the range of the time column's type %s", TypeName(dt))
		}
	}
	return Int64Array(ec.Mem, dt, vals, nil), nil
}

// BoundColumns builds window_start and window_end columns of type dt from microseconds.
func BoundColumns(ec *EvalCtx, dt arrow.DataType, starts, ends []int64) ([]arrow.Array, error) {
	return WindowColumns(ec, dt, starts, ends, false)
}

// WindowColumns builds window_start and window_end columns of type dt from microseconds,
// and with withTime window_time: each window's last instant in the resolution of dt
// (window_end minus one unit of dt: 1 µs of a timestamp[us], 1 ms of a timestamp[ms] or
// of int64 epoch milliseconds, as Flink's window_end - 1 ms of its TIMESTAMP(3)), the
// largest event time a row of the window can have.
func WindowColumns(ec *EvalCtx, dt arrow.DataType, starts, ends []int64, withTime bool) ([]arrow.Array, error) {
	s, err := timeArray(ec, dt, starts, 0)
	if err != nil {
		return nil, err
	}
	e, err := timeArray(ec, dt, ends, 0)
	if err != nil {
		s.Release()
		return nil, err
	}
	if !withTime {
		return []arrow.Array{s, e}, nil
	}
	t, err := timeArray(ec, dt, ends, -1)
	if err != nil {
		s.Release()
		e.Release()
		return nil, err
	}
	return []arrow.Array{s, e, t}, nil
}

// SafeWatermark is the watermark that event time t (µs) of the next row to come allows in
// batch mode: the largest value that no row at or after t can be at or below, in the
// resolution of the event-time column (of type dt).
func SafeWatermark(t int64, dt arrow.DataType) int64 {
	mul, div := MicrosPer(dt)
	return ToMicros(fromMicros(t, mul, div), mul, div) - 1
}
