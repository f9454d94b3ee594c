package sql

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/kafka"
)

// kafkaTable is a CREATE TABLE of the 'kafka' or 'upsert-kafka' connector, its options
// (Flink's names) read into the settings of the engine's scan_kafka and write_kafka.
type kafkaTable struct {
	ct       *CreateTable
	upsert   bool
	conn     *TableOption
	brokers  []string
	topics   []string // 'topic' (several separated by ';', as Flink)
	topicAt  Pos
	pattern  string // 'topic-pattern'
	format   string
	avroURL  string // 'avro-confluent.url'
	groupID  string
	csvDelim string
	start    *plan.KafkaBound
	end      *plan.KafkaBound
	sinkOpts map[string]string // properties.* for the sink
	srcOpts  map[string]string // properties.* for the source
	// sink
	guarantee string
	txnPrefix string
	keys      []string // 'key.fields', or the PRIMARY KEY of upsert-kafka
	partition string   // 'sink.partitioner'
	// columns
	physical []*ColumnDef
	meta     []*ColumnDef
}

// kafkaOptionNames are the options the kafka connectors take, for did-you-mean.
var kafkaOptionNames = []string{
	"connector", "topic", "topic-pattern", "properties.bootstrap.servers", "properties.group.id",
	"format", "key.format", "value.format", "key.fields", "value.fields-include",
	"json.ignore-parse-errors", "json.fail-on-missing-field", "csv.field-delimiter", "csv.ignore-parse-errors",
	"avro-confluent.url", "scan.startup.mode", "scan.startup.timestamp-millis", "scan.startup.specific-offsets",
	"scan.bounded.mode", "scan.bounded.timestamp-millis", "scan.bounded.specific-offsets",
	"sink.delivery-guarantee", "sink.transactional-id-prefix", "sink.partitioner",
}

// kafkaMetadata are the metadata keys a kafka table reads (METADATA [FROM 'key']), as
// Flink names them, with the engine's metadata kind.
var kafkaMetadata = map[string]string{"topic": "topic", "partition": "partition", "offset": "offset", "timestamp": "timestamp"}

