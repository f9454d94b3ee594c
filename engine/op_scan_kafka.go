package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/hamba/avro/v2"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/kafka"
)

// scanKafkaOp is the logical operator "scan_kafka" (read_kafka): its binding and
// validation, its physical form and its explain text.
//
// With on_bad_record "dead_letter" the node reads through an inner "kafka_source" node
// whose stream carries both the rows and the dead letters (split numbers with
// source.DeadLetterBit); scan_kafka keeps the rows, and a "kafka_dead_letters" node on
// the same scan keeps the dead letters. The source is then shared by the two, read once.
type scanKafkaOp struct {
	ScanKafkaArgs
	scan *kafkaScan
}

// ScanKafkaArgs are the arguments of "scan_kafka": what it reads and how (plan.KafkaDef:
// brokers, topics or pattern, format, schema, start, end, metadata, on_bad_record,
// options) and the event time.
type ScanKafkaArgs struct {
	Kafka *plan.KafkaDef `json:"kafka,omitempty"`
	plan.EventTimeDef
}

// kafkaSourceOp is the inner node that reads Kafka for a scan_kafka with a dead-letter
// output; plans do not name it.
type kafkaSourceOp struct{ scan *kafkaScan }

// kafkaDeadLettersOp is "kafka_dead_letters": the dead letters of a scan_kafka (its input).
type kafkaDeadLettersOp struct{}

func init() {
	registerOp("scan_kafka", opReg[ScanKafkaArgs]{new: func(a *ScanKafkaArgs) logicalOp { return &scanKafkaOp{ScanKafkaArgs: *a} }})
	registerOp("kafka_source", opReg[ScanKafkaArgs]{new: func(*ScanKafkaArgs) logicalOp { return &kafkaSourceOp{} }})
	registerOp("kafka_dead_letters", opReg[noArgs]{new: func(*noArgs) logicalOp { return kafkaDeadLettersOp{} }})
}

// kafkaScan is a bound Kafka read.
type kafkaScan struct {
	src      source.KafkaSource // the configuration (copied for each job)
	upsert   []expr.Bound       // upsert reading: the key columns (normalized by them)
	bounded  bool
	deadLets bool
	what     string // topics or pattern, for messages and explain
	inferred bool   // the value schema was inferred from a sample
	idle     time.Duration
}

// newSource makes the source of one job from the bound configuration.
func (ks *kafkaScan) newSource() *source.KafkaSource {
	c := &ks.src
	return &source.KafkaSource{Reader: c.Reader, Topics: c.Topics, Pattern: c.Pattern, Start: c.Start, StartAt: c.StartAt,
		End: c.End, EndAt: c.EndAt, Decoder: c.Decoder, Bounded: c.Bounded, DeadLets: c.DeadLets, SkipDataLoss: c.SkipDataLoss, Discovery: c.Discovery,
		GroupID: c.GroupID}
}

// kafkaSchemaCache keeps inferred schemas for one Bind (which binds a plan twice), so
// both bindings see the same schema.
type kafkaSchemaCache = map[*plan.Node]*arrow.Schema

func (o *scanKafkaOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	ks, err := b.bindKafkaScan(n, &o.ScanKafkaArgs, ln)
	if err != nil {
		return err
	}
	o.scan = ks
	if err := bindEventTime(o.EventTimeDef, ln); err != nil {
		return err
	}
	if ln.wm != nil {
		ks.idle = time.Duration(ln.wm.Idle) * time.Microsecond
	}
	if ks.upsert != nil {
		// An upsert read is an updating result keyed by the record keys (normalized in
		// build: a retract changelog, Flink's ChangelogNormalize).
		ln.changelog = ln.name
		ln.changelogKeys = o.scan.src.Decoder.UpsertKeys
	}
	if ks.deadLets {
		raw := &lnode{op: "kafka_source", impl: &kafkaSourceOp{scan: ks}, name: ln.name + " source", schema: ln.schema, wm: ln.wm, timeCol: ln.timeCol}
		if err := raw.resolveTime(); err != nil {
			return err
		}
		ln.inputs = []*lnode{raw}
	}
	return nil
}

