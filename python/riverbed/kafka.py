"""Kafka: ``read_kafka`` (a source) and ``Stream.write_kafka`` (a sink). The engine reads and
writes Kafka itself (franz-go, in Go); this module only builds plan nodes. See docs/kafka.md."""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Union

import pyarrow as pa

from .errors import PlanError, TypeMismatchError
from .expr import Expr
from .stream import Stream

if TYPE_CHECKING:  # pragma: no cover
    from .stream import Environment
    from .window import Duration

KafkaFormat = Literal["json", "csv", "raw", "arrow", "avro"]
OnBadRecord = Literal["fail", "dead_letter"]
OnDataLoss = Literal["fail", "skip"]
#: write_kafka's delivery guarantee: Flink's names (``sink.delivery-guarantee``), or the
#: same with underscores.
DeliveryGuarantee = Literal["at-least-once", "exactly-once", "none", "at_least_once", "exactly_once"]
#: Where a read starts or ends: "earliest" (start only), "latest", a point in time (a
#: ``datetime``; naive means UTC) or offsets by partition (``{partition: offset}``, or
#: ``{(topic, partition): offset}`` for several topics).
KafkaBound = Union[str, _dt.datetime, Mapping[Any, int]]

#: The metadata columns read_kafka can add, and their default names.
METADATA = {"key": "kafka_key", "headers": "kafka_headers", "topic": "kafka_topic",
            "partition": "kafka_partition", "offset": "kafka_offset", "timestamp": "kafka_timestamp"}


def _brokers(brokers: str | Sequence[str]) -> list[str]:
    if isinstance(brokers, str):
        out = [b.strip() for b in brokers.split(",") if b.strip()]
    else:
        out = [str(b) for b in brokers]
    if not out:
        raise PlanError("brokers must name at least one broker, e.g. 'localhost:9092'")
    return out


def _options(options: Mapping[str, Any] | None) -> dict[str, str]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeMismatchError(f"options must be a dict of Kafka client properties, got {type(options).__name__}")
    out = {}
    for k, v in options.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        out[str(k)] = str(v)
    return out


def _millis(t: _dt.datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return int(t.timestamp() * 1000)


def _bound(b: Any, what: str, topics: list[str]) -> dict[str, Any]:
    if isinstance(b, str):
        if b in ("earliest", "latest"):
            if what == "end" and b == "earliest":
                raise PlanError("end='earliest' reads nothing; use end='latest', a datetime or offsets")
            return {"kind": b}
        try:
            return {"kind": "timestamp", "timestamp_ms": _millis(_dt.datetime.fromisoformat(b))}
        except ValueError:
            raise PlanError(f"{what} must be 'earliest', 'latest', a datetime (or ISO 8601 text) or "
                             f"{{partition: offset}}, got {b!r}") from None
    if isinstance(b, _dt.datetime):
        return {"kind": "timestamp", "timestamp_ms": _millis(b)}
    if hasattr(b, "to_pydatetime"):  # pandas.Timestamp
        return {"kind": "timestamp", "timestamp_ms": _millis(b.to_pydatetime())}
    if isinstance(b, Mapping):
        offsets = []
        for k, v in b.items():
            if isinstance(k, tuple) and len(k) == 2:
                topic, part = k
            elif isinstance(k, int) and not isinstance(k, bool):
                if len(topics) != 1:
                    raise PlanError(f"{what} offsets of several topics: key them by (topic, partition)")
                topic, part = topics[0], k
            else:
                raise TypeMismatchError(f"{what} offsets are keyed by partition (int) or (topic, partition), got {k!r}")
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise PlanError(f"{what} offset of partition {k!r} must be a non-negative integer, got {v!r}")
            offsets.append({"topic": str(topic), "partition": int(part), "offset": v})
        return {"kind": "offsets", "offsets": offsets}
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        raise TypeMismatchError(
            f"{what}={b!r}: pass a datetime for a point in time, or {{partition: offset}} for offsets")
    raise TypeMismatchError(f"{what} must be 'earliest', 'latest', a datetime or {{partition: offset}}, got {b!r}")


def schema_ipc(schema: Any) -> str:
    """A pyarrow schema (or a dict of column name to type) as the base64 Arrow IPC stream the
    plan carries."""
    from .datatypes import DataType, to_datatype

    if isinstance(schema, Mapping):
        fields = []
        for name, t in schema.items():
            if isinstance(t, pa.DataType):
                at = t
            elif isinstance(t, DataType):
                at = t.to_arrow()
            else:
                at = to_datatype(t).to_arrow()
            fields.append(pa.field(str(name), at))
        schema = pa.schema(fields)
    if not isinstance(schema, pa.Schema):
        raise TypeMismatchError("schema must be a pyarrow.Schema or a dict of column name to type, "
                        f"got {type(schema).__name__}")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema):
        pass
    return base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")


