package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// everyField is a node of every operator with every field its arguments take, under the
// names the Python package writes (python/riverbed: stream.py, generators.py, kafka.py,
// textfiles.py, process.py). Values need not make sense together: the test decodes them,
// it does not bind them. (Zero values are left out: the document would not give them.)
var everyField = map[string]string{
	"scan_parquet":           `{"op":"scan_parquet","paths":["a.parquet"],"columns":["x"],"event_time":"ts","max_out_of_orderness":"5s","idle_timeout":"1s"}`,
	"scan_csv":               `{"op":"scan_csv","paths":["a.csv"],"columns":["x"],"text":{"schema":"AAAA","infer_rows":10,"has_header":false,"separator":";","comment_prefix":"#","null_values":["NA"]},"event_time":"ts"}`,
	"scan_ndjson":            `{"op":"scan_ndjson","paths":["a.ndjson"],"text":{"infer_rows":-1},"idle_timeout":"2s"}`,
	"scan_arrow":             `{"op":"scan_arrow","source":1,"bounded":true,"table":true,"rows":3,"event_time":"ts","max_out_of_orderness":"1s","idle_timeout":"1s"}`,
	"scan_kafka":             `{"op":"scan_kafka","kafka":{"brokers":["b:9092"],"topics":["t"],"format":"json","start":{"kind":"earliest"},"end":{"kind":"offsets","offsets":[{"topic":"t","partition":0,"offset":5}]},"metadata":{"key":"k"},"on_bad_record":"dead_letter","group_id":"g","options":{"a":"b"}},"event_time":"kafka_timestamp"}`,
	"kafka_dead_letters":     `{"op":"kafka_dead_letters","input":{"op":"scan_kafka","kafka":{"brokers":["b"],"topics":["t"]}}}`,
	"datagen":                `{"op":"datagen","fields":[{"name":"x","type":"int64","kind":"sequence","min":1,"max":9,"length":3,"nulls":0.5}],"rate":10,"count":5,"seed":7,"event_time":"x"}`,
	"nexmark":                `{"op":"nexmark","kind":"bid","rate":1000,"count":10,"seed":3,"max_out_of_orderness":"1s"}`,
	"filter":                 `{"op":"filter","predicate":{"fn":"gt","args":[{"col":"x"},{"lit":1,"type":"int64"}]},"input":{"op":"scan_arrow","source":1}}`,
	"select":                 `{"op":"select","exprs":[{"col":"x"},{"alias":"y","args":[{"cast":"float64","args":[{"col":"x"}]}]}],"input":{"op":"scan_arrow","source":1}}`,
	"with_columns":           `{"op":"with_columns","exprs":[{"fn":"str_contains","args":[{"col":"s"}],"options":{"pattern":"a"}}],"input":{"op":"scan_arrow","source":1}}`,
	"over":                   `{"op":"over","exprs":[{"col":"x"}],"mode":"select","input":{"op":"scan_arrow","source":1}}`,
	"aggregate":              `{"op":"aggregate","keys":[{"col":"k"}],"aggs":[{"agg":"count"}],"mini_batch":"1s","state_ttl":"1h","input":{"op":"scan_arrow","source":1}}`,
	"window_agg":             `{"op":"window_agg","keys":[{"col":"k"}],"aggs":[{"agg":"count"}],"window":{"kind":"sliding","size":"10s","slide":"2s","offset":"1s","time":"event","on":"ts"},"allowed_lateness":"1s","output":"late","input":{"op":"scan_arrow","source":1}}`,
	"union":                  `{"op":"union","inputs":[{"op":"scan_arrow","source":1},{"op":"scan_arrow","source":1}]}`,
	"limit":                  `{"op":"limit","n":3,"input":{"op":"scan_arrow","source":1}}`,
	"tail":                   `{"op":"tail","n":3,"input":{"op":"scan_arrow","source":1}}`,
	"sort":                   `{"op":"sort","keys":[{"col":"x"}],"sort_descending":[true],"nulls_last":[false],"input":{"op":"scan_arrow","source":1}}`,
	"explode":                `{"op":"explode","columns":["l"],"empty_as_null":true,"drop_nulls":true,"input":{"op":"scan_arrow","source":1}}`,
	"write_parquet_snapshot": `{"op":"write_parquet_snapshot","path":"out","mode":"overwrite","keep":2,"input":{"op":"scan_arrow","source":1}}`,
	"unique":                 `{"op":"unique","keys":[{"col":"k"}],"mode":"first","input":{"op":"scan_arrow","source":1}}`,
	"join":                   `{"op":"join","how":"asof","left_on":[{"col":"k"}],"right_on":[{"col":"k"}],"suffix":"_r","join_strategy":"auto","window":{"kind":"tumbling","size":"1s"},"lower":"-1s","upper":"1s","left_time":"ts","right_time":"ts","strategy":"nearest","tolerance":"5s","inputs":[{"op":"scan_arrow","source":1},{"op":"scan_arrow","source":1}]}`,
	"dedup":                  `{"op":"dedup","keys":[{"col":"k"}],"within":"1h","input":{"op":"scan_arrow","source":1}}`,
	"rank":                   `{"op":"rank","keys":[{"col":"k"}],"n":3,"order_by":[{"col":"x"}],"descending":[true],"nulls_first":[false],"keep_last":true,"rank_column":"rownum","input":{"op":"scan_arrow","source":1}}`,
	"topn":                   `{"op":"topn","keys":[{"col":"k"}],"n":2,"order_by":{"col":"x"},"descending":true,"with_ties":true,"window":{"kind":"tumbling","size":"10s"},"input":{"op":"scan_arrow","source":1}}`,
	"map_batches":            `{"op":"map_batches","udf":4,"schema":[{"name":"a","type":"int64"}],"input":{"op":"scan_arrow","source":1}}`,
	"process":                `{"op":"process","keys":[{"col":"k"}],"udf":2,"output_schema":"AAAA","side_schemas":["BBBB"],"state_schema":"CCCC","state_ttls":[{"ttl":"10m","update":"on_read_and_write"}],"input":{"op":"scan_arrow","source":1}}`,
	"write_parquet":          `{"op":"write_parquet","path":"out","mode":"append","max_rows_per_file":10,"max_bytes_per_file":1000,"rollover_interval":"1m","input":{"op":"scan_arrow","source":1}}`,
	"write_csv":              `{"op":"write_csv","path":"out","mode":"overwrite","text":{"include_header":false,"separator":";","null_value":"NA"},"input":{"op":"scan_arrow","source":1}}`,
	"write_ndjson":           `{"op":"write_ndjson","path":"out","mode":"error","input":{"op":"scan_arrow","source":1}}`,
	"write_kafka":            `{"op":"write_kafka","kafka":{"brokers":["b"],"topic":"t","format":"json","key":"k","delivery_guarantee":"exactly-once","transactional_id_prefix":"p","partition_by":["k"],"upsert":true,"options":{"a":"b"}},"input":{"op":"scan_arrow","source":1}}`,
}

