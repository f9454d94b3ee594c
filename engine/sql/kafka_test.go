package sql

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ordersDDL is a kafka table read from the earliest offset, unbounded, with metadata
// columns and a watermark.
const ordersDDL = `CREATE TABLE orders (
  id BIGINT,
  currency STRING,
  amount DOUBLE,
  order_time TIMESTAMP(3),
  ` + "`partition`" + ` INT METADATA VIRTUAL,
  ` + "`offset`" + ` BIGINT METADATA VIRTUAL,
  kts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'orders',
  'properties.bootstrap.servers' = 'localhost:9092',
  'properties.group.id' = 'g1',
  'properties.client.id' = 'c1',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'
);
`

// names are a schema's column names.
func names(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// findOp is the first node of op in a plan tree (depth first), or nil.
func findOp(n *plan.Node, op string) *plan.Node {
	if n == nil {
		return nil
	}
	if n.Op == op {
		return n
	}
	if f := findOp(n.Input, op); f != nil {
		return f
	}
	for _, in := range n.Inputs {
		if f := findOp(in, op); f != nil {
			return f
		}
	}
	return nil
}

func TestKafkaTableIsAScanKafka(t *testing.T) {
	n, s, err := compileAndBind(t, ordersDDL+"SELECT id, currency, `partition`, `offset`, kts, order_time FROM orders WHERE amount > 1")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(s), ","); got != "id,currency,partition,offset,kts,order_time" {
		t.Fatalf("columns %s", got)
	}
	for i, want := range []string{"int64", "utf8", "int32", "int64", "timestamp[ms, tz=UTC]", "timestamp[ms]"} {
		if got := expr.TypeName(s.Field(i).Type); got != want {
			t.Errorf("column %d: %s, want %s", i, got, want)
		}
	}
	scan := findOp(n, "scan_kafka")
	if scan == nil {
		t.Fatal("no scan_kafka in the plan")
	}
	a := scan.Args.(*engine.ScanKafkaArgs)
	d := a.Kafka
	if strings.Join(d.Brokers, ",") != "localhost:9092" || strings.Join(d.Topics, ",") != "orders" || d.Format != "json" ||
		d.GroupID != "g1" || d.Options["client.id"] != "c1" || d.Start.Kind != "earliest" || d.End != nil {
		t.Errorf("kafka settings %+v", d)
	}
	if d.Metadata["partition"] != "partition" || d.Metadata["offset"] != "offset" || d.Metadata["timestamp"] != "kts" {
		t.Errorf("metadata %v", d.Metadata)
	}
	if a.EventTime != "order_time" || a.MaxOutOfOrderness != "5000000us" && a.MaxOutOfOrderness != "5s" {
		t.Errorf("event time %q, delay %q", a.EventTime, a.MaxOutOfOrderness)
	}
}

func TestKafkaStartAndEnd(t *testing.T) {
	ddl := func(opts string) string {
		return "CREATE TABLE k (v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'x', 'properties.bootstrap.servers' = 'b:1', 'format' = 'json'" + opts + "); SELECT v FROM k"
	}
	cases := []struct {
		opts       string
		start, end plan.KafkaBound
		bounded    bool
	}{
		{"", plan.KafkaBound{Kind: "earliest"}, plan.KafkaBound{}, false},
		{", 'scan.startup.mode' = 'latest-offset', 'scan.bounded.mode' = 'unbounded'", plan.KafkaBound{Kind: "latest"}, plan.KafkaBound{}, false},
		{", 'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '1700000000000', 'scan.bounded.mode' = 'latest-offset'",
			plan.KafkaBound{Kind: "timestamp", Millis: 1700000000000}, plan.KafkaBound{Kind: "latest"}, true},
		{", 'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'partition:0,offset:42;partition:1,offset:300', 'scan.bounded.mode' = 'timestamp', 'scan.bounded.timestamp-millis' = '5'",
			plan.KafkaBound{Kind: "offsets", Offsets: []plan.KafkaTopicOffsets{{Topic: "x", Partition: 0, Offset: 42}, {Topic: "x", Partition: 1, Offset: 300}}},
			plan.KafkaBound{Kind: "timestamp", Millis: 5}, true},
	}
	for _, c := range cases {
		n, _, err := compileAndBind(t, ddl(c.opts))
		if err != nil {
			t.Fatalf("%s: %v", c.opts, err)
		}
		d := findOp(n, "scan_kafka").Args.(*engine.ScanKafkaArgs).Kafka
		if d.Start.Kind != c.start.Kind || d.Start.Millis != c.start.Millis || len(d.Start.Offsets) != len(c.start.Offsets) {
			t.Errorf("%s: start %+v, want %+v", c.opts, d.Start, c.start)
		}
		for i := range c.start.Offsets {
			if d.Start.Offsets[i] != c.start.Offsets[i] {
				t.Errorf("%s: start offsets %+v", c.opts, d.Start.Offsets)
			}
		}
		if (d.End != nil) != c.bounded || d.End != nil && (d.End.Kind != c.end.Kind || d.End.Millis != c.end.Millis) {
			t.Errorf("%s: end %+v, want %+v", c.opts, d.End, c.end)
		}
	}
}

