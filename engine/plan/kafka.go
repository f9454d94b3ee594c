package plan

// KafkaDef is the "kafka" object of scan_kafka and write_kafka nodes.
//
//	{"brokers": ["host:9092"], "topics": ["orders"], "format": "json",
//	 "schema": "<base64 Arrow IPC stream of the value columns>",
//	 "start": {"kind": "earliest"}, "end": {"kind": "latest"},
//	 "metadata": {"partition": "kafka_partition"}, "on_bad_record": "dead_letter",
//	 "options": {"security.protocol": "SASL_SSL"}}
type KafkaDef struct {
	Brokers []string `json:"brokers"`
	// Source: topics or a pattern (a regular expression matched against whole names).
	Topics  []string `json:"topics,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
	// Sink: the topic written.
	Topic string `json:"topic,omitempty"`
	// Format of record values: "json", "csv", "raw" or "arrow".
	Format string `json:"format,omitempty"`
	// Schema of the value columns: an Arrow IPC stream (schema only), base64. Absent
	// for JSON: inferred from a sample of SampleSize records.
	Schema     string `json:"schema,omitempty"`
	SampleSize int    `json:"sample_size,omitempty"`
	// AvroSchema is the Avro writer schema (JSON text) of format "avro": of the records
	// read (the reader schema with a registry), or of those written (default: derived
	// from the columns).
	AvroSchema string `json:"avro_schema,omitempty"`
	// SchemaRegistry is the URL of a Confluent schema registry (format "avro"): values
	// are in its wire format. Read: AvroSchema is the reader schema (default: the
	// latest of subject "<topic>-value"); write: the schema is registered under it.
	SchemaRegistry string `json:"schema_registry,omitempty"`
	// AvroWriterSchema (read, format "avro", no registry) is the Avro schema the records
	// were written with, when it differs from AvroSchema, the reader schema that gives
	// the columns: each datum is read with it and resolved into the reader's (Avro's
	// schema resolution: fields by name, defaults for missing ones, promotions).
	AvroWriterSchema string `json:"avro_writer_schema,omitempty"`
	// SubjectNameStrategy (sink) names the registry subject of a topic's values: "topic"
	// (default, "<topic>-value"), "record" (the record's full name) or "topic_record".
	SubjectNameStrategy string `json:"subject_name_strategy,omitempty"`
	CSVDelimiter        string `json:"csv_delimiter,omitempty"`
	// Start and End of a read; End absent: unbounded.
	Start *KafkaBound `json:"start,omitempty"`
	End   *KafkaBound `json:"end,omitempty"`
	// Metadata columns by kind ("key", "headers", "topic", "partition", "offset",
	// "timestamp") and their names.
	Metadata map[string]string `json:"metadata,omitempty"`
	// OnBadRecord is "fail" (default) or "dead_letter".
	OnBadRecord string `json:"on_bad_record,omitempty"`
	// OnDataLoss is "fail" (default) or "skip": what a read does at offsets that were
	// gone (deleted by retention) before it read them.
	OnDataLoss string `json:"on_data_loss,omitempty"`
	// Sink: the key column, delivery guarantee ("at-least-once", "exactly-once",
	// "none") and the prefix of transactional ids.
	Key  string   `json:"key,omitempty"`
	Keys []string `json:"keys,omitempty"` // several key columns: a JSON object
	// KeyExpr (sink), instead of Key or Keys: an expression of the columns whose value
	// is each record's key (the bytes of a string or binary value, else its JSON text).
	KeyExpr               *Expr  `json:"key_expr,omitempty"`
	DeliveryGuarantee     string `json:"delivery_guarantee,omitempty"`
	TransactionalIDPrefix string `json:"transactional_id_prefix,omitempty"`
	// GroupID (source): the consumer group that completed checkpoints' offsets are
	// committed to, for monitoring.
	GroupID string `json:"group_id,omitempty"`
	// PartitionBy (sink): the columns whose values choose each record's partition.
	PartitionBy []string `json:"partition_by,omitempty"`
	// Partitioner (sink): "default" (by key; keyless records sticky), "fixed" (subtask i
	// to partition i mod n) or "round-robin", Flink's sink.partitioner.
	Partitioner string `json:"partitioner,omitempty"`
	// Upsert (sink): the input is an updating stream, written by key: +I/+U as the key's
	// value, -D as a null value (a tombstone), -U not at all.
	Upsert bool `json:"upsert,omitempty"`
	// Options are Kafka client properties.
	Options map[string]string `json:"options,omitempty"`
}

// KafkaBound is where a Kafka read starts or ends: kind "earliest" (start only),
// "latest", "timestamp" (Millis since the epoch) or "offsets" (by partition; partitions
// not listed start at the earliest offset and end at the latest).
type KafkaBound struct {
	Kind    string              `json:"kind"`
	Millis  int64               `json:"timestamp_ms,omitempty"`
	Offsets []KafkaTopicOffsets `json:"offsets,omitempty"`
}

// KafkaTopicOffsets is one partition's offset.
type KafkaTopicOffsets struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}
