"""Built-in generator sources: ``datagen`` (rows of a given schema) and ``nexmark`` (the
Nexmark benchmark's persons, auctions and bids). Every row is a pure function of the seed
and its position, so runs are reproducible and any split of the work regenerates the same
rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .datatypes import to_datatype
from .errors import PlanError, TypeMismatchError

if TYPE_CHECKING:  # pragma: no cover
    from .stream import Environment, Stream

_FIELD_OPTIONS = {"kind", "min", "max", "length", "nulls"}


def datagen_node(schema: dict[str, Any], rows_per_second: float | None, number_of_rows: int | None, seed: int,
                 fields: dict[str, dict[str, Any]] | None, event_time: str | None,
                 max_out_of_orderness: Any) -> dict[str, Any]:
    from .stream import _event_time

    if not isinstance(schema, dict) or not schema:
        raise TypeMismatchError("datagen needs a schema: a dict of column name to type, e.g. {'id': rb.Int64}")
    fields = fields or {}
    unknown = set(fields) - set(schema)
    if unknown:
        raise PlanError(f"datagen: fields options name columns not in the schema: {sorted(unknown)}")
    plan_fields = []
    for name, typ in schema.items():
        f: dict[str, Any] = {"name": name, "type": to_datatype(typ).plan_name}
        opts = fields.get(name, {})
        bad = set(opts) - _FIELD_OPTIONS
        if bad:
            raise PlanError(f"datagen: unknown options {sorted(bad)} for column {name!r}; "
                             f"expected some of {sorted(_FIELD_OPTIONS)}")
        f.update(opts)
        plan_fields.append(f)
    node: dict[str, Any] = {"op": "datagen", "fields": plan_fields, "seed": int(seed)}
    if rows_per_second is not None:
        node["rate"] = float(rows_per_second)
    if number_of_rows is not None:
        node["count"] = int(number_of_rows)
    if event_time is None:
        event_time = next((n for n, t in schema.items() if to_datatype(t).plan_name.startswith("timestamp")), None)
    return _event_time(node, event_time, max_out_of_orderness, None)


def datagen(schema: dict[str, Any], *, rows_per_second: float | None = None, number_of_rows: int | None = None,
            seed: int = 0, fields: dict[str, dict[str, Any]] | None = None, event_time: str | None = None,
            max_out_of_orderness: Any = None) -> Stream:
    """Generated rows of ``schema`` (Flink's ``datagen`` connector).

    Numbers are random in ``[min, max]`` (or count up from ``min`` with ``kind="sequence"``),
    strings random of ``length``, and ``nulls`` is the fraction of nulls — all set per column
    in ``fields``. A timestamp column carries event time: row i is at
    ``2026-01-01 + i / rows_per_second`` seconds, and is the default ``event_time``.
    ``rows_per_second`` also paces the source in wall-clock time; without it rows come as
    fast as they can. Without ``number_of_rows`` the stream is unbounded.

    Examples
    --------
    >>> import riverbed as rb
    >>> s = rb.datagen({"id": rb.Int64, "v": rb.Float64}, number_of_rows=5,
    ...                fields={"id": {"kind": "sequence", "min": 1}})
    >>> s.collect()["id"].to_pylist()
    [1, 2, 3, 4, 5]
    """
    from .stream import _default_env

    return _default_env.datagen(schema, rows_per_second=rows_per_second, number_of_rows=number_of_rows, seed=seed,
                                fields=fields, event_time=event_time, max_out_of_orderness=max_out_of_orderness)


class Nexmark:
    """The Nexmark event generator; take its streams with :meth:`persons`,
    :meth:`auctions` and :meth:`bids`."""

    def __init__(self, env: Environment, events_per_second: float | None, max_events: int | None, seed: int):
        if events_per_second is not None and events_per_second <= 0:
            raise PlanError(f"events_per_second must be positive, got {events_per_second!r}")
        if max_events is not None and max_events < 0:
            raise PlanError(f"max_events must not be negative, got {max_events!r}")
        self._env = env
        self._rate = events_per_second
        self._max = max_events
        self._seed = seed

    def _stream(self, kind: str) -> Stream:
        from .stream import Stream

        node: dict[str, Any] = {"op": "nexmark", "kind": kind, "seed": int(self._seed)}
        if self._rate is not None:
            node["rate"] = float(self._rate)
        if self._max is not None:
            node["count"] = int(self._max)
        return Stream(self._env, node, [], unbounded=self._max is None)

    def persons(self) -> Stream:
        """Person events (1 in 50): id, name, email_address, credit_card, city, state, date_time, extra.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.nexmark(max_events=100).persons().collect().num_rows  # 1 event in 50 is a person
        2
        """
        return self._stream("person")

    def auctions(self) -> Stream:
        """Auction events (3 in 50): id, item_name, description, initial_bid, reserve, date_time,
        expires, seller, category, extra.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.nexmark(max_events=100).auctions().collect().num_rows  # 3 events in 50 are auctions
        6
        """
        return self._stream("auction")

    def bids(self) -> Stream:
        """Bid events (46 in 50): auction, bidder, price, channel, url, date_time, extra.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.nexmark(max_events=100).bids().columns
        ['auction', 'bidder', 'price', 'channel', 'url', 'date_time', 'extra']
        """
        return self._stream("bid")


def nexmark(events_per_second: float | None = None, *, max_events: int | None = None, seed: int = 0) -> Nexmark:
    """The Nexmark benchmark's events: one stream of persons, auctions and bids in
    proportions 1:3:46, with hot auctions, bidders and sellers, as the reference generator.

    Event times are spaced ``1 / events_per_second`` apart (100,000/s if not given), and
    the source is paced to that rate in wall-clock time when ``events_per_second`` is given.
    Watermarks trail event time by 4 seconds (``date_time`` is the event time). Without
    ``max_events`` the streams are unbounded.

    Examples
    --------
    >>> import riverbed as rb
    >>> bids = rb.nexmark(max_events=1000).bids().collect()
    >>> bids.num_rows, bids.column_names[:3]
    (920, ['auction', 'bidder', 'price'])
    """
    from .stream import _default_env

    return _default_env.nexmark(events_per_second, max_events=max_events, seed=seed)
