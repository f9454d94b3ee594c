package expr

import (
	"fmt"
	"testing"
	"time"
)

// strptime against Go's own time parser on formats both can express.
func TestStrptimeMatchesTimeParse(t *testing.T) {
	cases := []struct{ ours, goLayout, value string }{
		{"%Y-%m-%d %H:%M:%S", "2006-01-02 15:04:05", "2024-02-29 23:59:59"},
		{"%d/%m/%Y", "02/01/2006", "31/12/1969"},
		{"%d %b %Y %I:%M %p", "02 Jan 2006 03:04 PM", "05 Mar 2021 12:30 AM"},
		{"%B %d, %Y", "January 02, 2006", "February 28, 1900"},
		{"%Y-%m-%dT%H:%M:%S%z", "2006-01-02T15:04:05-0700", "2024-03-15T10:00:00+0530"},
		{"%Y-%m-%dT%H:%M:%S.%f", "2006-01-02T15:04:05.999999999", "2024-03-15T10:00:00.123456789"},
		{"%a %Y-%m-%d", "Mon 2006-01-02", "Mon 2024-01-01"},
		{"%A, %d %B %Y", "Monday, 02 January 2006", "Sunday, 29 February 2004"},
	}
	for _, c := range cases {
		p, err := strptime(c.value, c.ours)
		if err != nil {
			t.Fatalf("%s with %s: %v", c.value, c.ours, err)
		}
		want, err := time.Parse(c.goLayout, c.value)
		if err != nil {
			t.Fatal(err)
		}
		got := p.days*86400 + p.secs - p.offset
		if got != want.Unix() || p.nanos != int64(want.Nanosecond()) {
			t.Errorf("%s with %s: %d.%09d, want %d.%09d", c.value, c.ours, got, p.nanos, want.Unix(), want.Nanosecond())
		}
	}
	for _, bad := range []struct{ value, format string }{
		{"2023-02-29", "%Y-%m-%d"}, {"2024-13-01", "%Y-%m-%d"}, {"2024-01-01 24:00:00", "%Y-%m-%d %H:%M:%S"},
		{"13:00 PM", "%I:%M %p"}, {"2024-01-01x", "%Y-%m-%d"}, {"2023366", "%Y%j"}, {"", "%Y"},
		{"2024-000", "%Y-%j"}, {"2024-0", "%Y-%j"}, {"Tue 2024-01-01", "%a %Y-%m-%d"}, {"Sunday 01/01/24", "%A %m/%d/%y"},
	} {
		if _, err := strptime(bad.value, bad.format); err == nil {
			t.Errorf("%q with %q parsed", bad.value, bad.format)
		}
	}
}

// FuzzStrptime: any string with any supported format either parses into a valid date and
// time of day, or is an error; never a panic. Parsing what Go formats from the parsed
// value with an ISO format gives the same value back.
func FuzzStrptime(f *testing.F) {
	f.Add("2024-02-29 23:59:59", "%Y-%m-%d %H:%M:%S")
	f.Add("05 Mar 2021 12:30 AM", "%d %b %Y %I:%M %p")
	f.Add("2024-03-15T10:00:00+05:30", "%FT%T%z")
	f.Add("2024060", "%Y%j")
	f.Add("%", "%%")
	f.Fuzz(func(t *testing.T, value, format string) {
		if checkFormat(format) != nil {
			return
		}
		p, err := strptime(value, format)
		if err != nil {
			return
		}
		if p.secs < 0 || p.secs > 86400 || p.nanos < 0 || p.nanos >= 1e9 {
			t.Fatalf("%q with %q: out-of-range time of day %+v", value, format, p)
		}
		y, m, d := civilFromDays(p.days)
		iso := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", y, m, d, p.secs/3600, p.secs/60%60, p.secs%60)
		if y < 0 || y > 9999 {
			return
		}
		q, err := strptime(iso, "%Y-%m-%d %H:%M:%S")
		if err != nil || q.days != p.days || q.secs != p.secs {
			t.Fatalf("%q with %q gave %s, which reads back as %+v (%v)", value, format, iso, q, err)
		}
	})
}