def _registry(url: Any, format: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise PlanError(f"schema_registry must be the URL of a schema registry (http://host:8081), got {url!r}")
    if format != "avro":
        raise PlanError(f"schema_registry is for format='avro', not {format!r}")
    return url


def read_kafka_node(brokers: str | Sequence[str], topic: str | Sequence[str] | None, pattern: str | None,
                    format: str, schema: Any, start: Any, end: Any, metadata: Any,
                    on_bad_record: str, options: Mapping[str, Any] | None, csv_delimiter: str | None,
                    sample_size: int | None, group_id: str | None = None,
                    schema_registry: str | None = None, on_data_loss: str = "fail",
                    writer_schema: Any = None, upsert: bool = False,
                    key: str | Sequence[str] | None = None) -> dict[str, Any]:
    """The plan node of a read_kafka."""
    if (topic is None) == (pattern is None):
        raise PlanError("read_kafka takes a topic (or a list of topics) or pattern=, not both and not neither")
    topics = [topic] if isinstance(topic, str) else [str(t) for t in topic] if topic is not None else []
    if topic is not None and not topics:
        raise PlanError("read_kafka needs at least one topic")
    if format not in ("json", "csv", "raw", "arrow", "avro"):
        raise PlanError(f"format must be 'json', 'csv', 'raw', 'arrow' or 'avro', got {format!r}")
    if on_bad_record not in ("fail", "dead_letter"):
        raise PlanError(f"on_bad_record must be 'fail' or 'dead_letter', got {on_bad_record!r}")
    if on_data_loss not in ("fail", "skip"):
        raise PlanError(f"on_data_loss must be 'fail' or 'skip', got {on_data_loss!r}")
    k: dict[str, Any] = {"brokers": _brokers(brokers), "format": format, "on_bad_record": on_bad_record,
                         "on_data_loss": on_data_loss, "options": _options(options)}
    if topics:
        k["topics"] = topics
    else:
        k["pattern"] = pattern
    if schema_registry is not None:
        k["schema_registry"] = _registry(schema_registry, format)
    if format == "avro":
        if isinstance(schema, Mapping) and "type" in schema:
            k["avro_schema"] = json.dumps(schema)
        elif isinstance(schema, str):
            k["avro_schema"] = schema
        elif schema is None and schema_registry is not None:
            pass  # the latest schema of the topic's subject, when the plan is bound
        else:
            raise TypeMismatchError("format='avro' needs schema= the Avro schema of the records (a record schema, "
                            f"as JSON text or a dict), got {type(schema).__name__}")
    elif schema is not None:
        k["schema"] = schema_ipc(schema)
    if writer_schema is not None:
        if format != "avro":
            raise PlanError(f"writer_schema is for format='avro', not {format!r}")
        if isinstance(writer_schema, Mapping) and "type" in writer_schema:
            k["avro_writer_schema"] = json.dumps(writer_schema)
        elif isinstance(writer_schema, str):
            k["avro_writer_schema"] = writer_schema
        else:
            raise TypeMismatchError("writer_schema must be the Avro schema the records were written with (a record "
                            f"schema, as JSON text or a dict), got {type(writer_schema).__name__}")
    if sample_size is not None:
        if not isinstance(sample_size, int) or sample_size < 1:
            raise PlanError(f"sample_size must be a positive integer, got {sample_size!r}")
        k["sample_size"] = sample_size
    if csv_delimiter is not None:
        k["csv_delimiter"] = csv_delimiter
    if group_id is not None:
        if not isinstance(group_id, str) or not group_id:
            raise PlanError(f"group_id must be a consumer group name, got {group_id!r}")
        k["group_id"] = group_id
    k["start"] = _bound(start, "start", topics)
    if end is not None:
        k["end"] = _bound(end, "end", topics)
    if metadata:
        if isinstance(metadata, str):
            metadata = [metadata]
        if isinstance(metadata, Mapping):
            meta = {str(kind): str(name) for kind, name in metadata.items()}
        else:
            meta = {}
            for kind in metadata:
                if kind not in METADATA:
                    raise PlanError(f"unknown metadata column {kind!r}; expected some of {', '.join(METADATA)}")
                meta[kind] = METADATA[kind]
        k["metadata"] = meta
    if not isinstance(upsert, bool):
        raise TypeMismatchError(f"upsert must be True or False, got {upsert!r}")
    if upsert:
        if key is None:
            raise PlanError("read_kafka(upsert=True) needs key= the key columns: each record upserts its key "
                             "or, with a null value (a tombstone), deletes it")
        k["upsert"] = True
        k["keys"] = _columns(key, "key")
    elif key is not None:
        raise PlanError("read_kafka takes key= with upsert=True (the key columns of an upsert topic); a plain "
                         "read gives the record key with metadata=['key']")
    return {"op": "scan_kafka", "kafka": k}


def _columns(v: str | Sequence[str], what: str) -> list[str]:
    cols = [v] if isinstance(v, str) else list(v) if isinstance(v, Sequence) else None
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise TypeMismatchError(f"{what} must be a column name or a list of column names, got {v!r}")
    return cols


def write_kafka_node(brokers: str | Sequence[str], topic: str, format: str, key: str | Expr | Sequence[str] | None,
                     delivery_guarantee: str | None, transactional_id_prefix: str | None,
                     options: Mapping[str, Any] | None, upsert: bool = False,
                     partition_by: str | Sequence[str] | None = None,
                     partitioner: str = "default", schema_registry: str | None = None,
                     schema: Any = None, subject_name_strategy: str | None = None) -> dict[str, Any]:
    """The plan node of a write_kafka (its input is set by the caller)."""
    if not isinstance(topic, str) or not topic:
        raise PlanError(f"topic must be a topic name, got {topic!r}")
    if format not in ("json", "avro", "raw", "arrow"):
        raise PlanError(f"write_kafka writes format 'json', 'avro', 'raw' or 'arrow', got {format!r}")
    k: dict[str, Any] = {"brokers": _brokers(brokers), "topic": topic, "format": format,
                         "options": _options(options)}
    if delivery_guarantee is not None:
        if not isinstance(delivery_guarantee, str):
            raise TypeMismatchError("delivery_guarantee must be 'exactly-once', 'at-least-once' or 'none', "
                            f"got {delivery_guarantee!r}")
        k["delivery_guarantee"] = delivery_guarantee  # spellings and values checked by the engine
    if isinstance(key, Expr):
        k["key_expr"] = key._to_plan()
    elif key is not None:
        if not isinstance(key, str) and isinstance(key, Sequence) and any(isinstance(c, Expr) for c in key):
            raise TypeMismatchError("key takes a column name, a list of column names or one expression (e.g. "
                            "rb.concat_str([col('user'), col('region')], separator='/')), not a list of expressions")
        keys = _columns(key, "key")
        if len(keys) == 1:
            k["key"] = keys[0]
        else:
            k["keys"] = keys
    if partition_by is not None:
        k["partition_by"] = _columns(partition_by, "partition_by")
    if partitioner not in ("default", "fixed", "round-robin"):
        raise PlanError("partitioner must be 'default', 'fixed' or 'round-robin' (Flink's sink.partitioner), "
                         f"got {partitioner!r}")
    if partitioner != "default":
        k["partitioner"] = partitioner
    if schema_registry is not None:
        k["schema_registry"] = _registry(schema_registry, format)
    if subject_name_strategy is not None:
        if subject_name_strategy not in ("topic", "record", "topic_record"):
            raise PlanError("subject_name_strategy must be 'topic', 'record' or 'topic_record', "
                             f"got {subject_name_strategy!r}")
        if schema_registry is None:
            raise PlanError("subject_name_strategy is for writing through a schema_registry")
        k["subject_name_strategy"] = subject_name_strategy
    if schema is not None:
        if format != "avro":
            raise PlanError(f"write_kafka takes schema= (an Avro writer schema) with format='avro', not {format!r}")
        if isinstance(schema, Mapping):
            k["avro_schema"] = json.dumps(schema)
        elif isinstance(schema, str):
            k["avro_schema"] = schema
        else:
            raise TypeMismatchError(
                f"schema must be an Avro record schema (a dict or JSON text), got {type(schema).__name__}")
    if transactional_id_prefix is not None:
        k["transactional_id_prefix"] = transactional_id_prefix
    if not isinstance(upsert, bool):
        raise TypeMismatchError(f"upsert must be True or False, got {upsert!r}")
    if upsert:
        k["upsert"] = True
    return {"op": "write_kafka", "kafka": k}


def read_kafka(brokers: str | Sequence[str], topic: str | Sequence[str] | None = None, *,
               pattern: str | None = None, format: KafkaFormat = "json", schema: Any = None,
               start: KafkaBound = "earliest", end: KafkaBound | None = None,
               metadata: Sequence[str] | Mapping[str, str] | None = None,
               event_time: str | None = None, max_out_of_orderness: Duration | None = None,
               idle_timeout: Duration | None = None, on_bad_record: OnBadRecord = "fail",
               options: Mapping[str, Any] | None = None, csv_delimiter: str | None = None,
               sample_size: int | None = None, group_id: str | None = None,
               schema_registry: str | None = None, on_data_loss: OnDataLoss = "fail",
               writer_schema: Any = None, upsert: bool = False, key: str | Sequence[str] | None = None,
               env: Environment | None = None) -> KafkaStream:
    """Read Kafka topics (Flink's Kafka source): ``topic`` (a name or a list of names) or
    ``pattern=`` (a regular expression matched against whole topic names; topics created
    later that match are read too). Each partition is a split: partitions are spread over
    the parallel subtasks, each with its own watermark.

    Parameters
    ----------
    brokers
        Bootstrap servers: ``"host:9092"``, ``"h1:9092,h2:9092"`` or a list.
    format
        Of the record values: ``"json"`` (one object per record; unknown fields ignored,
        missing ones null), ``"csv"`` (one row per record, fields in schema order),
        ``"raw"`` (the value as one ``binary`` column ``value``, or ``string`` with
        ``schema={"value": rb.Utf8}``), ``"arrow"`` (an Arrow IPC stream per record) or
        ``"avro"`` (one binary Avro datum per record; ``schema=`` is the Avro record schema,
        as a dict or JSON text; ``decimal`` reads as ``decimal128``, a union of several
        non-null types as a struct with one field per branch, see docs/kafka.md).
    schema
        The value columns: a ``pyarrow.Schema`` or a dict of name to type (nested
        ``pa.struct``/``pa.list_`` for JSON). Without it, JSON is read with a schema
        inferred from the first ``sample_size`` records (default 1000) of the range read;
        the other formats need one (``raw`` defaults to binary ``value``).
    start
        ``"earliest"`` (default), ``"latest"``, a ``datetime`` (the first record at or after
        it; naive means UTC) or offsets by partition: ``{0: 42, 1: 7}`` (or
        ``{("topic", 0): 42}``; unnamed partitions start at the earliest offset).
    end
        ``None`` (default): unbounded, read on as records arrive (run with ``.start()``).
        ``"latest"`` (the end when the job starts), a ``datetime`` or offsets by partition
        (exclusive; unnamed partitions end at the latest): a bounded read, a backfill over
        that range with the same plan. Offsets and ends are resolved when the job starts.
    metadata
        Kafka metadata as extra columns after the value columns: a list of ``"key"``,
        ``"headers"``, ``"topic"``, ``"partition"``, ``"offset"``, ``"timestamp"`` (named
        ``kafka_key``, ... ``kafka_timestamp``) or a dict of kind to column name.
    event_time
        The event-time column, or ``"kafka_timestamp"`` for the record timestamp.
        Watermarks are per partition (the largest event time read minus
        ``max_out_of_orderness``); the read's watermark is the lowest over its partitions.
    idle_timeout
        A partition without records for this long stops holding back the watermark, until
        it has records again (as Flink's ``withIdleness``).
    on_bad_record
        ``"fail"`` (default): a record that cannot be decoded fails the job with an error
        naming topic, partition, offset and the reason. ``"dead_letter"``: such records
        come out of :meth:`KafkaStream.dead_letters` instead (raw bytes, error and
        topic/partition/offset), to be written anywhere, including a Kafka topic.
    on_data_loss
        What the read does at offsets that are gone before it gets to them (deleted by
        retention or ``DeleteRecords``, say while the job was down, or behind a start
        offset given below the log start): ``"fail"`` (default) fails the job with a
        ``DataError`` naming the topic, the partition and the offsets lost; ``"skip"`` goes
        on from the first offset still there, logs the loss and counts the offsets in the
        metrics (``lost_records``).
    options
        Kafka client properties as Flink and librdkafka name them: ``security.protocol``,
        ``sasl.mechanism``, ``sasl.username``, ``sasl.password``, ``sasl.jaas.config``,
        ``ssl.ca.location``, ``ssl.certificate.location``, ``ssl.key.location``,
        ``ssl.endpoint.identification.algorithm``, ``client.id``, ``isolation.level``
        (``read_committed``, the default, or ``read_uncommitted``), ``max.poll.records``,
        ``fetch.max.bytes``, ``max.partition.fetch.bytes``, ``fetch.max.wait.ms``,
        ``request.timeout.ms``, ``metadata.max.age.ms`` and
        ``partition.discovery.interval.ms`` (default 10000; 0 or less: never look for new
        partitions). An unknown key is an error.
    group_id
        A consumer group (Flink's ``properties.group.id``) that the offsets of every
        completed checkpoint are committed to, so that lag-monitoring tools see how far
        the job has read. For monitoring only: the group is not joined, and recovery
        resumes at the checkpoint's offsets, not the group's. Without checkpoints nothing
        is committed.
    schema_registry
        With ``format="avro"``: the URL of a Confluent Schema Registry (or one with its
        REST API). Each value is then in Confluent's wire format (a 0 byte, the 4-byte
        schema id, the Avro datum) and is read with the schema its id names, fetched once
        and cached, so a topic may hold records of several schema versions. The columns
        are those of ``schema=`` (the reader schema), by default of the latest schema of
        the subject ``<topic>-value`` when the plan is built; writer fields are matched by
        name, a reader field the writer lacks is null (it must be nullable), ``int`` and
        ``float`` promote to ``long`` and ``double``. A record not in the wire format, or
        of an unknown id, is a bad record; an unreachable registry fails the job.
    writer_schema
        With ``format="avro"`` and no registry: the Avro schema the records were written
        with, when it differs from ``schema=`` (the reader schema, which gives the
        columns). Each datum is read with it and resolved into the reader's, by Avro's
        rules: fields matched by name, a reader field the writer lacks takes its default
        (or null), ``int``/``long``/``float`` promote, enum symbols and union branches map
        by name. A writer schema the reader's cannot read fails the plan, naming the field.
    upsert, key
        ``upsert=True`` reads the topic as Flink's upsert-kafka source, the counterpart of
        ``write_kafka(upsert=True)``: ``key=`` names the key columns (a column or a list;
        they are value columns too, as that sink writes them). Each record with a value is
        the new row of its key; one with a null value (a tombstone) deletes its key, whose
        columns are then read from the record key (one column: its text, its bytes, or its
        JSON text; several: a JSON object). The result is an **updating** stream (a
        changelog with an ``__op`` column, docs/changelog.md): ``+I`` for a new key,
        ``-U``/``+U`` when its row changes (nothing when the same row comes again), ``-D``
        with the key's last row when it is deleted (a tombstone of an unknown key is
        dropped). The last row of every key is keyed state, checkpointed with the offsets.

    Offsets are the source's positions: recovery from a checkpoint resumes exactly there.
    The job's metrics (:meth:`Job.metrics`) show each partition's last offset read and
    lag behind its high watermark.

    Examples
    --------
    Building the pipeline contacts no broker (with a ``schema``); running it does:

    >>> import riverbed as rb
    >>> from riverbed import col
    >>> orders = rb.read_kafka("localhost:9092", "orders",
    ...                        schema={"user_id": rb.Int64, "amount": rb.Float64, "ts": rb.Timestamp("ms")},
    ...                        event_time="ts", max_out_of_orderness="5s")
    >>> revenue = (orders.key_by("user_id").window(rb.tumbling("1m"))
    ...                  .agg(rb.count().alias("n"), col("amount").sum().alias("revenue")))
    >>> revenue.columns
    ['user_id', 'window_start', 'window_end', 'n', 'revenue']

    Avro: the columns and their types come from the Avro schema:

    >>> trades = rb.read_kafka("localhost:9092", "trades", format="avro", schema={
    ...     "type": "record", "name": "Trade", "fields": [
    ...         {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    ...         {"name": "ref", "type": ["null", "long", "string"]}]})
    >>> trades.schema.field("price").type, trades.schema.field("ref").type
    (Decimal128Type(decimal128(9, 2)), StructType(struct<long: int64, string: string>))

    Through a schema registry (Confluent's wire format), with a reader schema given (without
    one, the latest schema of the subject ``trades-value`` is fetched when the plan is built):

    >>> trades = rb.read_kafka("localhost:9092", "trades", format="avro", schema_registry="http://localhost:8081",
    ...                        schema={"type": "record", "name": "Trade", "fields": [{"name": "id", "type": "long"}]})
    >>> trades.columns
    ['id']
    """
    from .stream import _default_env, _event_time

    node = read_kafka_node(brokers, topic, pattern, format, schema, start, end, metadata, on_bad_record,
                           options, csv_delimiter, sample_size, group_id, schema_registry, on_data_loss,
                           writer_schema, upsert, key)
    node = _event_time(node, event_time, max_out_of_orderness, idle_timeout)
    return KafkaStream(env or _default_env, node, end is None)


class KafkaStream(Stream):
    """The rows of a Kafka read (a :class:`~riverbed.Stream`), with access to its dead letters."""

    def __init__(self, env: Environment, node: dict[str, Any], unbounded: bool):
        super().__init__(env, node, [], unbounded=unbounded)

    def dead_letters(self) -> Stream:
        """The records that could not be decoded (with ``on_bad_record="dead_letter"``), one
        row each: ``topic``, ``partition``, ``offset``, ``timestamp``, ``key``, ``value``
        (the raw bytes), ``headers`` and ``error`` (why it could not be read, naming the
        field). Run it in the same job as the rows (``rb.collect_all([s, s.dead_letters()])``
        or lazy sinks), so that Kafka is read once; a job that reads the rows of such a
        read without its dead letters is refused, as they would be lost.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.read_kafka("localhost:9092", "events", schema={"id": rb.Int64}, on_bad_record="dead_letter")
        >>> s.dead_letters().columns
        ['topic', 'partition', 'offset', 'timestamp', 'key', 'value', 'headers', 'error']
        """
        if self._node["kafka"].get("on_bad_record") != "dead_letter":
            raise PlanError("dead_letters() needs read_kafka(..., on_bad_record='dead_letter'); "
                            "with 'fail' a bad record fails the job, naming topic, partition and offset")
        return Stream(self._env, {"op": "kafka_dead_letters", "input": self._node}, [],
                      unbounded=self._unbounded)