const sinkOpts = "'properties.bootstrap.servers' = 'b:1', 'format' = 'json'"

func TestInsertIntoKafka(t *testing.T) {
	q := "CREATE TABLE out (k BIGINT, total DOUBLE) WITH ('connector' = 'kafka', 'topic' = 'out', " + sinkOpts +
		", 'key.fields' = 'k', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx', 'properties.linger.ms' = '5');\n" +
		"INSERT INTO out SELECT k, x FROM t WHERE x > 0"
	n, s, err := compileAndBind(t, q)
	if err != nil {
		t.Fatal(err)
	}
	if n.Op != "write_kafka" || strings.Join(names(s), ",") != "topic,rows,records" {
		t.Fatalf("root %s, columns %v", n.Op, names(s))
	}
	d := n.Args.(*engine.WriteKafkaArgs).Kafka
	if d.Topic != "out" || d.Key != "k" || d.DeliveryGuarantee != "exactly-once" || d.TransactionalIDPrefix != "tx" || d.Upsert || d.Options["linger.ms"] != "5" {
		t.Errorf("sink settings %+v", d)
	}
	if sel := n.Input; sel.Op != "select" {
		t.Errorf("the sink's input is %s, not the select naming the table's columns", sel.Op)
	}
}

// An updating result (GROUP BY over an unbounded kafka table) goes to upsert-kafka, keyed
// by its PRIMARY KEY; plain kafka refuses it, as Flink's append-only sinks do.
func TestInsertUpdatesIntoKafka(t *testing.T) {
	src := "CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'src', " + sinkOpts + ");\n"
	up := src + "CREATE TABLE agg (k BIGINT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'agg', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\n" +
		"INSERT INTO agg SELECT k, COUNT(*) FROM src GROUP BY k"
	n, _, err := compileAndBind(t, up)
	if err != nil {
		t.Fatal(err)
	}
	d := n.Args.(*engine.WriteKafkaArgs).Kafka
	if !d.Upsert || strings.Join(d.Keys, ",") != "k" || d.Topic != "agg" {
		t.Errorf("upsert sink settings %+v", d)
	}
	// a composite key
	up2 := src + "CREATE TABLE agg (k BIGINT, v BIGINT, n BIGINT, PRIMARY KEY (k, v) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'agg', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'json', 'value.format' = 'json');\n" +
		"INSERT INTO agg SELECT k, v, COUNT(*) FROM src GROUP BY k, v"
	if _, _, err := compileAndBind(t, up2); err != nil {
		t.Fatal(err)
	}
	// a key other than the GROUP BY's: the engine's error, at the table name
	wrong := strings.Replace(up, "PRIMARY KEY (k)", "PRIMARY KEY (n)", 1)
	if _, _, err := compileAndBind(t, wrong); err == nil || !strings.Contains(err.Error(), "SQL line 3, column 13:") || !strings.Contains(err.Error(), "not by n") {
		t.Errorf("upsert key other than the GROUP BY keys: %v", err)
	}
	plain := src + "CREATE TABLE agg (k BIGINT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'agg', " + sinkOpts + ");\n" +
		"INSERT INTO agg SELECT k, COUNT(*) FROM src GROUP BY k"
	_, _, err = compileAndBind(t, plain)
	if err == nil || !strings.Contains(err.Error(), "SQL line 3, column 13: INSERT INTO agg: the kafka table is append-only and does not accept updates") {
		t.Errorf("updates into kafka: %v", err)
	}
	// an upsert-kafka table that is only declared is no error
	decl := "CREATE TABLE up (k BIGINT, x DOUBLE, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\n"
	if _, _, err := compileAndBind(t, decl+"SELECT k FROM t"); err != nil {
		t.Errorf("a declared upsert-kafka table: %v", err)
	}
	// appended rows into upsert-kafka: each row an upsert of its key
	app := "CREATE TABLE last (k BIGINT, x DOUBLE, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'l', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\n" +
		"INSERT INTO last SELECT k, x FROM t"
	n, _, err = compileAndBind(t, app)
	if err != nil {
		t.Fatal(err)
	}
	if d := n.Args.(*engine.WriteKafkaArgs).Kafka; d.Upsert || d.Key != "k" {
		t.Errorf("append into upsert-kafka: %+v", d)
	}
}

