package expr

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// runStrftime formats vals (nil: a null) of type dt with format.
func runStrftime(t testing.TB, dt arrow.DataType, format string, vals []*int64) []*string {
	t.Helper()
	pieces, err := compileStrftime(format)
	if err != nil {
		t.Fatal(err)
	}
	k, err := strftimeKernel(dt, pieces)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var in arrow.Array
	switch dt.ID() {
	case arrow.DATE32:
		b := array.NewDate32Builder(mem)
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(arrow.Date32(*v))
			}
		}
		in = b.NewArray()
		b.Release()
	default:
		b := array.NewTimestampBuilder(mem, dt.(*arrow.TimestampType))
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(arrow.Timestamp(*v))
			}
		}
		in = b.NewArray()
		b.Release()
	}
	defer in.Release()
	ec := NewEvalCtx(context.Background(), mem)
	d, err := k(ec, []compute.Datum{compute.NewDatumWithoutOwning(in)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	out := d.(*compute.ArrayDatum).MakeArray().(*array.String)
	defer out.Release()
	res := make([]*string, out.Len())
	for i := range res {
		if out.IsValid(i) {
			s := out.Value(i)
			res[i] = &s
		}
	}
	return res
}

// goStrftime is the oracle: the same directives through Go's time package.
func goStrftime(tm time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		i++
		noPad := format[i] == '-'
		if noPad {
			i++
		}
		num := func(v, w int) string {
			if noPad {
				return fmt.Sprint(v)
			}
			return fmt.Sprintf("%0*d", w, v)
		}
		switch format[i] {
		case 'Y':
			b.WriteString(num(tm.Year(), 4))
		case 'y':
			b.WriteString(num(tm.Year()%100, 2))
		case 'm':
			b.WriteString(num(int(tm.Month()), 2))
		case 'd':
			b.WriteString(num(tm.Day(), 2))
		case 'e':
			b.WriteString(tm.Format("_2"))
		case 'j':
			b.WriteString(num(tm.YearDay(), 3))
		case 'H':
			b.WriteString(num(tm.Hour(), 2))
		case 'I':
			b.WriteString(tm.Format("03"))
		case 'M':
			b.WriteString(num(tm.Minute(), 2))
		case 'S':
			b.WriteString(num(tm.Second(), 2))
		case 'p':
			b.WriteString(tm.Format("PM"))
		case '3':
			i++
			b.WriteString(fmt.Sprintf("%03d", tm.Nanosecond()/1e6))
		case '6':
			i++
			b.WriteString(fmt.Sprintf("%06d", tm.Nanosecond()/1e3))
		case 'f':
			b.WriteString(fmt.Sprintf("%09d", tm.Nanosecond()))
		case 'a':
			b.WriteString(tm.Format("Mon"))
		case 'A':
			b.WriteString(tm.Format("Monday"))
		case 'b':
			b.WriteString(tm.Format("Jan"))
		case 'B':
			b.WriteString(tm.Format("January"))
		case 'u':
			w := int(tm.Weekday())
			if w == 0 {
				w = 7
			}
			b.WriteString(fmt.Sprint(w))
		case 'w':
			b.WriteString(fmt.Sprint(int(tm.Weekday())))
		case 'z':
			b.WriteString(tm.Format("-0700"))
		case '%':
			b.WriteByte('%')
		}
	}
	return b.String()
}

// dt.strftime against Go's time formatting over random instants (before 1970 too) and the
// hour a DST fall-back repeats, in every unit, naive, UTC and two time zones, and over
// dates; nulls stay null.
func TestStrftimeMatchesGoTimeFormat(t *testing.T) {
	formats := []string{
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%H:%M", "%d/%m/%y %I:%M %p", "%a %A %b %B %j %u %w",
		"%-d.%-m.%Y %-H:%-M:%-S", "%e|%%|%3f|%6f|%f", "%Y%m%dT%H%M%S%z",
	}
	rng := rand.New(rand.NewSource(1))
	for _, unit := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
		for _, tz := range []string{"", "UTC", "America/New_York", "+05:30"} {
			dt := &arrow.TimestampType{Unit: unit, TimeZone: tz}
			loc, err := loadZone(tz)
			if err != nil {
				t.Fatal(err)
			}
			per := int64(time.Second / unit.Multiplier())
			vals := []*int64{nil}
			for i := 0; i < 200; i++ {
				secs := rng.Int63n(8e9) - 3e9 // 1875 to 2223
				v := secs*per + rng.Int63n(per)
				vals = append(vals, &v)
			}
			// The hour a DST fall-back repeats in New York (2024-11-03 01:00-02:00, first
			// -0400 then -0500): the same civil times, two offsets.
			for _, secs := range []int64{1730611800, 1730615400, 1730613600, 1730617199} {
				v := secs * per
				vals = append(vals, &v)
			}
			for _, f := range formats {
				got := runStrftime(t, dt, f, vals)
				if got[0] != nil {
					t.Fatalf("%s: null gave %q", f, *got[0])
				}
				for i, v := range vals[1:] {
					secs, sub := floorDiv(*v, per), floorMod(*v, per)
					tm := time.Unix(secs, sub*int64(unit.Multiplier())).In(loc)
					if want := goStrftime(tm, f); *got[i+1] != want {
						t.Fatalf("%s %s %q of %d: %q, want %q", unit, tz, f, *v, *got[i+1], want)
					}
				}
			}
		}
	}
	var days []*int64
	for i := 0; i < 200; i++ {
		d := rng.Int63n(200000) - 100000
		days = append(days, &d)
	}
	got := runStrftime(t, arrow.FixedWidthTypes.Date32, "%Y-%m-%d %a %j %H", days)
	for i, d := range days {
		if want := goStrftime(time.Unix(*d*86400, 0).UTC(), "%Y-%m-%d %a %j %H"); *got[i] != want {
			t.Fatalf("date %d: %q, want %q", *d, *got[i], want)
		}
	}
}

func TestStrftimeRefusesUnknownDirectives(t *testing.T) {
	for _, f := range []string{"%Q", "%", "%-", "%3x", "%.S", "%Y-%"} {
		if _, err := compileStrftime(f); err == nil {
			t.Errorf("%q compiled", f)
		}
	}
}

// FuzzStrftime: any format either compiles or is an error; a compiled one formats any
// instant without a panic, and a date-and-time format reads back to the same instant.
func FuzzStrftime(f *testing.F) {
	f.Add("%Y-%m-%d %H:%M:%S", int64(0))
	f.Add("%-d %b %Y %I%p %.3f %z %Z", int64(-1))
	f.Add("%%%F%T%D%R", int64(1e15))
	f.Fuzz(func(t *testing.T, format string, v int64) {
		dt := &arrow.TimestampType{Unit: arrow.Microsecond}
		if _, err := compileStrftime(format); err == nil {
			runStrftime(t, dt, format, []*int64{&v})
		}
		v %= 250_000_000_000_000_000 / 1000 // years 0000-9999 either side of 1970, in microseconds
		if v < -62_000_000_000_000_000/1000 {
			return
		}
		s := *runStrftime(t, dt, "%Y-%m-%d %H:%M:%S.%f", []*int64{&v})[0]
		p, err := strptime(s, "%Y-%m-%d %H:%M:%S.%f")
		if err != nil {
			t.Fatalf("%d formatted as %q does not read back: %v", v, s, err)
		}
		if back := (p.days*86400+p.secs)*1e6 + p.nanos/1e3; back != v {
			t.Fatalf("%d formatted as %q reads back as %d", v, s, back)
		}
	})
}
