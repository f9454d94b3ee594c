package kafka

import (
	"strings"
	"testing"
)

func TestParseGuarantee(t *testing.T) {
	for in, want := range map[string]string{
		"": AtLeastOnce, "at-least-once": AtLeastOnce, "at_least_once": AtLeastOnce, "AT_LEAST_ONCE": AtLeastOnce,
		"exactly-once": ExactlyOnce, "exactly_once": ExactlyOnce, "Exactly-Once": ExactlyOnce, "none": NoGuarantee, "NONE": NoGuarantee,
	} {
		if got, err := ParseGuarantee(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"exactly once", "exactlyonce", "at-most-once", "best-effort"} {
		_, err := ParseGuarantee(bad)
		if err == nil || !strings.Contains(err.Error(), `"exactly-once", "at-least-once" or "none"`) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