func (o *kafkaSourceOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	return rberr.New(rberr.Plan, "kafka_source is internal: read Kafka with scan_kafka")
}

func (o *scanKafkaOp) require(*binder, *plan.Node, *lnode, map[string]bool)     {}
func (o *kafkaSourceOp) require(*binder, *plan.Node, *lnode, map[string]bool)   {}
func (kafkaDeadLettersOp) require(*binder, *plan.Node, *lnode, map[string]bool) {}

// A scan_kafka with dead letters reads through its kafka_source, which says what it
// reads and whether it ends.
func (o *scanKafkaOp) boundedness(n *lnode) (unbounded, maybe string) {
	if len(n.inputs) > 0 {
		return "", ""
	}
	return o.scan.boundedness()
}

func (o *scanKafkaOp) sourceFingerprint(n *lnode) (string, bool) {
	return kafkaFingerprint(&o.scan.src), len(n.inputs) == 0
}

func (o *kafkaSourceOp) boundedness(*lnode) (unbounded, maybe string) { return o.scan.boundedness() }

func (o *kafkaSourceOp) sourceFingerprint(*lnode) (string, bool) {
	return kafkaFingerprint(&o.scan.src), true
}

func (ks *kafkaScan) boundedness() (unbounded, maybe string) {
	if ks == nil || ks.bounded {
		return "", ""
	}
	return "read_kafka without end=", ""
}

func (o *scanKafkaOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	f, err := o.buildRows(g, n)
	if err != nil || o.scan.upsert == nil {
		return f, err
	}
	// Upsert reading: the records' upserts and tombstones, by key, into the last row per
	// key and the changes that make it.
	k := keyedInput{in: f, parallel: g.Parallel}
	k.keys, k.types = keyExprs(o.scan.upsert)
	st := k.stage(g, "upsert normalize", false)
	op := &dedup.NormalizeOp{Name: n.name, Keys: k.keys, KeyTypes: k.types, InSchema: n.schema, BatchSize: g.BatchSize}
	st.Chain("upsert normalize", func(int) runtime.Operator { c := *op; return &c })
	return flow{st: st}, nil
}

// buildRows builds the read of the records (through the dead-letter split if there is one).
func (o *scanKafkaOp) buildRows(g *graph, n *lnode) (flow, error) {
	if len(n.inputs) == 0 {
		return buildKafkaSource(g, n, o.scan)
	}
	raw := n.inputs[0]
	if g.uses[raw] < 2 {
		return flow{}, rberr.New(rberr.Plan, "%s: on_bad_record=\"dead_letter\" sends bad records to the stream's dead_letters(), which this job does not read, so they would be lost; run it with the dead letters (rb.collect_all([s, s.dead_letters()]), or rb.start_all([s, s.dead_letters()]) for an unbounded read, or write them with write_kafka/write_parquet(lazy=True)), or use on_bad_record=\"fail\"", n.name)
	}
	f, err := g.build(raw, nil)
	if err != nil {
		return f, err
	}
	f.st.Chain("kafka rows", func(int) runtime.Operator { return &deadLetterSplit{dead: false} })
	return f, nil
}

func (o *kafkaSourceOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	return buildKafkaSource(g, n, o.scan)
}

func (kafkaDeadLettersOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if in.op != "scan_kafka" {
		return rberr.New(rberr.Plan, "%s: dead letters come from a Kafka read (scan_kafka), not from %s", ln.name, in.name)
	}
	if len(in.inputs) == 0 {
		return rberr.New(rberr.Plan, "%s: the Kafka read has no dead letters: pass on_bad_record=\"dead_letter\" to read_kafka", ln.name)
	}
	ln.inputs = []*lnode{in.inputs[0]}
	ln.schema = kafka.DeadLetterSchema
	return nil
}