func TestKafkaOptionErrors(t *testing.T) {
	base := "CREATE TABLE k (v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'x', 'properties.bootstrap.servers' = 'b:1', 'format' = 'json'"
	read := "); SELECT v FROM k"
	cases := []struct{ q, want string }{
		{base + ", 'scan.startup.mod' = 'latest-offset'" + read, "SQL line 1, column 130: unknown option 'scan.startup.mod' for the kafka connector; did you mean 'scan.startup.mode'?"},
		{base + ", 'properties.client.idd' = 'x'" + read, "SQL line 1, column 130: unknown Kafka client property 'client.idd'; did you mean 'properties.client.id'?"},
		{base + ", 'scan.startup.mode' = 'earliest'" + read, "SQL line 1, column 130: option 'scan.startup.mode': takes 'earliest-offset', 'latest-offset', 'timestamp' or 'specific-offsets', got 'earliest'"},
		{base + ", 'scan.startup.mode' = 'group-offsets'" + read, "'scan.startup.mode' = 'group-offsets' (the offsets of a job are its checkpoints'"},
		{base + ", 'scan.startup.mode' = 'timestamp'" + read, "option 'scan.startup.mode': 'timestamp' needs 'scan.startup.timestamp-millis'"},
		{base + ", 'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'p0:42'" + read, "'p0:42' is not 'partition:<n>,offset:<n>'"},
		{base + ", 'scan.bounded.timestamp-millis' = '5'" + read, "option 'scan.bounded.timestamp-millis': goes with 'scan.bounded.mode' = 'timestamp'"},
		{base + ", 'json.ignore-parse-errors' = 'true'" + read, "SQL line 1, column 130: 'json.ignore-parse-errors' = 'true' (a record that cannot be read fails the job"},
		{base + ", 'csv.field-delimiter' = ';'" + read, "option 'csv.field-delimiter': an option of format 'csv', and the table's format is 'json'"},
		{base + ", 'sink.delivery-guarantee' = 'exactly-once'" + read, "'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix'"},
		{base + ", 'sink.delivery-guarantee' = 'EXACTLY_ONCE'" + read, "'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix'"},
		{base + ", 'sink.delivery-guarantee' = 'at-most-once'" + read, "option 'sink.delivery-guarantee': takes 'exactly-once', 'at-least-once' or 'none' (or with underscores, 'exactly_once'), got 'at-most-once'"},
		{strings.Replace(base, "'json'", "'jsn'", 1) + read, "option 'format': unknown format 'jsn'; did you mean 'json'?"},
		{strings.Replace(base, "'kafka'", "'kafk'", 1) + read, "unknown connector 'kafk'; did you mean 'kafka'?"},
		{strings.Replace(base, ", 'properties.bootstrap.servers' = 'b:1'", "", 1) + read, "SQL line 1, column 33: the kafka connector needs 'properties.bootstrap.servers'"},
		{strings.Replace(base, "v BIGINT", "v BIGINT, p INT METADATA FROM 'partiton'", 1) + read, "SQL line 1, column 47: the kafka connector has no metadata 'partiton'; did you mean 'partition'?"},
		{strings.Replace(base, "v BIGINT", "v BIGINT PRIMARY KEY", 1) + read, "SQL line 1, column 37: PRIMARY KEY needs NOT ENFORCED"},
		{strings.Replace(base, "v BIGINT", "v BIGINT PRIMARY KEY NOT ENFORCED", 1) + read, "SQL line 1, column 26: the kafka connector takes no PRIMARY KEY"},
		{"CREATE TABLE u (v BIGINT, PRIMARY KEY (v) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'x', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json'); SELECT v FROM u, t WHERE u.v = t.k ORDER BY v",
			"takes appended rows only"},
		{"CREATE TABLE u (v BIGINT) WITH ('connector' = 'upsert-kafka', 'topic' = 'x', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json'); INSERT INTO u SELECT k FROM t",
			"the upsert-kafka connector needs PRIMARY KEY (...) NOT ENFORCED"},
		{base + "); CREATE TABLE o (v BIGINT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp') WITH ('connector' = 'kafka', 'topic' = 'o', " + sinkOpts + "); INSERT INTO o SELECT v, CAST(NULL AS TIMESTAMP_LTZ(3)) FROM k",
			"INSERT INTO o, whose metadata column ts is written (declare it METADATA VIRTUAL"},
		{base + ", 'format' = 'csv'" + read, "option 'format' is given twice"},
		{"CREATE TABLE g (id BIGINT, p INT METADATA) WITH ('connector' = 'datagen', 'number-of-rows' = '3'); SELECT id FROM g",
			"SQL line 1, column 34: the datagen connector has no METADATA columns"},
		{"CREATE TABLE g (id BIGINT PRIMARY KEY NOT ENFORCED) WITH ('connector' = 'datagen', 'number-of-rows' = '3'); SELECT id FROM g",
			"SQL line 1, column 27: a PRIMARY KEY of a table of the datagen connector"},
	}
	for _, c := range cases {
		_, _, err := compileAndBind(t, c.q)
		var re *rberr.Error
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &re) || re.Kind == rberr.Internal {
			t.Errorf("%q:\n got error %v\nwant %q", c.q, err, c.want)
		}
	}
}

