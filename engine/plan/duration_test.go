package plan

import "testing"

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]int64{
		"10s": 10_000_000, "1m": 60_000_000, "500ms": 500_000, "2h": 7_200_000_000, "1d": 86_400_000_000,
		"250us": 250, "1h30m": 5_400_000_000, "1500": 1_500_000, "0.5s": 500_000,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "10x", "1mo", "ten seconds"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) succeeded; want an error", bad)
		}
	}
}

func TestFormatDurationReadsBack(t *testing.T) {
	cases := map[int64]string{
		0: "0s", 1: "1us", 1000: "1ms", 1_000_000: "1s", 90_000_000: "1m30s", 1_500_000: "1s500ms",
		3_600_000_000: "1h", 86_400_000_000 + 1: "1d1us", -2_000_000: "-2s",
	}
	for us, want := range cases {
		if got := FormatDuration(us); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", us, got, want)
		}
		if us < 0 {
			continue
		}
		back, err := ParseDuration(FormatDuration(us))
		if err != nil || back != us {
			t.Errorf("ParseDuration(FormatDuration(%d)) = %d, %v", us, back, err)
		}
	}
}
