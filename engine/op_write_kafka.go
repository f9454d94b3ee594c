package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/sink"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/kafka"
)

// writeKafkaOp is the logical operator "write_kafka": its binding and validation, its
// physical form (engine/ops/sink/kafka.go) and its explain text.
type writeKafkaOp struct {
	WriteKafkaArgs
	cfg sink.KafkaSinkConfig // the template; each job gets a copy
}

// WriteKafkaArgs are the arguments of "write_kafka": where and how it writes
// (plan.KafkaDef: brokers, topic, format, key, delivery_guarantee,
// transactional_id_prefix, partition_by, upsert, options).
type WriteKafkaArgs struct {
	Kafka *plan.KafkaDef `json:"kafka,omitempty"`
}

func init() {
	registerOp("write_kafka", opReg[WriteKafkaArgs]{new: func(a *WriteKafkaArgs) logicalOp { return &writeKafkaOp{WriteKafkaArgs: *a} }, stateful: true})
}

func (o *writeKafkaOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	d := o.Kafka
	if d == nil {
		return rberr.New(rberr.Plan, "%s: no \"kafka\" settings given", name)
	}
	if len(d.Brokers) == 0 {
		return rberr.New(rberr.Plan, "%s: no brokers given (e.g. \"localhost:9092\")", name)
	}
	if d.Topic == "" {
		return rberr.New(rberr.Plan, "%s: no topic given", name)
	}
	cfg, err := kafka.ParseOptions(d.Options, kafka.SinkRole)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", name)
	}
	format := kafka.Format(d.Format)
	if format == "" {
		format = kafka.JSON
	}
	if d.AvroSchema != "" && format != kafka.Avro {
		return rberr.New(rberr.Plan, "%s: an Avro schema is for format \"avro\", not %q", name, format)
	}
	if format == kafka.CSV {
		return rberr.New(rberr.Plan, "%s: format \"csv\" can be read but not written yet; write \"json\", \"avro\", \"raw\" or \"arrow\"", name)
	}
	if d.SchemaRegistry != "" {
		if format != kafka.Avro {
			return rberr.New(rberr.Plan, "%s: schema_registry is for format \"avro\", not %q", name, format)
		}
		if _, err := kafka.Registry(d.SchemaRegistry); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", name)
		}
	}
	if d.SubjectNameStrategy != "" {
		if d.SchemaRegistry == "" {
			return rberr.New(rberr.Plan, "%s: subject_name_strategy is for writing through a schema_registry", name)
		}
		if _, err := kafka.SubjectName(d.SubjectNameStrategy, d.Topic, `{"type": "record", "name": "row", "fields": []}`); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", name)
		}
	}
	guarantee, err := kafka.ParseGuarantee(d.DeliveryGuarantee)
	if err != nil {
		return rberr.Wrap(rberr.Plan, err, "%s: delivery_guarantee", name)
	}
	if guarantee == sink.ExactlyOnce && d.TransactionalIDPrefix == "" {
		return rberr.New(rberr.Plan, "%s: delivery_guarantee=\"exactly-once\" needs transactional_id_prefix=, unique to this job (as Flink's KafkaSink): two jobs with one prefix abort each other's transactions", name)
	}
	if guarantee != sink.ExactlyOnce && d.TransactionalIDPrefix != "" {
		return rberr.New(rberr.Plan, "%s: transactional_id_prefix applies to delivery_guarantee=\"exactly-once\" only", name)
	}
	if d.Key != "" && len(d.Keys) > 0 || d.KeyExpr != nil && (d.Key != "" || len(d.Keys) > 0) {
		return rberr.New(rberr.Plan, "%s: give one key: a column, columns or an expression", name)
	}
	var keyExpr expr.Expr
	keyCol := d.Key
	if d.KeyExpr != nil {
		if d.Upsert {
			return rberr.New(rberr.Plan, "%s: upsert=True keys each record by the changelog's key columns; leave key= out", name)
		}
		if keyExpr, err = (&expr.CompileScope{Schema: in.schema, Op: name}).Compile(d.KeyExpr); err != nil {
			return err
		}
		if c, ok := keyExpr.(*expr.ColExpr); ok {
			keyExpr, keyCol = nil, c.Name // a column: the same as key="name"
		}
	}
	for _, c := range append(append([]string{keyCol}, d.Keys...), d.PartitionBy...) {
		if c != "" && len(in.schema.FieldIndices(c)) == 0 {
			return (&expr.CompileScope{Schema: in.schema, Op: name}).ColumnNotFound(c)
		}
	}
	enc := kafka.EncoderOptions{Format: format, Topic: d.Topic, KeyColumn: keyCol, KeyColumns: d.Keys, PartitionColumns: d.PartitionBy,
		AvroRegistry: d.SchemaRegistry, AvroSchema: d.AvroSchema, AvroSubjectStrategy: d.SubjectNameStrategy}
	if keyExpr != nil {
		enc.KeyType = keyExpr.Type()
	}
	if len(d.PartitionBy) > 0 {
		cfg.Opts = append(cfg.Opts, kgo.RecordPartitioner(kafka.ColumnPartitioner()))
	}
	if _, err := kafka.SinkPartitioner(d.Partitioner, 0); err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", name)
	}
	if d.Partitioner == kafka.PartitionFixed || d.Partitioner == kafka.PartitionRoundRobin {
		if len(d.PartitionBy) > 0 {
			return rberr.New(rberr.Plan, "%s: partition_by chooses each record's partition by its values, partitioner=%q by other rules: give one of them", name, d.Partitioner)
		}
		if d.Upsert {
			return rberr.New(rberr.Plan, "%s: upsert=True partitions by key (all records of a key in one partition, for compaction); partitioner=%q does not", name, d.Partitioner)
		}
	}
	valueSchema := in.schema
	opCol := -1
	if d.Upsert {
		if valueSchema, opCol, err = bindUpsert(name, d, in, &enc); err != nil {
			return err
		}
	}
	if _, err := kafka.NewEncoder(valueSchema, enc); err != nil {
		if keyExpr != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: the key %s", name, keyExpr)
		}
		return rberr.Wrap(rberr.KindOf(err), err, "%s", name)
	}
	o.cfg = sink.KafkaSinkConfig{Brokers: d.Brokers, Topic: d.Topic, Schema: in.schema,
		Encoder: enc, Key: keyExpr, Guarantee: guarantee, Prefix: d.TransactionalIDPrefix, Opts: cfg.Opts, TxnTimeout: cfg.TransactionTimeout, DeliveryTimeout: cfg.DeliveryTimeout,
		Upsert: d.Upsert, OpCol: opCol, ValueSchema: valueSchema, Partitioner: d.Partitioner,
		LoneRetracts: d.Upsert && in.changelogFiltered}
	if in.timeCol != "" {
		if idx := in.schema.FieldIndices(in.timeCol); len(idx) == 1 {
			o.cfg.Timed, o.cfg.TimeCol = true, idx[0]
		}
	}
	ln.schema = sink.KafkaSummarySchema
	return nil
}