// kafkaOptions reads the options of a kafka or upsert-kafka table. Every option is
// checked: an unknown one is an error at its position (with a did-you-mean), one riverbed
// does not support yet says so.
func kafkaOptions(ct *CreateTable) (*kafkaTable, error) {
	kt := &kafkaTable{ct: ct, sinkOpts: map[string]string{}, srcOpts: map[string]string{}}
	opts := map[string]*TableOption{}
	for _, o := range ct.Options {
		k := strings.ToLower(o.Key)
		if _, dup := opts[k]; dup {
			return nil, errorAt(o.P, "option '%s' is given twice", o.Key)
		}
		opts[k] = o
	}
	kt.conn = opts["connector"]
	kt.upsert = strings.EqualFold(kt.conn.Value, "upsert-kafka")
	conn := strings.ToLower(kt.conn.Value)
	used := map[string]bool{"connector": true}
	get := func(k string) (*TableOption, bool) {
		o, ok := opts[k]
		if ok {
			used[k] = true
		}
		return o, ok
	}
	bad := func(o *TableOption, format string, args ...any) error {
		return errorAt(o.P, "option '%s': %s", o.Key, fmt.Sprintf(format, args...))
	}
	// where
	if o, ok := get("properties.bootstrap.servers"); ok {
		for _, b := range strings.Split(o.Value, ",") {
			if b = strings.TrimSpace(b); b != "" {
				kt.brokers = append(kt.brokers, b)
			}
		}
	}
	if len(kt.brokers) == 0 {
		return nil, errorAt(kt.conn.P, "the %s connector needs 'properties.bootstrap.servers' (e.g. 'localhost:9092')", conn)
	}
	if o, ok := get("topic"); ok {
		for _, t := range strings.Split(o.Value, ";") {
			if t = strings.TrimSpace(t); t != "" {
				kt.topics = append(kt.topics, t)
			}
		}
		kt.topicAt = o.P
	}
	if o, ok := get("topic-pattern"); ok {
		if kt.upsert {
			return nil, bad(o, "the upsert-kafka connector takes 'topic', not a pattern")
		}
		if len(kt.topics) > 0 {
			return nil, bad(o, "give 'topic' or 'topic-pattern', not both")
		}
		kt.pattern, kt.topicAt = o.Value, o.P
	}
	if len(kt.topics) == 0 && kt.pattern == "" {
		return nil, errorAt(kt.conn.P, "the %s connector needs 'topic'", conn)
	}
	if o, ok := get("properties.group.id"); ok {
		kt.groupID = o.Value
	}
	// Kafka client properties
	known := map[string]kafka.Role{}
	for _, r := range []kafka.Role{kafka.SourceRole, kafka.SinkRole} {
		for _, k := range kafka.OptionKeys(r) {
			if _, both := known[k]; both {
				known[k] = -1
			} else {
				known[k] = r
			}
		}
	}
	for _, o := range ct.Options {
		k := strings.ToLower(o.Key)
		if !strings.HasPrefix(k, "properties.") || used[k] {
			continue
		}
		used[k] = true
		prop := o.Key[len("properties."):]
		role, ok := known[prop]
		if !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			msg := fmt.Sprintf("unknown Kafka client property '%s'", prop)
			if sg := plan.Suggest(prop, names); sg != "" {
				msg += fmt.Sprintf("; did you mean 'properties.%s'?", sg)
			} else {
				msg += " (docs/kafka.md lists the properties riverbed takes)"
			}
			return nil, errorAt(o.P, "%s", msg)
		}
		if role != kafka.SinkRole {
			kt.srcOpts[prop] = o.Value
		}
		if role != kafka.SourceRole {
			kt.sinkOpts[prop] = o.Value
		}
	}
	if _, err := kafka.ParseOptions(kt.srcOpts, kafka.SourceRole); err != nil {
		return nil, errorAt(kt.conn.P, "%v", err)
	}
	if _, err := kafka.ParseOptions(kt.sinkOpts, kafka.SinkRole); err != nil {
		return nil, errorAt(kt.conn.P, "%v", err)
	}
	// format
	fo, hasFormat := get("format")
	vo, hasValue := get("value.format")
	switch {
	case hasFormat && hasValue:
		return nil, bad(vo, "give 'format' or 'value.format', not both")
	case hasValue:
		fo = vo
	case !hasFormat:
		want := "'format'"
		if kt.upsert {
			want = "'value.format'"
		}
		return nil, errorAt(kt.conn.P, "the %s connector needs %s: 'json', 'csv', 'raw', 'avro' or 'avro-confluent'", conn, want)
	}
	kt.format = strings.ToLower(fo.Value)
	switch kt.format {
	case "json", "csv", "raw", "avro":
	case "avro-confluent":
		u, ok := get("avro-confluent.url")
		if !ok {
			return nil, bad(fo, "'avro-confluent' needs 'avro-confluent.url', the schema registry's URL")
		}
		kt.format, kt.avroURL = "avro", u.Value
	default:
		msg := fmt.Sprintf("unknown format '%s'", fo.Value)
		if sg := plan.Suggest(kt.format, []string{"json", "csv", "raw", "avro", "avro-confluent"}); sg != "" {
			msg += fmt.Sprintf("; did you mean '%s'?", sg)
		} else {
			msg += " (expected 'json', 'csv', 'raw', 'avro' or 'avro-confluent')"
		}
		return nil, bad(fo, "%s", msg)
	}
	if o, ok := get("key.format"); ok {
		switch strings.ToLower(o.Value) {
		case "json", "raw":
		default:
			return nil, bad(o, "record keys are written as one column's value (raw) or a JSON object of several: 'json' or 'raw', not '%s'", o.Value)
		}
	} else if kt.upsert {
		return nil, errorAt(kt.conn.P, "the upsert-kafka connector needs 'key.format' ('json' or 'raw')")
	}
	if o, ok := get("value.fields-include"); ok && !strings.EqualFold(o.Value, "ALL") {
		return nil, unsupported(o.P, "'value.fields-include' = '"+o.Value+"' (record values hold all the columns: 'ALL')")
	}
	for _, k := range []string{"json.ignore-parse-errors", "csv.ignore-parse-errors", "json.fail-on-missing-field"} {
		o, ok := get(k)
		if !ok {
			continue
		}
		if !strings.HasPrefix(k, kt.format+".") {
			return nil, bad(o, "an option of format '%s', and the table's format is '%s'", strings.Split(k, ".")[0], kt.format)
		}
		switch v := strings.ToLower(o.Value); {
		case v != "true" && v != "false":
			return nil, bad(o, "takes 'true' or 'false', got '%s'", o.Value)
		case v == "true":
			return nil, unsupported(o.P, fmt.Sprintf("'%s' = 'true' (a record that cannot be read fails the job, naming its topic, partition and offset; the Python API's read_kafka(on_bad_record=\"dead_letter\") sends such records aside)", o.Key))
		}
	}
	if o, ok := get("csv.field-delimiter"); ok {
		if kt.format != "csv" {
			return nil, bad(o, "an option of format 'csv', and the table's format is '%s'", kt.format)
		}
		if len([]rune(o.Value)) != 1 {
			return nil, bad(o, "takes one character, got '%s'", o.Value)
		}
		kt.csvDelim = o.Value
	}
	// where a read starts and ends
	var err error
	if kt.start, err = kt.bound(get, "scan.startup", bad); err != nil {
		return nil, err
	}
	if kt.end, err = kt.bound(get, "scan.bounded", bad); err != nil {
		return nil, err
	}
	// sink
	if o, ok := get("sink.delivery-guarantee"); ok {
		g, err := kafka.ParseGuarantee(o.Value)
		if err != nil {
			return nil, bad(o, "takes 'exactly-once', 'at-least-once' or 'none' (or with underscores, 'exactly_once'), got '%s'", o.Value)
		}
		kt.guarantee = g
	}
	if o, ok := get("sink.transactional-id-prefix"); ok {
		if kt.guarantee != "exactly-once" {
			return nil, bad(o, "applies to 'sink.delivery-guarantee' = 'exactly-once' only")
		}
		kt.txnPrefix = o.Value
	} else if kt.guarantee == "exactly-once" {
		return nil, errorAt(kt.conn.P, "'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix', unique to this job (as Flink): two jobs with one prefix abort each other's transactions")
	}
	if o, ok := get("sink.partitioner"); ok {
		switch v := strings.ToLower(o.Value); v {
		case "default", "fixed", "round-robin":
			kt.partition = v
		default:
			return nil, bad(o, "takes 'default', 'fixed' or 'round-robin', got '%s'", o.Value)
		}
	}
	// columns and keys
	cols := map[string]*ColumnDef{}
	for _, c := range ct.Columns {
		cols[c.Name] = c
		if !c.Metadata {
			kt.physical = append(kt.physical, c)
			continue
		}
		kind, ok := kafkaMetadata[strings.ToLower(c.MetaKey)]
		if !ok {
			var names []string
			for k := range kafkaMetadata {
				names = append(names, k)
			}
			msg := fmt.Sprintf("the %s connector has no metadata '%s'", conn, c.MetaKey)
			if sg := plan.Suggest(c.MetaKey, names); sg != "" {
				msg += fmt.Sprintf("; did you mean '%s'?", sg)
			} else {
				msg += " (it reads 'topic', 'partition', 'offset' and 'timestamp')"
			}
			return nil, errorAt(c.MetaAt, "%s", msg)
		}
		c.MetaKey = kind
		kt.meta = append(kt.meta, c)
	}
	if len(kt.physical) == 0 {
		return nil, errorAt(ct.P, "a %s table needs its columns declared (those of the record values)", conn)
	}
	if kt.upsert && ct.PrimaryKey == nil {
		return nil, errorAt(kt.conn.P, "the upsert-kafka connector needs PRIMARY KEY (...) NOT ENFORCED: the columns that key each record")
	}
	if !kt.upsert && ct.PrimaryKey != nil {
		return nil, errorAt(ct.KeyAt, "the kafka connector takes no PRIMARY KEY (its records are appended); key the records with 'key.fields', or use the upsert-kafka connector")
	}
	for _, k := range ct.PrimaryKey {
		c, ok := cols[k]
		if !ok || c.Metadata {
			return nil, errorAt(ct.KeyAt, "the PRIMARY KEY column %q is not a declared column of the record values", k)
		}
	}
	kt.keys = ct.PrimaryKey
	if o, ok := get("key.fields"); ok {
		if kt.upsert {
			return nil, bad(o, "upsert-kafka keys its records by the PRIMARY KEY; drop 'key.fields'")
		}
		for _, k := range strings.Split(o.Value, ";") {
			k = strings.TrimSpace(k)
			if c, ok := cols[k]; !ok || c.Metadata {
				return nil, bad(o, "no column %q among the record values", k)
			}
			kt.keys = append(kt.keys, k)
		}
	}
	for _, o := range ct.Options {
		if k := strings.ToLower(o.Key); !used[k] {
			msg := fmt.Sprintf("unknown option '%s' for the %s connector", o.Key, conn)
			if sg := plan.Suggest(k, kafkaOptionNames); sg != "" {
				msg += fmt.Sprintf("; did you mean '%s'?", sg)
			}
			return nil, errorAt(o.P, "%s", msg)
		}
	}
	return kt, nil
}

