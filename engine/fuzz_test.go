package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// fuzzSchema is the input every fuzzed plan reads (scan_arrow sources 0 and 1): one column of
// each kind of type the binder treats differently.
var fuzzSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "dict", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
	{Name: "h", Type: arrow.FixedWidthTypes.Float16, Nullable: true},
	{Name: "n", Type: arrow.Null, Nullable: true},
	{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}), Nullable: true},
	{Name: "ls", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
}, nil)

// fuzzSeeds are valid and nearly valid plans over fuzzSchema, one or more per operator, so
// the fuzzer starts from documents that reach deep into the binder.
var fuzzSeeds = []string{
	`{"version":1,"root":{"op":"scan_arrow","source":0}}`,
	`{"version":1,"root":{"op":"filter","input":{"op":"scan_arrow","source":0},"predicate":{"fn":"gt","args":[{"col":"x"},{"lit":1,"type":"int64"}]}}}`,
	`{"version":1,"root":{"op":"select","input":{"op":"scan_arrow","source":0},"exprs":[{"alias":"y","args":[{"fn":"add","args":[{"col":"k"},{"col":"u"}]}]},{"cast":"int64","args":[{"col":"s"}]}]}}`,
	`{"version":1,"root":{"op":"with_columns","input":{"op":"scan_arrow","source":0},"exprs":[{"alias":"t","args":[{"fn":"dt_truncate","args":[{"col":"ts"}],"options":{"every":"1mo"}}]}]}}`,
	`{"version":1,"root":{"op":"aggregate","input":{"op":"scan_arrow","source":0},"keys":[{"col":"s"}],"aggs":[{"alias":"n","args":[{"agg":"count"}]},{"agg":"sum","args":[{"col":"dec"}]}]}}`,
	`{"version":1,"root":{"op":"aggregate","input":{"op":"scan_arrow","source":0},"keys":[{"col":"dict"}],"aggs":[{"agg":"max","args":[{"col":"x"}]}]}}`,
	`{"version":1,"root":{"op":"union","inputs":[{"op":"scan_arrow","source":0},{"op":"scan_arrow","source":1}]}}`,
	`{"version":1,"root":{"op":"limit","input":{"op":"scan_arrow","source":0,"event_time":"ts","max_out_of_orderness":"5s"},"n":3}}`,
	`{"version":1,"root":{"op":"window_agg","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"keys":[{"col":"k"}],"aggs":[{"agg":"count"}],"window":{"kind":"sliding","size":"10s","slide":"2s"},"allowed_lateness":"1s","output":"results"}}`,
	`{"version":1,"root":{"op":"window_agg","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"aggs":[{"agg":"count"}],"window":{"kind":"session","gap":"10s"},"output":"late"}}`,
	`{"version":1,"root":{"op":"window_agg","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"keys":[{"col":"k"}],"aggs":[{"agg":"sum","args":[{"col":"x"}]}],"window":{"kind":"cumulate","step":"1s","size":"4s"}}}`,
	`{"version":1,"root":{"op":"join","how":"window","inputs":[{"op":"scan_arrow","source":0,"event_time":"ts"},{"op":"scan_arrow","source":1,"event_time":"ts"}],"left_on":[{"col":"k"}],"right_on":[{"col":"k"}],"window":{"kind":"tumbling","size":"10s"},"suffix":"_r"}}`,
	`{"version":1,"root":{"op":"join","how":"interval","inputs":[{"op":"scan_arrow","source":0,"event_time":"ts"},{"op":"scan_arrow","source":1,"event_time":"ts"}],"left_on":[{"col":"k"}],"right_on":[{"col":"k"}],"lower":"-5s","upper":"5s"}}`,
	`{"version":1,"root":{"op":"join","how":"asof","inputs":[{"op":"scan_arrow","source":0,"event_time":"ts"},{"op":"scan_arrow","source":1,"event_time":"d"}],"left_on":[{"col":"s"}],"right_on":[{"col":"s"}]}}`,
	`{"version":1,"root":{"op":"dedup","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"keys":[{"col":"k"}],"within":"1h"}}`,
	`{"version":1,"root":{"op":"topn","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"keys":[{"col":"k"}],"n":2,"order_by":{"col":"x"},"descending":true,"window":{"kind":"tumbling","size":"10s","on":"nope"}}}`,
	`{"version":1,"root":{"op":"topn","input":{"op":"window_agg","input":{"op":"scan_arrow","source":0,"event_time":"ts"},"keys":[{"col":"k"}],"aggs":[{"alias":"c","args":[{"agg":"count"}]}],"window":{"kind":"tumbling","size":"10s"}},"n":1,"order_by":{"col":"c"}}}`,
	`{"version":1,"root":{"op":"datagen","fields":[{"name":"a","type":"int64"},{"name":"t","type":"timestamp[ms]"}],"rate":10,"count":5,"seed":1}}`,
	`{"version":1,"root":{"op":"nexmark","kind":"bid","count":10}}`,
	`{"version":1,"root":{"op":"map_batches","input":{"op":"scan_arrow","source":0},"udf":1,"schema":[{"name":"a","type":"int64"}]}}`,
	`{"version":1,"root":{"op":"join","how":"interval","inputs":[{"op":"scan_arrow","id":"s","source":0,"event_time":"ts"},{"ref":"s"}],"left_on":[{"col":"k"}],"right_on":[{"col":"k"}],"lower":"-5s","upper":"5s"}}`,
	`{"version":1,"outputs":[{"op":"window_agg","input":{"op":"scan_arrow","id":"in","source":0,"event_time":"ts"},"keys":[{"col":"k"}],"aggs":[{"agg":"count"}],"window":{"kind":"tumbling","size":"10s"}},{"op":"window_agg","input":{"ref":"in"},"keys":[{"col":"k"}],"aggs":[{"agg":"count"}],"window":{"kind":"tumbling","size":"10s"},"output":"late"}]}`,
	`{"version":1,"outputs":[{"op":"filter","input":{"op":"scan_arrow","id":"a","source":0},"predicate":{"fn":"gt","args":[{"col":"x"},{"lit":1,"type":"int64"}]}},{"op":"union","inputs":[{"ref":"a"},{"op":"limit","n":2,"input":{"ref":"a"}}]},{"ref":"a"}]}`,
	`{"version":1,"root":{"op":"filter","input":{"op":"scan_arrow","source":0},"predicate":{"fn":"str_contains","args":[{"col":"s"}],"options":{"pattern":"a"}}},"options":{"parallelism":2,"batch_size":7}}`,
	`{"version":1,"root":{"op":"select","input":{"op":"scan_arrow","source":0},"exprs":[{"fn":"struct_field","args":[{"col":"st"}],"options":{"name":"a"}},{"fn":"list_get","args":[{"col":"ls"}],"options":{"index":-1,"null_on_oob":true}},{"fn":"list_contains","args":[{"col":"ls"},{"col":"s"}]}]}}`,
}

