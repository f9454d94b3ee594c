"""SQL: Flink-dialect queries compiled by the engine into the same plan the Python API builds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _lib
from .errors import TypeMismatchError

if TYPE_CHECKING:  # pragma: no cover
    from .stream import Environment, Stream


def sql(env: Environment, query: str, tables: dict[str, Any]) -> Stream:
    """Compile ``query`` over ``tables`` (streams, or Arrow/pandas/Polars data) into a Stream."""
    from .stream import Stream, _plan_doc

    if not isinstance(query, str):
        raise TypeMismatchError(f"sql takes the query text as a string, got {type(query).__name__}")
    streams: dict[str, Stream] = {}
    for name, t in tables.items():
        streams[name] = t if isinstance(t, Stream) else env.from_arrow(t)
    names = list(streams)
    nodes = [streams[n]._node for n in names]
    doc: dict[str, Any] = {"names": names}
    schemas: list[Any] = []
    sources: list[Any] = []
    if names:
        plan, srcs = _plan_doc(env, nodes, None)
        if len(names) == 1:  # the engine reads "outputs": give one output as a list too
            plan["outputs"] = [plan.pop("root")]
        doc["plan"] = plan
        schemas = [s.schema for s in srcs]
    for s in streams.values():
        sources += [src for src in s._sources if src not in sources]
    root = _lib.sql_plan(query, doc, schemas)
    ids: dict[str, dict[str, Any]] = {}
    unbounded = any(s._unbounded for s in streams.values())

    def resolve(n: dict[str, Any]) -> dict[str, Any]:
        nonlocal unbounded
        ref = n.get("ref")
        if isinstance(ref, str):
            if ref.startswith("$table:"):
                return nodes[int(ref[len("$table:"):])]
            return ids[ref]
        if "id" in n:
            ids[n.pop("id")] = n
        if n.get("op") in ("nexmark", "datagen") and "count" not in n:
            unbounded = True
        if n.get("op") == "scan_kafka" and "end" not in n.get("kafka", {}):
            unbounded = True  # a kafka table without 'scan.bounded.mode' reads on
        if "input" in n:
            n["input"] = resolve(n["input"])
        if "inputs" in n:
            n["inputs"] = [resolve(i) for i in n["inputs"]]
        return n

    node = resolve(root)
    return Stream(env, node, sources, unbounded=unbounded)
