package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

func boundIDs(t *testing.T, doc string) (map[string]string, string) {
	t.Helper()
	p, err := plan.ParsePlan([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := Bind(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := assignIDs(outs)
	if err != nil {
		t.Fatal(err)
	}
	byOp := map[string]string{}
	for n, id := range ids {
		if n.op != "filter" {
			byOp[n.op] = id
		}
	}
	return byOp, fingerprint(outs, ids)
}

const windowed = `{"version":1,"root":{"op":"window_agg","keys":[{"col":"auction"}],"aggs":[{"alias":"n","args":[{"agg":"count"}]}],
 "window":{"kind":"tumbling","size":"1s"},"input":%s}}`

// Stable operator ids: a node's kind and rank among nodes of that kind, so adding a
// filter leaves the ids (and the fingerprint) of the stateful operators unchanged; a uid
// overrides the id; two equal uids are refused.
func TestStableOperatorIDs(t *testing.T) {
	src := `{"op":"nexmark","kind":"bid","count":100}`
	filtered := `{"op":"filter","predicate":{"fn":"gt","args":[{"col":"price"},{"lit":1,"type":"int64"}]},"input":` + src + `}`
	a, fpA := boundIDs(t, strings.Replace(windowed, "%s", src, 1))
	b, fpB := boundIDs(t, strings.Replace(windowed, "%s", filtered, 1))
	if a["window_agg"] != "window_agg-0" || a["nexmark"] != "nexmark-0" {
		t.Fatalf("ids %v", a)
	}
	if a["window_agg"] != b["window_agg"] || a["nexmark"] != b["nexmark"] {
		t.Fatalf("a filter changed the ids: %v then %v", a, b)
	}
	if fpA != fpB {
		t.Fatalf("a filter changed the fingerprint:\n%s\n%s", fpA, fpB)
	}
	withUID := strings.Replace(strings.Replace(windowed, "%s", src, 1), `"op":"window_agg",`, `"op":"window_agg","uid":"counts",`, 1)
	c, fpC := boundIDs(t, withUID)
	if c["window_agg"] != "counts" {
		t.Fatalf("uid ignored: %v", c)
	}
	if d := fingerprintDiff(fpA, fpC); !strings.Contains(d, `stateful operator "window_agg-0" is not in this plan`) || !strings.Contains(d, `stateful operator "counts" is new`) {
		t.Fatalf("diff %q", d)
	}
	dup := strings.Replace(withUID, `"op":"nexmark",`, `"op":"nexmark","uid":"counts",`, 1)
	p, err := plan.ParsePlan([]byte(dup))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := Bind(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := assignIDs(outs); err == nil || !strings.Contains(err.Error(), `same uid "counts"`) {
		t.Fatalf("duplicate uids: %v", err)
	}
}

// Bad fault-tolerance options are refused at start with errors that name them.
func TestCheckpointOptionErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		`{"checkpoint_interval":"1s"}`:                                "checkpoint_dir",
		`{"checkpoint_dir":"` + dir + `","checkpoint_interval":"x"}`:  "checkpoint_interval",
		`{"checkpoint_timeout":"1s"}`:                                 "checkpoint_timeout is set but checkpoint_dir is not",
		`{"checkpoint_dir":"` + dir + `","checkpoint_timeout":"0s"}`:  `checkpoint_timeout must be positive, got "0s"`,
		`{"checkpoint_dir":"` + dir + `","checkpoint_interval":"0s"}`: `checkpoint_interval must be positive, got "0s"`,
		`{"state_backend":"rocks"}`:                                   `unknown state backend "rocks"`,
		`{"state_backend":"pebble"}`:                                  "not linked into this program",
		`{"restore":"latest"}`:                                        "needs checkpoint_dir",
		`{"restore":"` + dir + `/nope"}`:                              "not a complete checkpoint",
	}
	for opts, want := range cases {
		doc := `{"version":1,"root":{"op":"nexmark","kind":"bid","count":10},"options":` + opts + `}`
		_, err := Start(context.Background(), []byte(doc), nil, memory.DefaultAllocator)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("options %s: %v, want an error containing %q", opts, err, want)
		}
	}
}

// A checkpoint restores into the same plan, into one that only lost operators or sources
// when dropping their state, and into one whose operator configuration its checkpoint did
// not record (taken by a build before that operator recorded it); not into another
// configuration.
func TestRestorableFingerprints(t *testing.T) {
	was := `sources[scan_arrow-0=scan_arrow;scan_arrow-1=scan_arrow] operators[join-0{join (inner join on k)};window_agg-0{tumbling 1s}]`
	cases := []struct {
		now            string
		plain, dropped bool
	}{
		{was, true, true},
		{`sources[scan_arrow-0=scan_arrow;scan_arrow-1=scan_arrow] operators[join-0{join (left join on k)};window_agg-0{tumbling 1s}]`, false, false},
		{`sources[scan_arrow-0=scan_arrow;scan_arrow-1=scan_arrow] operators[join-0{join (inner join on k)}]`, false, true},
		{`sources[scan_arrow-0=scan_arrow] operators[join-0{join (inner join on k)};window_agg-0{tumbling 1s}]`, false, true},
		{`sources[scan_arrow-0=scan_arrow;scan_arrow-1=scan_arrow;scan_arrow-2=scan_arrow] operators[join-0{join (inner join on k)};window_agg-0{tumbling 1s}]`, false, false},
		{`sources[scan_arrow-0=scan_arrow;scan_arrow-1=scan_arrow] operators[join-0{join (inner join on k)};window_agg-0{tumbling 1s};dedup-0{dedup (first row per key)}]`, false, false},
	}
	for i, c := range cases {
		if got := restorable(was, c.now, false); got != c.plain {
			t.Errorf("case %d: restorable %v, want %v", i, got, c.plain)
		}
		if got := restorable(was, c.now, true); got != c.dropped {
			t.Errorf("case %d: restorable dropping %v, want %v", i, got, c.dropped)
		}
	}
	older := `sources[scan_arrow-0=scan_arrow;scan_arrow-1=scan_arrow] operators[join-0;window_agg-0{tumbling 1s}]`
	if !restorable(older, was, false) {
		t.Error("a checkpoint without the join's configuration is refused")
	}
	if d := fingerprintDiff(older, was); strings.Contains(d, "join-0") {
		t.Errorf("the diff names the join: %s", d)
	}
}