// FuzzExplain feeds random and mutated plan documents to the parser, the binder and the
// physical planner: every document must give a plan or an error, never a panic. make test
// runs it for a few seconds; run longer with
//
//	go test ./engine -run '^$' -fuzz FuzzExplain -fuzztime 5m
func FuzzExplain(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		// Keep the fuzzer away from the file system: Parquet scans and sinks would read or
		// list whatever path it invents.
		if bytes.Contains(doc, []byte("parquet")) {
			return
		}
		_, _ = Explain(doc, []*arrow.Schema{fuzzSchema, fuzzSchema})
	})
}

// TestFuzzSeedsBind checks that the seeds stay meaningful: most of them must bind, so the
// fuzzer explores the binder rather than the JSON decoder.
func TestFuzzSeedsBind(t *testing.T) {
	ok := 0
	for _, s := range fuzzSeeds {
		if _, err := Explain([]byte(s), []*arrow.Schema{fuzzSchema, fuzzSchema}); err == nil {
			ok++
		} else {
			t.Logf("seed refused: %v\n  %s", err, s)
		}
	}
	if ok < len(fuzzSeeds)/2 {
		t.Fatalf("only %d of %d fuzz seeds bind; fix the seeds so the fuzzer reaches the binder", ok, len(fuzzSeeds))
	}
}