func (kafkaDeadLettersOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], nil)
	if err != nil {
		return f, err
	}
	f.st.Chain("kafka dead letters", func(int) runtime.Operator { return &deadLetterSplit{dead: true} })
	return f, nil
}

func buildKafkaSource(g *graph, n *lnode, ks *kafkaScan) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	src := ks.newSource() // one for this job: it keeps the job's positions
	src.EventCol = -1
	if n.wm != nil && !g.Batch {
		src.EventCol = n.timeIdx
		src.Bound = n.wm.Bound
		src.Idle = ks.idle
	}
	if !ks.bounded {
		g.unbounded = true
	}
	p := g.Parallel
	st := g.NewStage(fmt.Sprintf("scan_kafka(%s)", ks.what), p)
	st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
	st.Gauges = func() any { return src.Metrics() }
	g.splitCounts[ord] = -1
	// Partitions interleave as they come: no input order across them to restore.
	return flow{st: st}, nil
}

func (o *scanKafkaOp) explain(n *lnode) string   { return kafkaExplain(n, o.scan) }
func (o *kafkaSourceOp) explain(n *lnode) string { return kafkaExplain(n, o.scan) }
func (kafkaDeadLettersOp) explain(n *lnode) string {
	return "bad records: topic, partition, offset, timestamp, key, value, headers, error"
}

func kafkaExplain(n *lnode, ks *kafkaScan) string {
	d := fmt.Sprintf("%s, %s", ks.what, ks.src.Decoder.Format)
	if ks.inferred {
		d += " (schema inferred from a sample)"
	}
	if ks.bounded {
		d += ", bounded"
	} else {
		d += ", unbounded"
	}
	if ks.deadLets {
		d += ", bad records to dead_letters()"
	}
	if keys := ks.src.Decoder.UpsertKeys; len(keys) > 0 {
		d += fmt.Sprintf(", upserts by [%s] normalized to a changelog in %s (last row per key)", strings.Join(keys, ", "), agg.OpColumn)
	}
	if ks.src.GroupID != "" {
		d += fmt.Sprintf(", offsets committed to group %q at checkpoints", ks.src.GroupID)
	}
	if n.wm != nil {
		d += fmt.Sprintf(", event time %q (watermark %s behind)", n.wm.Column, plan.FormatDuration(n.wm.Bound))
	}
	return d
}

// deadLetterSplit keeps either the rows or the dead letters of a Kafka read.
type deadLetterSplit struct {
	runtime.BaseOp
	dead bool
}

func (o *deadLetterSplit) keep(seq runtime.Seq) bool {
	return (seq.Split&uint64(source.DeadLetterBit) != 0) == o.dead
}

func (o *deadLetterSplit) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	if !o.keep(m.Seq) {
		m.Rec.Release()
		return nil
	}
	return out.Emit(m)
}

func (o *deadLetterSplit) ProcessMarker(m runtime.Message, out runtime.Emitter) error {
	if m.Kind == runtime.MsgSplitDone && !o.keep(m.Seq) {
		return nil
	}
	return out.Emit(m)
}