// bound reads 'scan.startup.*' or 'scan.bounded.*' (prefix): mode, timestamp-millis,
// specific-offsets ('partition:0,offset:42;partition:1,offset:300').
func (kt *kafkaTable) bound(get func(string) (*TableOption, bool), prefix string, bad func(*TableOption, string, ...any) error) (*plan.KafkaBound, error) {
	ts, hasTS := get(prefix + ".timestamp-millis")
	offs, hasOffs := get(prefix + ".specific-offsets")
	mo, ok := get(prefix + ".mode")
	start := prefix == "scan.startup"
	if !ok {
		switch {
		case hasTS:
			return nil, bad(ts, "goes with '%s.mode' = 'timestamp'", prefix)
		case hasOffs:
			return nil, bad(offs, "goes with '%s.mode' = 'specific-offsets'", prefix)
		case start:
			return &plan.KafkaBound{Kind: "earliest"}, nil
		}
		return nil, nil // unbounded
	}
	mode := strings.ToLower(mo.Value)
	if mode != "timestamp" && hasTS {
		return nil, bad(ts, "goes with '%s.mode' = 'timestamp'", prefix)
	}
	if mode != "specific-offsets" && hasOffs {
		return nil, bad(offs, "goes with '%s.mode' = 'specific-offsets'", prefix)
	}
	switch {
	case mode == "earliest-offset" && start:
		return &plan.KafkaBound{Kind: "earliest"}, nil
	case mode == "unbounded" && !start:
		return nil, nil
	case mode == "latest-offset":
		return &plan.KafkaBound{Kind: "latest"}, nil
	case mode == "timestamp":
		if !hasTS {
			return nil, bad(mo, "'timestamp' needs '%s.timestamp-millis'", prefix)
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(ts.Value), 10, 64)
		if err != nil || ms < 0 {
			return nil, bad(ts, "takes milliseconds since the epoch, got '%s'", ts.Value)
		}
		return &plan.KafkaBound{Kind: "timestamp", Millis: ms}, nil
	case mode == "specific-offsets":
		if !hasOffs {
			return nil, bad(mo, "'specific-offsets' needs '%s.specific-offsets' ('partition:0,offset:42;partition:1,offset:300')", prefix)
		}
		if len(kt.topics) != 1 {
			return nil, bad(offs, "offsets by partition are of one topic: give one 'topic'")
		}
		b := &plan.KafkaBound{Kind: "offsets"}
		for _, part := range strings.Split(offs.Value, ";") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			var p int32
			var off int64
			if n, err := fmt.Sscanf(strings.ReplaceAll(strings.TrimSpace(part), " ", ""), "partition:%d,offset:%d", &p, &off); err != nil || n != 2 || p < 0 || off < 0 {
				return nil, bad(offs, "'%s' is not 'partition:<n>,offset:<n>' (write 'partition:0,offset:42;partition:1,offset:300')", part)
			}
			b.Offsets = append(b.Offsets, plan.KafkaTopicOffsets{Topic: kt.topics[0], Partition: p, Offset: off})
		}
		if len(b.Offsets) == 0 {
			return nil, bad(offs, "names no partition")
		}
		return b, nil
	case mode == "group-offsets":
		return nil, unsupported(mo.P, fmt.Sprintf("'%s.mode' = 'group-offsets' (the offsets of a job are its checkpoints'; 'properties.group.id' only receives them, for monitoring)", prefix))
	}
	want := "'earliest-offset', 'latest-offset', 'timestamp' or 'specific-offsets'"
	if !start {
		want = "'unbounded', 'latest-offset', 'timestamp' or 'specific-offsets'"
	}
	return nil, bad(mo, "takes %s, got '%s'", want, mo.Value)
}