// FuzzBindPlans builds plans from the fuzzer's bytes (operators, expressions, column names
// that exist and that do not, literals of every type, windows, durations, shared nodes
// referenced by id, including unknown ids and cycles, and several outputs) so that the
// binder and the physical planner are explored more deeply than byte-level mutations of JSON
// reach. Every plan must bind or give an error, never panic.
func FuzzBindPlans(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("top_n window typo"))
	f.Add([]byte{9, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3})
	f.Add(bytes.Repeat([]byte{7, 1, 200, 13, 4}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &planGen{data: data}
		p := &plan.Plan{Version: plan.PlanVersion, Options: plan.Options{Parallelism: 1 + g.pick(4)}}
		if n := g.pick(3); n == 0 {
			p.Root = g.node(4)
		} else {
			for ; n >= 0; n-- {
				p.Outputs = append(p.Outputs, g.node(4))
			}
		}
		doc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = Explain(doc, []*arrow.Schema{fuzzSchema, fuzzSchema})
	})
}

// planGen turns bytes into choices; when the bytes run out every choice is 0.
type planGen struct {
	data []byte
	i    int
	made []*plan.Node // nodes made so far (ancestors included), targets of references
}

// ref refers to a node made earlier (an ancestor makes a cycle), or to an unknown id.
func (g *planGen) ref() *plan.Node {
	if len(g.made) == 0 || g.pick(8) == 0 {
		return &plan.Node{Ref: "nope"}
	}
	t := g.made[g.pick(len(g.made))]
	if t.ID == "" {
		t.ID = fmt.Sprintf("n%d", len(g.made))
	}
	return &plan.Node{Ref: t.ID}
}

func (g *planGen) pick(n int) int {
	if g.i >= len(g.data) || n <= 0 {
		return 0
	}
	b := g.data[g.i]
	g.i++
	return int(b) % n
}

func (g *planGen) of(xs ...string) string { return xs[g.pick(len(xs))] }

var (
	genColumns   = []string{"k", "u", "x", "s", "b", "ts", "d", "dec", "dict", "fsb", "h", "n", "st", "ls", "nope", "window_start", "window_end", "rank", ""}
	genFns       = []string{"add", "sub", "mul", "div", "floordiv", "mod", "neg", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "is_null", "is_not_null", "fill_null", "str_contains", "str_starts_with", "str_ends_with", "str_lower", "str_upper", "str_len_chars", "dt_year", "dt_month", "dt_day", "dt_hour", "dt_minute", "dt_second", "dt_truncate", "struct_field", "list_len", "list_get", "list_contains", "list_join", "no_such_fn"}
	genTypes     = []string{"int8", "int16", "int32", "int64", "uint8", "uint64", "float32", "float64", "bool", "utf8", "large_utf8", "binary", "date32", "null", "timestamp[ms]", "timestamp[ns, tz=UTC]", "duration[s]", "decimal128(12, 2)", "nonsense"}
	genDurations = []string{"", "0s", "1s", "10s", "-5s", "1mo", "1y", "250ms", "9999999999d", "x"}
)

