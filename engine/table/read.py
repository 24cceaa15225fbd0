"""Query and Scan: key ranges over the base keyspace and the paged read of a range.

Query's range is one partition (``hash prefix | enc(pk)``) narrowed by the sort key
condition, which the order-preserving key encoding turns into byte bounds: ``sk < v`` ends
at ``P | enc(v)``, ``sk <= v`` at ``successor(P | enc(v))`` (index entries go on after
their sort key, and a self-delimiting encoding is never a prefix of a greater one), and
``begins_with(sk, p)`` is the prefix range of ``P | esc(p)`` (the encoding without its
terminator), checked again on the decoded value because an escaped byte can straddle the
prefix. Scan's range is the whole keyspace, or for parallel Scan the slice of the 32-bit
hash space that belongs to the segment, so every item falls in exactly one segment.

A page stops after ``limit`` items are evaluated or once the items read reach 1 MiB
(1,048,576 bytes of DynamoDB item size, counted before any filter); either way the page
reports the last evaluated key, as DynamoDB does, even when nothing follows it.

Thread-safety: functions are pure apart from reading the store at one snapshot.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.codec import encode_key_value, encode_primary_key
from engine.errors import ValidationException
from engine.model import compare_values, decode_item, decode_page
from engine.storage import Snapshot
from engine.table.table import Table, successor

_unpack_size = struct.Struct("<I").unpack_from

__all__ = ["PAGE_BYTES", "Page", "query_range", "read_page", "segment_range", "sort_bounds"]

PAGE_BYTES = 1 << 20

KeyCheck = Callable[[dict], bool]


@dataclass(slots=True)
class Page:
    """One page of a Query or Scan."""

    items: list[dict] = field(default_factory=list)
    count: int = 0
    scanned: int = 0
    last_key: bytes | None = None
    last_value: bytes | None = None
    read_bytes: int = 0


def _fmt(v: dict) -> str:
    ((t, x),) = v.items()
    return f"AttributeValue: {{{t}:{x}}}"


def query_range(
    table: Table, pk: dict, sort_op: str | None, sort_values: tuple[dict, ...]
) -> tuple[bytes, bytes | None, KeyCheck | None]:
    """(start, end, extra check) of a Query on partition ``pk`` with a sort key condition.

    Raises ValidationException for a BETWEEN whose bounds are reversed.
    """
    d = table.defn
    ht = d.hash_type
    p = encode_primary_key(ht, pk[ht])
    return sort_bounds(p, d.range_key, d.range_type, sort_op, sort_values)


def sort_bounds(
    p: bytes,
    name: str | None,
    rt: str | None,
    sort_op: str | None,
    sort_values: tuple[dict, ...],
) -> tuple[bytes, bytes | None, KeyCheck | None]:
    """(start, end, extra check) of the keys that start with ``p`` and continue with the
    encoded sort key attribute ``name`` (type ``rt``) satisfying ``sort_op``.

    Keys may go on after the sort key (an index entry ends with its base key), so every
    bound is a prefix bound: ``v`` itself ends at ``successor(p | enc(v))``.
    """
    p_end = successor(p)
    if sort_op is None:
        return p, p_end, None
    assert rt is not None
    e = p + encode_key_value(rt, sort_values[0][rt])
    if sort_op == "=":
        return e, successor(e), None
    if sort_op == "<":
        return p, e, None
    if sort_op == "<=":
        return p, successor(e), None
    if sort_op == ">":
        return successor(e), p_end, None  # type: ignore[return-value]
    if sort_op == ">=":
        return e, p_end, None
    if sort_op == "BETWEEN":
        lo, hi = sort_values
        if compare_values(lo, hi) > 0:  # type: ignore[operator]
            raise ValidationException(
                "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be "
                f"greater than or equal to lower bound; lower bound operand: {_fmt(lo)}, "
                f"upper bound operand: {_fmt(hi)}"
            )
        return e, successor(p + encode_key_value(rt, hi[rt])), None
    assert sort_op == "begins_with"
    prefix = sort_values[0][rt]
    stem = e[:-2]  # the escaped bytes without the terminator

    def starts(item: dict) -> bool:
        v = item.get(name)  # type: ignore[arg-type]
        return v is not None and v[rt].startswith(prefix)

    return stem, successor(stem), starts


def segment_range(segment: int, total_segments: int) -> tuple[bytes | None, bytes | None]:
    """The slice of the 32-bit hash space that parallel Scan segment ``segment`` covers."""
    lo = (segment << 32) // total_segments
    hi = ((segment + 1) << 32) // total_segments
    start = lo.to_bytes(4, "big") if lo else None
    end = hi.to_bytes(4, "big") if segment + 1 < total_segments else None
    return start, end


def read_page(
    table: Table,
    start: bytes | None,
    end: bytes | None,
    *,
    reverse: bool = False,
    after: bytes | None = None,
    limit: int | None = None,
    key_check: KeyCheck | None = None,
    accept: Callable[[dict], bool] | None = None,
    keep_items: bool = True,
    snapshot: Snapshot | None = None,
    keyspace: str | None = None,
    fetch: Callable[[dict], dict | None] | None = None,
) -> Page:
    """Read one page of [start, end), resuming after the storage key ``after``.

    ``accept`` is the filter (applied after the item is counted as scanned); items it
    accepts are returned when ``keep_items``. Projection is the caller's. ``keyspace``
    reads one of the table's index keyspaces instead of its base keyspace; ``fetch``
    replaces each decoded entry before it is checked (an LSI fetching base items).
    """
    if after is not None:
        if reverse:
            end = after if end is None or after < end else end
        else:
            nxt = after + b"\x00"
            start = nxt if start is None or nxt > start else start
    page = Page()
    rows = table.store.scan(
        keyspace or table.keyspace, start, end, reverse=reverse, snapshot=snapshot
    )
    unpack = _unpack_size
    size = scanned = count = 0
    if key_check is None and fetch is None:
        if not keep_items and accept is None:
            # Select=COUNT without a filter: the stored size is all a page needs.
            for skey, data in rows:
                scanned += 1
                size += unpack(data)[0]
                if scanned == limit or size >= PAGE_BYTES:
                    page.last_key, page.last_value = skey, data
                    break
            page.count = page.scanned = scanned
            page.read_bytes = size
            return page
        # the common page: decoded, counted, filtered and cut in one native call
        (
            page.items,
            page.count,
            page.scanned,
            page.read_bytes,
            page.last_key,
            page.last_value,
        ) = decode_page(rows, limit, PAGE_BYTES, accept, keep_items)
        return page
    append = page.items.append
    decode = decode_item
    for skey, data in rows:
        item = decode(data, 4)
        if key_check is not None and not key_check(item):
            continue
        if fetch is not None:
            item = fetch(item)
            if item is None:
                continue
        scanned += 1
        size += unpack(data)[0]
        if accept is None or accept(item):
            count += 1
            if keep_items:
                append(item)
        if scanned == limit or size >= PAGE_BYTES:
            page.last_key, page.last_value = skey, data
            break
    page.count = count
    page.scanned = scanned
    page.read_bytes = size
    return page
