package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseDuration reads a duration such as "10s", "1m", "500ms", "2h", "1d", "250us" or
// "1h30m" into microseconds. A bare number is milliseconds.
func ParseDuration(s string) (int64, error) {
	str := strings.TrimSpace(strings.ToLower(s))
	if str == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseInt(str, 10, 64); err == nil {
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			return 0, fmt.Errorf("duration %q is too long (durations are microseconds in an int64: at most about 292,000 years)", s)
		}
		return n * 1000, nil
	}
	units := []struct {
		suffix string
		micros int64
	}{{"ms", 1000}, {"us", 1}, {"ns", 0}, {"d", 86_400_000_000}, {"h", 3_600_000_000}, {"m", 60_000_000}, {"s", 1_000_000}}
	var total int64
	rest := str
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q (expected e.g. \"10s\", \"1m\", \"500ms\", \"2h\", \"1d\")", s)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		rest = rest[i:]
		matched := false
		for _, u := range units {
			if strings.HasPrefix(rest, u.suffix) {
				if u.suffix == "m" && strings.HasPrefix(rest, "mo") {
					return 0, fmt.Errorf("invalid duration %q: months have no fixed length; use days", s)
				}
				v := num / 1000
				if u.micros != 0 {
					v = num * float64(u.micros)
				}
				if v >= math.MaxInt64 || total+int64(v) < total {
					return 0, fmt.Errorf("duration %q is too long (durations are microseconds in an int64: at most about 292,000 years)", s)
				}
				total += int64(v)
				rest = rest[len(u.suffix):]
				matched = true
				break
			}
		}
		if !matched {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (expected ms, s, m, h or d)", s, rest)
		}
	}
	return total, nil
}

// FormatDuration renders microseconds the way a user writes a duration, in the units
// ParseDuration reads: "10s", "1m30s", "500ms", "2h", "1d", "250us"; "0s" for zero.
func FormatDuration(us int64) string {
	if us == 0 {
		return "0s"
	}
	if us < 0 {
		if us == -us { // math.MinInt64 has no positive counterpart
			return fmt.Sprintf("%dus", us)
		}
		return "-" + FormatDuration(-us)
	}
	var b strings.Builder
	for _, u := range []struct {
		suffix string
		micros int64
	}{{"d", 86_400_000_000}, {"h", 3_600_000_000}, {"m", 60_000_000}, {"s", 1_000_000}, {"ms", 1000}, {"us", 1}} {
		if n := us / u.micros; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			us -= n * u.micros
		}
	}
	return b.String()
}
