package engine

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

func TestRuntimeModeIsValidated(t *testing.T) {
	for _, mode := range []string{"", "automatic", "batch", "streaming"} {
		doc := `{"version": 1, "root": {"op": "scan_arrow"}, "options": {"runtime_mode": "` + mode + `"}}`
		if _, err := plan.ParsePlan([]byte(doc)); err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
	}
	_, err := plan.ParsePlan([]byte(`{"version": 1, "root": {"op": "scan_arrow"}, "options": {"runtime_mode": "streamin"}}`))
	if err == nil || !strings.Contains(err.Error(), `did you mean "streaming"`) {
		t.Fatalf("want a suggestion, got %v", err)
	}
}

func TestResolveRuntimeMode(t *testing.T) {
	table := &lnode{op: "scan_arrow", name: "scan_arrow", impl: &scanArrowOp{ScanArrowArgs: ScanArrowArgs{Bounded: true}}}
	stream := &lnode{op: "scan_arrow", name: "scan_arrow", impl: &scanArrowOp{}}
	endless := &lnode{op: "nexmark", name: "nexmark", impl: &nexmarkOp{generator: generator{count: -1}}}
	finite := &lnode{op: "datagen", name: "datagen", impl: &datagenOp{generator: generator{count: 10}}}
	join := func(a, b *lnode) *lnode { return &lnode{op: "join", inputs: []*lnode{a, b}} }
	cases := []struct {
		mode  string
		root  *lnode
		batch bool
		err   string
	}{
		{"", join(table, finite), true, ""},
		{"automatic", join(table, stream), false, ""},
		{"automatic", join(table, endless), false, ""},
		{"streaming", join(table, finite), false, ""},
		{"batch", join(table, stream), true, ""},
		{"batch", join(finite, endless), false, "nexmark (nexmark without max_events) is unbounded"},
	}
	for _, c := range cases {
		batch, err := resolveRuntimeMode(c.mode, []*lnode{c.root})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: want error %q, got %v", c.mode, c.err, err)
			}
			continue
		}
		if err != nil || batch != c.batch {
			t.Errorf("%q: got batch=%v err=%v, want batch=%v", c.mode, batch, err, c.batch)
		}
	}
}

func TestSafeWatermarkNeverPassesTheNextRow(t *testing.T) {
	const us = int64(1_767_225_600_123_456)
	for _, c := range []struct {
		dt   arrow.DataType
		want int64
	}{
		{&arrow.TimestampType{Unit: arrow.Microsecond}, us - 1},
		{&arrow.TimestampType{Unit: arrow.Millisecond}, us - 456 - 1}, // the row's ms value
		{&arrow.TimestampType{Unit: arrow.Second}, us - 123_456 - 1},
		{&arrow.TimestampType{Unit: arrow.Nanosecond}, us - 1},
	} {
		if got := expr.SafeWatermark(us, c.dt); got != c.want {
			t.Errorf("%s: got %d, want %d", c.dt, got, c.want)
		}
	}
}