func (g *planGen) expr(depth int) *plan.Expr {
	switch k := g.pick(7); {
	case k == 0 || depth <= 0:
		c := g.of(genColumns...)
		return &plan.Expr{Col: &c}
	case k == 1:
		lits := []string{`0`, `-1`, `18446744073709551615`, `9223372036854775807`, `1.5`, `"010"`, `""`, `true`, `null`, `1e400`, `[1]`}
		return &plan.Expr{Lit: json.RawMessage(g.of(lits...)), Type: g.of(genTypes...)}
	case k == 2:
		a := g.of("n", "total", "k", "")
		return &plan.Expr{Alias: &a, Args: []*plan.Expr{g.expr(depth - 1)}}
	case k == 3:
		return &plan.Expr{Cast: g.of(genTypes...), Args: []*plan.Expr{g.expr(depth - 1)}}
	case k == 4:
		e := &plan.Expr{Agg: g.of(append([]string{"nope"}, agg.Aggregations...)...)}
		if e.Agg != "count" || g.pick(2) == 0 {
			e.Args = []*plan.Expr{g.expr(depth - 1)}
		}
		return e
	default:
		e := &plan.Expr{Fn: g.of(genFns...)}
		for n := g.pick(4); n > 0; n-- {
			e.Args = append(e.Args, g.expr(depth-1))
		}
		if g.pick(2) == 0 {
			e.Options = map[string]any{g.of("pattern", "every", "value", "name", "index", "separator"): g.of("a", "1mo", "1d", "", "-1", "9")}
		}
		return e
	}
}

func (g *planGen) exprs(depth int) []*plan.Expr {
	var out []*plan.Expr
	for n := g.pick(4); n > 0; n-- {
		out = append(out, g.expr(depth))
	}
	return out
}

func (g *planGen) window() *plan.WindowDef {
	if g.pick(4) == 0 {
		return nil
	}
	return &plan.WindowDef{Kind: g.of("tumbling", "sliding", "session", "cumulate", "bogus"),
		Size: g.of(genDurations...), Slide: g.of(genDurations...), Gap: g.of(genDurations...),
		Step: g.of(genDurations...), Offset: g.of(genDurations...), Time: g.of("", "event", "processing", "x"),
		On: g.of(genColumns...)}
}