// FOR SYSTEM_TIME AS OF plans an as-of join (backward) on the ON keys; an inner join
// drops left rows without a version.
func TestTemporalJoinPlans(t *testing.T) {
	for _, kind := range []string{"JOIN", "LEFT JOIN"} {
		q := "SELECT o.k, o.x, r.x AS rate, r.ts AS rate_time FROM t AS o " + kind + " u FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k"
		n, s, err := compileAndBind(t, q)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if got := strings.Join(names(s), ","); got != "k,x,rate,rate_time" {
			t.Errorf("%s: columns %s", kind, got)
		}
		j := findOp(n, "join")
		if j == nil {
			t.Fatalf("%s: no join", kind)
		}
		a := j.Args.(*engine.JoinArgs)
		if a.How != "asof" || a.Strategy != "backward" || len(a.LeftOn) != 1 {
			t.Errorf("%s: join %+v", kind, a)
		}
		if hasFilter := findOp(n, "filter") != nil; hasFilter != (kind == "JOIN") {
			t.Errorf("%s: filter of unmatched rows present: %v", kind, hasFilter)
		}
	}
	// other conditions of an inner temporal join filter the joined rows
	if _, _, err := compileAndBind(t, "SELECT o.k FROM t o JOIN u FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k AND r.x > o.x"); err != nil {
		t.Fatal(err)
	}
}