// Every operator's arguments decode from the fields the plan document gives them, under
// the same names, and encode back to the same document: the wire format is the one the
// Python package writes.
func TestOperatorArgsRoundTrip(t *testing.T) {
	for op := range logicalOps {
		if op == "kafka_source" { // internal: never in a plan document
			continue
		}
		if _, ok := everyField[op]; !ok {
			t.Errorf("no document with every field of %q in everyField", op)
		}
	}
	for op, doc := range everyField {
		var n plan.Node
		if err := json.Unmarshal([]byte(doc), &n); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if err := prepareNodes([]*plan.Node{&n}); err != nil {
			t.Errorf("%s: %v", op, err)
			continue
		}
		if _, raw := n.Args.(json.RawMessage); raw {
			t.Errorf("%s: arguments not decoded", op)
		}
		got, err := json.Marshal(&n)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		var want, have any
		_ = json.Unmarshal([]byte(doc), &want)
		_ = json.Unmarshal(got, &have)
		if !reflect.DeepEqual(want, have) {
			t.Errorf("%s: the decoded arguments encode as\n  %s\nnot as the document\n  %s", op, got, doc)
		}
	}
}

// A plan built in Go with an operator's argument type is the same document as its JSON.
func TestNodeArgsFromGo(t *testing.T) {
	n := 3
	lim := int64(n)
	node := &plan.Node{Op: "limit", ID: "l", Args: &LimitArgs{N: &lim},
		Input: &plan.Node{Op: "scan_arrow", Args: &ScanArrowArgs{Source: 1, EventTimeDef: plan.EventTimeDef{EventTime: "ts"}}}}
	got, err := json.Marshal(node)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"op":"limit","id":"l","n":3,"input":{"op":"scan_arrow","source":1,"event_time":"ts"}}`
	if string(got) != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// Arguments that do not decode are refused naming the operator and the field: an unknown
// field with the closest one the operator takes, a value of the wrong type with the type
// the field wants.
func TestOperatorArgsErrors(t *testing.T) {
	in := `"input":{"op":"scan_arrow","source":0}`
	cases := map[string]string{
		`{"op":"filter",` + in + `,"predicat":{"col":"b"}}`:                              `filter: unknown field "predicat"; did you mean "predicate"?`,
		`{"op":"filter",` + in + `,"predicate":5}`:                                       `filter: "predicate" must be an object, got number`,
		`{"op":"select","id":"x",` + in + `,"exprs":{"col":"b"}}`:                        `select "x": "exprs" must be an array, got object`,
		`{"op":"select",` + in + `,"exprs":[{"col":"k","fn":5}]}`:                        `select: "exprs.fn" must be a string, got number`,
		`{"op":"limit",` + in + `,"n":"x"}`:                                              `limit: "n" must be an integer, got string`,
		`{"op":"scan_arrow","source":0,"event_tme":"ts"}`:                                `scan_arrow: unknown field "event_tme"; did you mean "event_time"?`,
		`{"op":"window_agg",` + in + `,"aggs":[],"window":{"kind":"tumbling","size":1}}`: `window_agg: "window.size" must be a string, got number`,
		`{"op":"union","inputs":[{"op":"scan_arrow","source":0}],"how":"inner"}`:         `union: unknown field "how"`,
	}
	for node, want := range cases {
		_, err := Explain([]byte(`{"version":1,"root":`+node+`}`), []*arrow.Schema{fuzzSchema})
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", node, err, want)
		}
	}
	// The library keeps working after such an error.
	if _, err := Explain([]byte(`{"version":1,"root":{"op":"limit","n":1,`+in+`}}`), []*arrow.Schema{fuzzSchema}); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.ParsePlan([]byte(`{"version":1,"root":{"op":"limit","input":5,"n":1}}`)); err == nil ||
		!strings.Contains(err.Error(), "a plan node must be a JSON object, got a number") {
		t.Errorf("a node that is not an object: %v", err)
	}
}
