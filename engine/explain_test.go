package engine

import (
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// Explain speaks the user's language: durations as written ("10s", not microseconds),
// window definitions in words, aggregations with their columns.
func TestExplainIsUserLevelText(t *testing.T) {
	cases := []struct {
		doc  string
		want []string
	}{
		{`{"version":1,"root":{"op":"window_agg","input":{"op":"scan_arrow","source":0,"event_time":"ts","max_out_of_orderness":"5s"},"keys":[{"col":"k"}],"aggs":[{"alias":"n","args":[{"agg":"count"}]},{"alias":"max_x","args":[{"agg":"max","args":[{"col":"x"}]}]}],"window":{"kind":"sliding","size":"10s","slide":"2000ms"},"allowed_lateness":"1m30s","output":"results"}}`,
			[]string{`sliding window of 10s every 2s on "ts"`, "n = count(*)", "max_x = max(x)", "allowed lateness 1m30s"}},
		{`{"version":1,"root":{"op":"window_agg","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"aggs":[{"agg":"count"}],"window":{"kind":"session","gap":"10s"}}}`,
			[]string{`session window with gap 10s on "ts"`, "allowed lateness 0s"}},
		{`{"version":1,"root":{"op":"window_agg","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"aggs":[{"agg":"sum","args":[{"col":"x"}]}],"window":{"kind":"cumulate","step":"1s","size":"4s"}}}`,
			[]string{`cumulate window of 4s in steps of 1s on "ts"`, "= sum(x)"}},
		{`{"version":1,"root":{"op":"aggregate","input":{"op":"scan_arrow","source":0},"keys":[{"col":"s"}],"aggs":[{"alias":"n","args":[{"agg":"count"}]},{"alias":"total","args":[{"agg":"sum","args":[{"col":"x"}]}]}]}}`,
			[]string{"keys [col(\"s\")]", "n = count(*)", "total = sum(x)"}},
		{`{"version":1,"root":{"op":"dedup","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"keys":[{"col":"k"}],"within":"1h"}}`,
			[]string{"within 1h"}},
		{`{"version":1,"root":{"op":"dedup","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"keys":[{"col":"k"}]}}`,
			[]string{"dedup: first row per key"}},
		{`{"version":1,"root":{"op":"join","how":"interval","inputs":[{"op":"scan_arrow","source":0,"event_time":"ts"},{"op":"scan_arrow","source":1,"event_time":"ts"}],"left_on":[{"col":"k"}],"right_on":[{"col":"k"}],"lower":"-5s","upper":"500ms"}}`,
			[]string{"interval join, right rows from -5s to 500ms around each left row"}},
	}
	raw := regexp.MustCompile(`\d+us\b`)
	for _, c := range cases {
		text, err := Explain([]byte(c.doc), []*arrow.Schema{fuzzSchema, fuzzSchema})
		if err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("explain lacks %q:\n%s", w, text)
			}
		}
		if strings.Contains(text, "{Kind:") || raw.MatchString(text) {
			t.Errorf("explain shows Go structs or raw microseconds:\n%s", text)
		}
	}
}