// bindKafkaScan validates a scan_kafka node's "kafka" object and sets ln.schema.
func (b *binder) bindKafkaScan(n *plan.Node, args *ScanKafkaArgs, ln *lnode) (*kafkaScan, error) {
	name := ln.name
	d := args.Kafka
	if d == nil {
		return nil, rberr.New(rberr.Plan, "%s: no \"kafka\" settings given", name)
	}
	fail := func(format string, args ...any) (*kafkaScan, error) {
		return nil, rberr.New(rberr.Plan, "%s: "+format, append([]any{name}, args...)...)
	}
	if len(d.Brokers) == 0 {
		return fail("no brokers given (e.g. \"localhost:9092\")")
	}
	ks := &kafkaScan{}
	src := &ks.src
	cfg, err := kafka.ParseOptions(d.Options, kafka.SourceRole)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
	}
	src.Reader = kafka.ReaderOptions{Brokers: d.Brokers, ReadUncommitted: cfg.ReadUncommitted, MaxPollRecords: cfg.MaxPollRecords, ClientOptions: cfg.Opts}
	switch {
	case len(d.Topics) > 0 && d.Pattern != "":
		return fail("give topics or a pattern, not both")
	case d.Pattern != "":
		re, err := regexp.Compile(d.Pattern)
		if err != nil {
			return fail("pattern %q is not a regular expression: %v", d.Pattern, err)
		}
		src.Pattern = re
		ks.what = fmt.Sprintf("topics matching %q", d.Pattern)
	case len(d.Topics) > 0:
		for _, t := range d.Topics {
			if t == "" {
				return fail("a topic name is empty")
			}
		}
		src.Topics = d.Topics
		ks.what = "topic " + strings.Join(d.Topics, ", ")
		if len(d.Topics) > 1 {
			ks.what = "topics " + strings.Join(d.Topics, ", ")
		}
	default:
		return fail("no topic given")
	}
	src.GroupID = d.GroupID
	src.Discovery = 10 * time.Second
	if cfg.Discovery > 0 {
		src.Discovery = cfg.Discovery
	}
	if cfg.NoDiscovery {
		src.Discovery = 0
	}
	// Start and end.
	src.Start = kafka.Earliest()
	if d.Start != nil {
		switch d.Start.Kind {
		case "earliest":
		case "latest":
			src.Start = kafka.Latest()
		case "timestamp":
			src.Start = kafka.AtTimestamp(d.Start.Millis)
		case "offsets":
			if src.StartAt, err = kafkaOffsets(d.Start.Offsets, d.Topics, name, "start"); err != nil {
				return nil, err
			}
		default:
			return fail("start must be \"earliest\", \"latest\", a timestamp or offsets by partition, got %q", d.Start.Kind)
		}
	}
	if d.End != nil {
		ks.bounded = true
		switch d.End.Kind {
		case "latest":
			src.End = kafka.EndAtLatest()
		case "timestamp":
			src.End = kafka.EndAtTimestamp(d.End.Millis)
		case "offsets":
			src.End = kafka.EndAtLatest()
			if src.EndAt, err = kafkaOffsets(d.End.Offsets, d.Topics, name, "end"); err != nil {
				return nil, err
			}
		default:
			return fail("end must be \"latest\", a timestamp or offsets by partition, got %q", d.End.Kind)
		}
	}
	src.Bounded = ks.bounded
	// Bad records.
	switch d.OnBadRecord {
	case "", "fail":
	case "dead_letter":
		ks.deadLets = true
	default:
		return fail("on_bad_record must be \"fail\" or \"dead_letter\", got %q", d.OnBadRecord)
	}
	src.DeadLets = ks.deadLets
	switch d.OnDataLoss {
	case "", "fail":
	case "skip":
		src.SkipDataLoss = true
	default:
		return fail("on_data_loss must be \"fail\" or \"skip\", got %q", d.OnDataLoss)
	}
	// Format and schema.
	format := kafka.Format(d.Format)
	if format == "" {
		format = kafka.JSON
	}
	var schema *arrow.Schema
	avroText := d.AvroSchema
	if d.SchemaRegistry != "" && format != kafka.Avro {
		return fail("schema_registry is for format \"avro\", not %q", format)
	}
	if format == kafka.Avro {
		if d.Schema != "" {
			return fail("format \"avro\" takes its columns from the Avro schema: give avro_schema, not schema")
		}
		if avroText == "" && d.SchemaRegistry != "" {
			if len(d.Topics) != 1 {
				return fail("with schema_registry and several topics or a pattern, give the Avro reader schema (schema=): the columns cannot come from one topic's subject")
			}
			reg, err := kafka.Registry(d.SchemaRegistry)
			if err != nil {
				return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
			}
			if _, avroText, err = reg.Latest(kafka.ValueSubject(d.Topics[0])); err != nil {
				return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
			}
		}
		var reader avro.Schema
		if reader, schema, err = kafka.AvroSchema(avroText); err != nil {
			return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
		}
		if d.AvroWriterSchema != "" {
			switch {
			case d.SchemaRegistry != "":
				return fail("with schema_registry each record's writer schema is the one its id names: give no writer_schema")
			case d.AvroSchema == "":
				return fail("writer_schema needs schema= (the reader schema, which gives the columns)")
			}
			// Checked here, so that a writer schema the reader's cannot read fails the plan.
			if _, err := kafka.AvroWriterParser(d.AvroWriterSchema, reader); err != nil {
				return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
			}
		}
	} else if d.AvroSchema != "" || d.AvroWriterSchema != "" {
		return fail("an Avro schema is for format \"avro\", not %q", format)
	} else if d.Schema != "" {
		if schema, err = decodeSchema(d.Schema); err != nil {
			return fail("schema: %v", err)
		}
	} else if format == kafka.JSON {
		if schema, err = b.inferKafkaSchema(n, ks, d); err != nil {
			return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
		}
		ks.inferred = true
	}
	var meta kafka.Metadata
	for kind, col := range d.Metadata {
		if col == "" {
			return fail("metadata column %q has an empty name", kind)
		}
		switch kind {
		case "key":
			meta.Key = col
		case "headers":
			meta.Headers = col
		case "topic":
			meta.Topic = col
		case "partition":
			meta.Partition = col
		case "offset":
			meta.Offset = col
		case "timestamp":
			meta.Timestamp = col
		default:
			return fail("unknown metadata column kind %q (expected key, headers, topic, partition, offset or timestamp)", kind)
		}
	}
	if args.EventTime == "kafka_timestamp" && meta.Timestamp == "" && (schema == nil || len(schema.FieldIndices("kafka_timestamp")) == 0) {
		meta.Timestamp = "kafka_timestamp" // event_time="kafka_timestamp": the record timestamp
	}
	src.Decoder = kafka.DecoderOptions{Format: format, Schema: schema, Metadata: meta, AvroSchema: avroText, SchemaRegistry: d.SchemaRegistry,
		AvroWriterSchema: d.AvroWriterSchema}
	if d.CSVDelimiter != "" {
		r := []rune(d.CSVDelimiter)
		if len(r) != 1 {
			return fail("csv_delimiter must be one character, got %q", d.CSVDelimiter)
		}
		src.Decoder.CSVDelimiter = r[0]
	}
	keys := d.Keys
	if d.Upsert {
		if d.Key != "" && len(keys) > 0 {
			return fail("give the key columns of upsert reading as keys or key, not both")
		}
		if d.Key != "" {
			keys = []string{d.Key}
		}
		if len(keys) == 0 {
			return fail("upsert reading needs the key columns (keys=): each record upserts or, with a null value, deletes its key")
		}
		if schema == nil {
			return fail("upsert reading needs the schema of the values")
		}
		for _, k := range keys {
			if len(schema.FieldIndices(k)) != 1 {
				return fail("the key column %q is not a value column (the values hold every column, the key columns too, as the upsert sink writes them)", k)
			}
		}
		if schema.HasField(agg.OpColumn) {
			return fail("%q is the op column of an upsert read's changelog; name the column otherwise", agg.OpColumn)
		}
		src.Decoder.UpsertKeys, src.Decoder.UpsertOpColumn = keys, agg.OpColumn
	} else if len(d.Keys) > 0 || d.Key != "" {
		return fail("key columns are for upsert reading (upsert=True) or for writing; a plain read gives the record key as the metadata column \"key\"")
	}
	dec, err := kafka.NewDecoder(src.Decoder)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "%s", name)
	}
	ln.schema = dec.Schema()
	for _, k := range src.Decoder.UpsertKeys {
		i := ln.schema.FieldIndices(k)[0]
		f := ln.schema.Field(i)
		ks.upsert = append(ks.upsert, expr.Bound{Expr: &expr.ColExpr{Idx: i, Name: f.Name, Dt: f.Type}, Name: f.Name})
	}
	return ks, nil
}