func (o *writeKafkaOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

// An updating input is written by key with upsert=True (bindUpsert); an append-only
// sink would write retractions as rows.
func (o *writeKafkaOp) takeUpdates(ln, from *lnode) error {
	if o.Kafka != nil && o.Kafka.Upsert {
		return nil
	}
	return rberr.New(rberr.Plan, "%s: its input is an updating stream (the changelog of %s, with an %s column of +I/-U/+U/-D changes), and an append-only Kafka sink would write retractions as rows; write it with write_kafka(..., upsert=True) (the record key is the changelog's key columns; a delete is a record with a null value)", ln.name, from.changelog, agg.OpColumn)
}

func (o *writeKafkaOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	t := &o.cfg
	cfg := &sink.KafkaSinkConfig{Brokers: t.Brokers, Topic: t.Topic, Schema: t.Schema, Encoder: t.Encoder, Key: t.Key,
		Guarantee: t.Guarantee, Prefix: t.Prefix, Opts: t.Opts, TxnTimeout: t.TxnTimeout, DeliveryTimeout: t.DeliveryTimeout, Parallel: in.st.Parallel,
		Upsert: t.Upsert, OpCol: t.OpCol, ValueSchema: t.ValueSchema, Partitioner: t.Partitioner,
		LoneRetracts: t.LoneRetracts, Timed: t.Timed, TimeCol: t.TimeCol}
	in.st.Chain(fmt.Sprintf("write_kafka(%s)", t.Topic), func(subtask int) runtime.Operator {
		return &sink.KafkaSinkOp{Cfg: cfg, Subtask: subtask}
	})
	return flow{st: in.st}, nil
}

func (o *writeKafkaOp) explain(*lnode) string {
	c := &o.cfg
	d := fmt.Sprintf("topic %s, %s, %s", c.Topic, c.Encoder.Format, c.Guarantee)
	if c.Encoder.KeyColumn != "" {
		d += fmt.Sprintf(", key %q", c.Encoder.KeyColumn)
	}
	if c.Key != nil {
		d += ", key " + c.Key.String()
	}
	if c.Upsert {
		d += ", upsert"
		if c.LoneRetracts {
			d += " (after a filter: a -U without its +U is a tombstone)"
		}
	}
	if c.Encoder.AvroSchema != "" {
		var named struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal([]byte(c.Encoder.AvroSchema), &named)
		d += ", Avro schema " + named.Name
	}
	if c.Encoder.AvroRegistry != "" {
		d += ", schema registry " + c.Encoder.AvroRegistry
	}
	if len(c.Encoder.KeyColumns) > 0 {
		d += fmt.Sprintf(", key %s", strings.Join(c.Encoder.KeyColumns, ", "))
	}
	if len(c.Encoder.PartitionColumns) > 0 {
		d += fmt.Sprintf(", partitioned by %s", strings.Join(c.Encoder.PartitionColumns, ", "))
	}
	if c.Partitioner != "" && c.Partitioner != kafka.PartitionDefault {
		d += fmt.Sprintf(", partitioner %s", c.Partitioner)
	}
	return d
}

// bindUpsert validates write_kafka(upsert=True): the input must be an updating stream
// whose rows are identified by key columns (a group_by's keys, or an updating join's join
// keys: changelogKeys), which become the record key — one column as its value, several as
// a JSON object of them. It returns the schema of the record values (the input without
// its op column) and the op column.
func bindUpsert(name string, d *plan.KafkaDef, in *lnode, enc *kafka.EncoderOptions) (*arrow.Schema, int, error) {
	if in.changelog == "" {
		return nil, 0, rberr.New(rberr.Plan, "%s: upsert=True writes an updating stream (the changelog of a group_by or join over an unbounded input), and this input only appends rows; drop upsert=True", name)
	}
	keys := in.changelogKeys
	if keys == nil {
		why := in.noKeyWhy
		if why == "" {
			why = "it has no key that identifies its rows"
		}
		return nil, 0, rberr.New(rberr.Plan, "%s: upsert=True keys each record by the columns that identify a row of the changelog, and the changelog of %s has none: %s", name, in.changelog, why)
	}
	if len(keys) == 0 {
		return nil, 0, rberr.New(rberr.Plan, "%s: upsert=True keys each record by the group key, and %s groups by no column (its result is one row); group by a column", name, in.changelog)
	}
	given := d.Keys
	if d.Key != "" {
		given = []string{d.Key}
	}
	if len(given) > 0 && !slices.Equal(given, keys) {
		return nil, 0, rberr.New(rberr.Plan, "%s: upsert=True keys each record by the key of the changelog of %s (%s), not by %s; leave key= and keys= out", name, in.changelog, strings.Join(keys, ", "), strings.Join(given, ", "))
	}
	if enc.Format == kafka.ArrowIPC {
		return nil, 0, rberr.New(rberr.Plan, "%s: upsert=True writes one record per key: use format \"json\" or \"raw\"", name)
	}
	enc.KeyColumn, enc.KeyColumns = "", nil
	if len(keys) == 1 {
		enc.KeyColumn = keys[0]
	} else {
		enc.KeyColumns = keys // a JSON object of the key columns (kafka.EncoderOptions)
	}
	opCol := in.schema.FieldIndices(agg.OpColumn)[0]
	var fields []arrow.Field
	for i, f := range in.schema.Fields() {
		if i != opCol {
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil), opCol, nil
}