func (g *planGen) node(depth int) *plan.Node {
	if g.pick(4) == 0 {
		return g.ref()
	}
	if depth <= 0 || g.pick(5) == 0 {
		a := &ScanArrowArgs{Source: g.pick(3), Bounded: g.pick(2) == 0, Table: g.pick(2) == 0, EventTimeDef: g.eventTime()}
		n := &plan.Node{Op: "scan_arrow", Args: a}
		g.made = append(g.made, n)
		return n
	}
	n := &plan.Node{Op: g.of("filter", "select", "with_columns", "aggregate", "union", "limit", "window_agg", "join", "dedup", "topn", "rank", "map_batches", "datagen", "nexmark", "sort", "tail", "explode", "unique", "process", "bogus")}
	g.made = append(g.made, n)
	switch n.Op {
	case "union", "join":
		n.Inputs = []*plan.Node{g.node(depth - 1), g.node(depth - 1)}
	case "datagen", "nexmark":
	default:
		n.Input = g.node(depth - 1)
	}
	switch n.Op {
	case "filter":
		n.Args = &FilterArgs{Predicate: g.expr(3)}
	case "select":
		n.Args = &SelectArgs{Exprs: g.exprs(3)}
	case "with_columns":
		n.Args = &WithColumnsArgs{Exprs: g.exprs(3)}
	case "union":
	case "limit":
		n.Args = &LimitArgs{N: g.count()}
	case "tail":
		n.Args = &TailArgs{N: g.count()}
	case "sort":
		n.Args = &SortArgs{Keys: g.exprs(2), SortDescending: make([]bool, g.pick(3)), NullsLast: make([]bool, g.pick(3))}
	case "explode":
		n.Args = &ExplodeArgs{Columns: []string{g.of(genColumns...)}, EmptyAsNull: g.pick(2) == 0, DropNulls: g.pick(2) == 0}
	case "unique":
		n.Args = &UniqueArgs{Keys: g.exprs(2), Mode: g.of("", "first", "last", "any", "none", "x")}
	case "aggregate":
		n.Args = &AggregateArgs{Keys: g.exprs(2), Aggs: g.exprs(3), MiniBatch: g.of(genDurations...), StateTTL: g.of(genDurations...)}
	case "window_agg":
		n.Args = &WindowAggArgs{Keys: g.exprs(2), Aggs: g.exprs(3), Window: g.window(),
			AllowedLateness: g.of(genDurations...), Output: g.of("", "results", "late", "x")}
	case "dedup":
		n.Args = &DedupArgs{Keys: g.exprs(2), Within: g.of(genDurations...)}
	case "topn":
		a := &TopNArgs{Keys: g.exprs(2), N: g.count(), Window: g.window(), Descending: g.pick(2) == 0, WithTies: g.pick(2) == 0}
		if g.pick(2) == 0 {
			a.OrderBy = g.expr(1)
		}
		n.Args = a
	case "rank":
		n.Args = &RankArgs{Keys: g.exprs(2), N: g.count(), OrderBy: g.exprs(2), Descending: make([]bool, g.pick(3)),
			NullsFirst: make([]bool, g.pick(3)), KeepLast: g.pick(2) == 0, RankColumn: g.of("", "rownum", "x")}
	case "join":
		n.Args = &JoinArgs{How: g.of("window", "interval", "asof", "inner", "left", "right", "full", "semi", "anti", "cross"),
			LeftOn: g.exprs(1), RightOn: g.exprs(1), Window: g.window(), Lower: g.of(genDurations...), Upper: g.of(genDurations...),
			Suffix: []*string{nil, new(string), &[]string{"_r"}[0]}[g.pick(3)], JoinStrategy: g.of("", "auto", "hash", "broadcast", "x"),
			LeftTime: g.of("", "ts", "d", "k"), RightTime: g.of("", "ts", "d", "k"), Strategy: g.of("", "backward", "nearest", "x"),
			Tolerance: g.of(genDurations...)}
	case "datagen":
		n.Args = &DatagenArgs{Fields: []plan.FieldDef{{Name: g.of(genColumns...), Type: g.of(genTypes...), Kind: g.of("", "sequence", "random")}},
			Rate: float64(g.pick(3)) * 1000, Count: g.count(), EventTimeDef: g.eventTime()}
	case "nexmark":
		n.Args = &NexmarkArgs{Kind: g.of("bid", "person", "auction", "x"), Rate: float64(g.pick(3)) * 1000, Count: g.count(), EventTimeDef: g.eventTime()}
	case "map_batches":
		n.Args = &MapBatchesArgs{UDF: 1, Schema: []plan.FieldDef{{Name: g.of(genColumns...), Type: g.of(genTypes...)}}}
	case "process":
		n.Args = &ProcessArgs{Keys: g.exprs(2), UDF: int64(g.pick(2)), OutputSchema: g.of("", "AAAA", "%%%"),
			StateTTLs: []StateTTL{{TTL: g.of(genDurations...), Update: g.of("", "on_read_and_write", "x")}}}
	default: // an unknown operator, with some arguments
		n.Args = &FilterArgs{Predicate: g.expr(1)}
	}
	if g.pick(16) == 0 {
		n.Args = json.RawMessage(`{"nope":1}`) // a field no operator takes
	}
	return n
}

// count is a number of rows: absent, -1 or small.
func (g *planGen) count() *int64 {
	if g.pick(3) == 0 {
		return nil
	}
	v := int64(g.pick(5)) - 1
	return &v
}

// eventTime is a source's event time: none, or a column (that exists or not) with
// durations (valid or not).
func (g *planGen) eventTime() plan.EventTimeDef {
	if g.pick(2) == 0 {
		return plan.EventTimeDef{}
	}
	return plan.EventTimeDef{EventTime: g.of(genColumns...), MaxOutOfOrderness: g.of(genDurations...), IdleTimeout: g.of(genDurations...)}
}