func kafkaOffsets(offs []plan.KafkaTopicOffsets, topics []string, name, what string) (map[kafka.TopicPartition]int64, error) {
	m := map[kafka.TopicPartition]int64{}
	for _, o := range offs {
		t := o.Topic
		if t == "" {
			if len(topics) != 1 {
				return nil, rberr.New(rberr.Plan, "%s: %s offsets of several topics must name the topic of each partition", name, what)
			}
			t = topics[0]
		}
		if o.Offset < 0 || o.Partition < 0 {
			return nil, rberr.New(rberr.Plan, "%s: %s offset %d of partition %d: must not be negative", name, what, o.Offset, o.Partition)
		}
		if len(topics) > 0 && !slices.Contains(topics, t) {
			// A typo would otherwise read the whole topic from the default position.
			return nil, rberr.New(rberr.Plan, "%s: %s offsets name topic %q, which this read does not read (it reads %s)", name, what, t, strings.Join(topics, ", "))
		}
		m[kafka.TopicPartition{Topic: t, Partition: o.Partition}] = o.Offset
	}
	return m, nil
}

// decodeSchema reads a base64 Arrow IPC stream that holds a schema.
func decodeSchema(s string) (*arrow.Schema, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	r, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not an Arrow IPC stream: %v", err)
	}
	defer r.Release()
	return r.Schema(), nil
}

