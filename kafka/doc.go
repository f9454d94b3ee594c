// Package kafka is riverbed's Kafka connectivity on franz-go: the pieces the
// Kafka source and the exactly-once Kafka sink are built from, independent of
// the engine's internals (it imports only arrow-go, franz-go, hamba/avro, rberr and
// internal/textcodec).
//
// Decoding (decode*.go): a Decoder turns a slice of Kafka records into one
// Arrow record batch of the good rows plus the list of records it could not
// decode. Formats: JSON against a given Arrow schema (nested structs and
// lists, timestamps as RFC 3339 text or integers in the column's unit),
// CSV against a schema (one row per record), Raw (the value as binary or
// string), ArrowIPC (an IPC stream per record, checked against the
// schema and bounded before arrow-go reads it: ipcguard.go) and Avro (one
// binary datum per record of a given record schema, whose fields become the
// columns: AvroSchema; read with hamba/avro's Reader into the intermediate
// form, decode_avro.go; or, with SchemaRegistry, in Confluent's wire format,
// each datum read with the writer schema its id names and resolved against
// the reader schema, Avro's schema resolution at any depth: registry.go,
// resolve_avro.go; without a registry, the same resolution from a writer
// schema given by hand, AvroWriterSchema). Metadata
// columns (key, headers, topic, partition, offset, Kafka timestamp) are
// appended after the value columns when named. A bad record never vanishes:
// its BadRecord keeps the raw key, value and headers, its topic, partition
// and offset, and a reason naming the field ("field \"user.id\": expected
// int64, got JSON string ..."), so the caller can route it to a dead-letter
// output or fail with BadRecord.Err, which names topic, partition and offset.
// JSON and CSV rows are parsed completely into an intermediate form before
// anything is appended (internal/textcodec, which the CSV and NDJSON file readers
// share), so a bad record leaves no partial row.
//
// InferJSONSchema (infer.go, on textcodec.JSONInferrer) infers a schema from
// a sample of JSON values for reads without one. DeadLetters (deadletter.go) turns bad records into
// dead-letter rows (DeadLetterSchema). ParseOptions (options.go) maps Kafka
// client properties by their Flink/librdkafka names (security, SASL, TLS,
// fetch and producer settings) to franz-go options, refusing unknown keys;
// ParseGuarantee (guarantee.go) the sink's delivery guarantee.
//
// Encoding (encode.go): an Encoder turns Arrow batches into records: JSON
// (one object per row, in the forms the decoder reads back), Raw (one
// binary or string column) or ArrowIPC (an IPC stream per batch or per
// RowsPerRecord rows); KeyColumn (or KeyColumns, a JSON object of several, or
// KeyType and EncodeKeyed, keys computed apart, from an expression)
// sets record keys, and PartitionColumns the bytes whose murmur2 hash chooses
// the partition, with ColumnPartitioner as the producer's partitioner;
// SinkPartitioner gives Flink's "fixed" and "round-robin" partitioners.
// Avro (encode_avro.go) writes a datum per row of a record schema derived
// from the columns (AvroSchemaOf) or of the user's (EncoderOptions.AvroSchema,
// encode_avro_schema.go), with the registry's 5-byte prefix when
// AvroSchemaID is set; RegistryClient (registry.go) registers and fetches
// schemas.
//
// Reading (split.go, discover.go): a partition is a split. A Reader reads a
// set of splits through one franz-go client (read_committed by default, as
// Flink's source), from a Start (earliest, latest, offset, timestamp) to an
// optional End (offset, latest, timestamp; resolved to an offset when the
// split is added, so a restored bounded read ends where the original would
// have). Positions returns each split's SplitState (the next offset to read
// and the resolved end): what a checkpoint stores; Restore resumes exactly
// there. Transaction markers occupy offsets; the reader keeps control
// records internally so a position passes a marker at the end of a range,
// and drops them from what it returns. A Discoverer lists the partitions of
// named topics or of a pattern (matched against whole names) and, called
// again, returns only new ones (a topic matching the pattern that the broker
// cannot describe yet is left for a later call). CommitGroupOffsets (group.go) commits
// offsets to a consumer group without joining it, for monitoring.
//
// Writing (txn.go): a TxnProducer writes one Kafka transaction per
// checkpoint: Begin, Produce, PreCommit (flush; returns the PendingTxn —
// transactional id, producer id, epoch — that the checkpoint stores), then
// Commit when the checkpoint completes, or Abort. After a crash,
// CommitPending commits the restored checkpoint's transaction by sending the
// EndTxn request its producer would have sent (with the stored producer id
// and epoch), and AbortLingering aborts the transactions of later
// checkpoints, probing their transactional ids until an unused one, as
// Flink's PROBING strategy (AbortTransactions aborts given ids; both send
// InitProducerID, which fences the old producer and aborts its transaction);
// AbortOpen then aborts every other open transaction of the prefix, found
// with ListTransactions (those of killed runs at another parallelism).
// TransactionalID names transactions prefix-subtask-checkpoint, as Flink's
// KafkaSink does. docs/design-kafka.md describes Flink's recovery protocol,
// how the engine's Kafka source and sink (engine/source/kafka.go,
// engine/ops/sink/kafka.go) use this package, and what remains.
//
// Integration tests run against a real Apache Kafka broker named by
// RIVERBED_KAFKA_BROKERS (kafka/testbroker/broker.sh starts one; `make
// test-go` does so for its run) and are skipped, saying so, without it.
package kafka