// valueSchema is the Arrow schema of the declared physical columns (the record values):
// all nullable, or (for deriving an Avro schema, as Flink does) nullable unless NOT NULL.
func (kt *kafkaTable) valueSchema(notNull bool) (*arrow.Schema, error) {
	var fields []arrow.Field
	for _, c := range kt.physical {
		t, err := typeOf(c.Type)
		if err != nil {
			return nil, err
		}
		dt, err := expr.ParseType(t)
		if err != nil {
			return nil, errorAt(c.Type.P, "%v", err)
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: dt, Nullable: !(notNull && c.NotNull)})
	}
	return arrow.NewSchema(fields, nil), nil
}

// sourceArgs are the scan_kafka arguments of reading the table.
func (kt *kafkaTable) sourceArgs() (*engine.ScanKafkaArgs, error) {
	d := &plan.KafkaDef{Brokers: kt.brokers, Topics: kt.topics, Pattern: kt.pattern, Format: kt.format,
		GroupID: kt.groupID, CSVDelimiter: kt.csvDelim, Start: kt.start, End: kt.end, SchemaRegistry: kt.avroURL}
	if len(kt.srcOpts) > 0 {
		d.Options = kt.srcOpts
	}
	if kt.upsert {
		// Flink's upsert-kafka source: upserts and tombstones by the PRIMARY KEY, normalized
		// into a changelog (the last row per key).
		d.Upsert, d.Keys = true, kt.keys
	}
	schema, err := kt.valueSchema(kt.format == "avro")
	if err != nil {
		return nil, err
	}
	if kt.format == "avro" {
		if d.AvroSchema, err = kafka.AvroSchemaOf(schema, "record"); err != nil {
			return nil, errorAt(kt.ct.P, "%v", err)
		}
	} else {
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
		if err := w.Close(); err != nil {
			return nil, errorAt(kt.ct.P, "encoding the schema of %s: %v", kt.ct.Name, err)
		}
		d.Schema = base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	if len(kt.meta) > 0 {
		d.Metadata = map[string]string{}
		for _, c := range kt.meta {
			if _, dup := d.Metadata[c.MetaKey]; dup {
				return nil, errorAt(c.MetaAt, "the metadata '%s' is read by two columns", c.MetaKey)
			}
			d.Metadata[c.MetaKey] = c.Name
		}
	}
	return &engine.ScanKafkaArgs{Kafka: d}, nil
}

// sinkDef is the write_kafka settings of INSERT INTO the table; updating says whether
// the query's result is a changelog.
func (kt *kafkaTable) sinkDef(updating bool) (*plan.KafkaDef, error) {
	if kt.pattern != "" || len(kt.topics) != 1 {
		return nil, errorAt(kt.topicAt, "INSERT INTO %s writes one topic: give one 'topic'", kt.ct.Name)
	}
	d := &plan.KafkaDef{Brokers: kt.brokers, Topic: kt.topics[0], Format: kt.format, DeliveryGuarantee: kt.guarantee,
		TransactionalIDPrefix: kt.txnPrefix, Partitioner: kt.partition, SchemaRegistry: kt.avroURL}
	if len(kt.sinkOpts) > 0 {
		d.Options = kt.sinkOpts
	}
	if kt.format == "csv" {
		return nil, errorAt(kt.conn.P, "INSERT INTO %s: format 'csv' can be read but not written yet; write 'json', 'raw' or 'avro'", kt.ct.Name)
	}
	if kt.format == "avro" {
		schema, err := kt.valueSchema(true)
		if err != nil {
			return nil, err
		}
		if d.AvroSchema, err = kafka.AvroSchemaOf(schema, "record"); err != nil {
			return nil, errorAt(kt.ct.P, "%v", err)
		}
	}
	switch {
	case updating && !kt.upsert:
		return nil, nil // refused by the caller, which knows the query
	case updating:
		d.Upsert = true
		d.Keys = kt.keys // the engine checks they are the changelog's key
	case len(kt.keys) == 1:
		d.Key = kt.keys[0] // appended rows: each an upsert of its key
	case len(kt.keys) > 1:
		d.Keys = kt.keys
	}
	return d, nil
}