// inferKafkaSchema infers the JSON schema of a Kafka read from a sample: up to
// sample_size (default 1000) records from the start of the range it reads (or of the
// topics, if it starts at the latest offsets), spread over the partitions.
func (b *binder) inferKafkaSchema(n *plan.Node, ks *kafkaScan, d *plan.KafkaDef) (*arrow.Schema, error) {
	if s, ok := b.kafkaSchemas[n]; ok {
		return s, nil
	}
	want := d.SampleSize
	if want <= 0 {
		want = 1000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ropts := ks.src.Reader
	ropts.MaxPollRecords = want
	r, err := kafka.NewReader(ropts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	disc, err := kafka.NewDiscoverer(r.Client(), ks.src.Topics, ks.src.Pattern)
	if err != nil {
		return nil, err
	}
	tps, err := disc.Discover(ctx)
	if err != nil {
		return nil, err
	}
	start := ks.src.Start
	if start.Kind == kafka.StartLatest {
		start = kafka.Earliest()
	}
	var splits []kafka.Split
	for _, tp := range tps {
		sp := kafka.Split{TopicPartition: tp, Start: start, End: kafka.EndAtLatest()}
		if o, ok := ks.src.StartAt[tp]; ok {
			sp.Start = kafka.AtOffset(o)
		}
		splits = append(splits, sp)
	}
	sort.Slice(splits, func(i, j int) bool { return splits[i].TopicPartition.String() < splits[j].TopicPartition.String() })
	if _, err := r.AddSplits(ctx, splits...); err != nil {
		return nil, err
	}
	var values [][]byte
	for len(values) < want {
		res, err := r.Poll(ctx)
		if err != nil {
			return nil, rberr.Wrap(rberr.KindOf(err), err, "reading a sample to infer the JSON schema (pass schema= to skip this)")
		}
		for _, pr := range res.Partitions {
			for _, rec := range pr.Records {
				values = append(values, rec.Value)
			}
		}
		if len(r.Positions()) == 0 {
			break // every partition read to its end
		}
	}
	if len(values) > want {
		values = values[:want]
	}
	s, err := kafka.InferJSONSchema(values)
	if err != nil {
		return nil, err
	}
	if b.kafkaSchemas == nil {
		b.kafkaSchemas = kafkaSchemaCache{}
	}
	b.kafkaSchemas[n] = s
	return s, nil
}