func TestTemporalJoinErrors(t *testing.T) {
	src := "CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP(3), pt TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 'src', " + sinkOpts + ");\n"
	cases := []struct{ q, want string }{
		{"SELECT * FROM t o FULL JOIN u FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k", "SQL line 1, column 19: a temporal join other than [INNER] JOIN and LEFT JOIN"},
		{"SELECT * FROM u FOR SYSTEM_TIME AS OF u.ts", "SQL line 1, column 17: FOR SYSTEM_TIME AS OF names the versioned table on the right of a temporal join"},
		{"SELECT * FROM t o JOIN u FOR SYSTEM_TIME AS OF o.x AS r ON o.k = r.k", "SQL line 1, column 48: FOR SYSTEM_TIME AS OF o.x: the column is float64, not a timestamp"},
		{"SELECT * FROM t o JOIN u FOR SYSTEM_TIME AS OF o.ts AS r ON o.x > r.x", "SQL line 1, column 19: a temporal join needs an equality between the two tables' keys"},
		{"SELECT * FROM t o LEFT JOIN u FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k AND r.x > 1", "SQL line 1, column 80: a condition other than key equalities in the ON clause of a LEFT temporal join is not supported yet"},
		{"CREATE VIEW v AS SELECT k, x FROM u; SELECT * FROM t o JOIN v FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k", "SQL line 1, column 61: v is not a versioned table: an event-time temporal join needs its event time"},
		{src + "SELECT * FROM src o JOIN src FOR SYSTEM_TIME AS OF o.pt AS r ON o.k = r.k", "SQL line 2, column 52: FOR SYSTEM_TIME AS OF o.pt: an event-time temporal join looks versions up at the left table's event time (ts); a processing-time one is FOR SYSTEM_TIME AS OF PROCTIME()"},
		{src + "CREATE VIEW last AS SELECT k, MAX(ts) AS ts FROM src GROUP BY k; SELECT * FROM src o JOIN last FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k",
			"FOR SYSTEM_TIME AS OF last: last is an updating table (a changelog"},
		{"CREATE TABLE up (k BIGINT, x DOUBLE, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\nSELECT * FROM t o JOIN up FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k",
			"SQL line 2, column 27: FOR SYSTEM_TIME AS OF the upsert-kafka table up (a changelog"},
		{"SELECT * FROM t o JOIN u FOR SYSTEM_TIME AS OF NOW() AS r ON o.k = r.k", "SQL line 1, column 48: FOR SYSTEM_TIME AS OF NOW(); join at the left table's event time"},
		{"SELECT * FROM t o FULL JOIN u FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.k = r.k", "SQL line 1, column 19: a temporal join other than [INNER] JOIN and LEFT JOIN"},
		{"SELECT * FROM t o LEFT JOIN u FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.k = r.k AND r.x > 1", "a condition other than key equalities in the ON clause of a LEFT temporal join"},
		{src + "CREATE VIEW last AS SELECT k, MAX(ts) AS ts FROM src GROUP BY k; SELECT * FROM last o JOIN src FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.k = r.k",
			"the left input of a processing-time temporal join is an updating stream"},
		{"SELECT * FROM t o JOIN u FOR SYSTEM AS OF o.ts ON o.k = u.k", "SQL line 1, column 30: expected SYSTEM_TIME AS OF after FOR, found 'SYSTEM'"},
	}
	for _, c := range cases {
		_, _, err := compileAndBind(t, c.q)
		var re *rberr.Error
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &re) || re.Kind == rberr.Internal {
			t.Errorf("%q:\n got error %v\nwant %q", c.q, err, c.want)
		}
	}
}

// Reading an upsert-kafka table is Flink's upsert-kafka source: a scan_kafka of upserts
// and tombstones by the PRIMARY KEY, an updating table (a changelog keyed by it) that a
// GROUP BY, a join or an upsert-kafka sink takes.
func TestReadUpsertKafka(t *testing.T) {
	decl := "CREATE TABLE up (k BIGINT, name STRING, x DOUBLE, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\n"
	n, s, err := compileAndBind(t, decl+"SELECT k, x FROM up")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(s), ","); got != "k,x,__op" {
		t.Errorf("columns %s", got)
	}
	var scan *plan.Node
	for x := n; x != nil; x = x.Input {
		if x.Op == "scan_kafka" {
			scan = x
		}
	}
	if scan == nil {
		t.Fatalf("no scan_kafka in %s", n.Op)
	}
	if d := scan.Args.(*engine.ScanKafkaArgs).Kafka; !d.Upsert || strings.Join(d.Keys, ",") != "k" || d.Topics[0] != "u" {
		t.Errorf("upsert source settings %+v", d)
	}
	// a GROUP BY over it takes its retractions; its result goes to another upsert-kafka table
	agg := decl + "CREATE TABLE totals (name STRING, total DOUBLE, PRIMARY KEY (name) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\n" +
		"INSERT INTO totals SELECT name, SUM(x) FROM up GROUP BY name"
	if n, _, err = compileAndBind(t, agg); err != nil {
		t.Fatal(err)
	}
	if d := n.Args.(*engine.WriteKafkaArgs).Kafka; !d.Upsert || strings.Join(d.Keys, ",") != "name" {
		t.Errorf("upsert sink settings %+v", d)
	}
	// the table itself into an upsert-kafka table with its key: a copy, change by change
	cp := decl + "CREATE TABLE copy (k BIGINT, name STRING, x DOUBLE, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'c', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\n" +
		"INSERT INTO copy SELECT k, name, x FROM up"
	if n, _, err = compileAndBind(t, cp); err != nil {
		t.Fatal(err)
	}
	if d := n.Args.(*engine.WriteKafkaArgs).Kafka; !d.Upsert || strings.Join(d.Keys, ",") != "k" {
		t.Errorf("copy sink settings %+v", d)
	}
	// into a plain kafka table: refused as an updating result
	plain := decl + "CREATE TABLE out (k BIGINT, x DOUBLE) WITH ('connector' = 'kafka', 'topic' = 'o', " + sinkOpts + ");\nINSERT INTO out SELECT k, x FROM up"
	if _, _, err := compileAndBind(t, plain); err == nil || !strings.Contains(err.Error(), "append-only and does not accept updates") {
		t.Errorf("an upsert-kafka table into kafka: %v", err)
	}
}

// FOR SYSTEM_TIME AS OF PROCTIME() plans the engine's processing-time temporal join on the
// ON keys (inner or left); its right table may be a changelog (an upsert-kafka table, a
// GROUP BY over an unbounded table); no event time is needed on either side.
func TestProctimeTemporalJoinPlans(t *testing.T) {
	up := "CREATE TABLE up (k BIGINT, rate DOUBLE, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'b:1', 'key.format' = 'raw', 'value.format' = 'json');\n"
	src := "CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'src', " + sinkOpts + ");\n"
	for _, c := range []struct{ q, how, cols string }{
		{"SELECT o.k, o.x, r.x AS rate FROM t AS o JOIN u FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.k = r.k", "inner", "k,x,rate"},
		{"SELECT o.k, r.x FROM t AS o LEFT JOIN u FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.k = r.k", "left", "k,x"},
		{up + "SELECT o.k, o.x * r.rate AS y FROM t AS o JOIN up FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.k = r.k", "inner", "k,y"},
		{src + "CREATE VIEW n AS SELECT k, COUNT(*) AS c FROM src GROUP BY k; SELECT o.k, r.c FROM src AS o LEFT JOIN n FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.k = r.k", "left", "k,c"},
	} {
		n, s, err := compileAndBind(t, c.q)
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		if got := strings.Join(names(s), ","); got != c.cols {
			t.Errorf("%q: columns %s, want %s (append-only: no op column)", c.q, got, c.cols)
		}
		var j *plan.Node
		var walk func(*plan.Node)
		walk = func(x *plan.Node) {
			if x == nil {
				return
			}
			if x.Op == "join" {
				j = x
			}
			walk(x.Input)
			for _, in := range x.Inputs {
				walk(in)
			}
		}
		walk(n)
		if j == nil {
			t.Fatalf("%q: no join", c.q)
		}
		a := j.Args.(*engine.JoinArgs)
		how := a.ProctimeHow
		if how == "" {
			how = "inner"
		}
		if a.How != "proctime" || how != c.how || len(a.LeftOn) != 1 {
			t.Errorf("%q: join args %+v", c.q, a)
		}
	}
}
