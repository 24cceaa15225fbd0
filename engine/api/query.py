"""Query and Scan: parameters to a key range and a page, the page to DynamoDB's reply.

Select: ALL_ATTRIBUTES (the default on a table), ALL_PROJECTED_ATTRIBUTES (the default on
an index), SPECIFIC_ATTRIBUTES (implied by a projection), COUNT (Count and ScannedCount, no
Items). ExclusiveStartKey must be a key of the table (and for Query, of the queried
partition; for parallel Scan, of the segment); on an index it carries the table's key and
the index's. Capacity is charged on the bytes the page read, before the filter.

IndexName reads the index's keyspace (engine.index). A GSI refuses ConsistentRead and
attributes it does not project; an LSI fetches them from the base items, at the same
snapshot, and charges those reads to the table. A FilterExpression may not name a key
attribute of what is queried.
"""

from __future__ import annotations

from engine.api.common import Context, consumed, key_for
from engine.api.exprs import prepare_request
from engine.capacity import read_units, scan_read_units
from engine.codec import encode_key_values
from engine.errors import ValidationException
from engine.errors import msg_param_invalid as _p
from engine.expr import (
    FILTER,
    KEY_CONDITION,
    analyze_index_key_condition,
    analyze_key_condition,
    index_key_condition_values,
    key_condition_values,
    top_level_names,
)
from engine.index import entry_key, partition_prefix, projected_names
from engine.model import validate_item
from engine.table import (
    IndexDef,
    decode_value,
    key_of,
    query_range,
    read_page,
    segment_range,
    sort_bounds,
)

__all__ = ["HANDLERS"]


def _select(p: dict, prep, ix: IndexDef | None, operation: str) -> str:
    has_projection = prep is not None and prep.projection is not None
    select = p.get("Select")
    if select is None:
        if has_projection:
            return "SPECIFIC_ATTRIBUTES"
        return "ALL_ATTRIBUTES" if ix is None else "ALL_PROJECTED_ATTRIBUTES"
    # Query words these messages as a validation error list; Scan does not.
    head = "1 validation error detected: " if operation == "Query" else ""
    what = "AttributesToGet" if p.get("AttributesToGet") is not None else "ProjectionExpression"
    if select == "SPECIFIC_ATTRIBUTES" and not has_projection:
        raise ValidationException(
            f"{head}Must specify the AttributesToGet or ProjectionExpression when choosing to "
            "get SPECIFIC_ATTRIBUTES"
        )
    if select in ("ALL_ATTRIBUTES", "COUNT", "ALL_PROJECTED_ATTRIBUTES") and has_projection:
        wanted = "only the Count" if select == "COUNT" else select
        raise ValidationException(f"{head}Cannot specify the {what} when choosing to get {wanted}")
    if select == "ALL_PROJECTED_ATTRIBUTES" and ix is None:
        raise ValidationException(
            f"{head}ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    if select == "ALL_ATTRIBUTES" and ix is not None and ix.is_global and ix.projection != "ALL":
        raise ValidationException(
            _p(
                f"Select type ALL_ATTRIBUTES is not supported for global secondary index "
                f"{ix.name} because its projection type is not ALL"
            )
        )
    return select


def _index(table, p: dict) -> IndexDef | None:
    """The index a Query or Scan names (None: the table itself), readable now."""
    name = p.get("IndexName")
    if name is None:
        return None
    ix = table.defn.index(name)
    if ix is None:
        raise ValidationException(f"The table does not have the specified index: {name}")
    if ix.status != "ACTIVE":
        raise ValidationException(f"Cannot read from backfilling global secondary index: {name}")
    if ix.is_global and p.get("ConsistentRead"):
        raise ValidationException("Consistent reads are not supported on global secondary indexes")
    return ix


def _start_key(table, esk: dict) -> tuple[dict, bytes]:
    """A validated ExclusiveStartKey; DynamoDB prefixes the key error with its context."""
    try:
        return key_for(table, esk)
    except ValidationException as exc:
        raise ValidationException(f"The provided starting key is invalid: {exc.message}") from None


def _index_start_key(table, ix: IndexDef, esk: object) -> tuple[dict, bytes]:
    """An index ExclusiveStartKey: the table's key attributes and the index's, exactly."""
    d = table.defn
    esk = validate_item(esk)
    names = set(d.key_names) | set(ix.key_names)
    if set(esk) != names or any(d.attributes[n] not in esk[n] for n in names):
        raise ValidationException(
            "The provided starting key is invalid: The provided key element does not match "
            "the schema"
        )
    base = {n: esk[n] for n in d.key_names}
    _, bkey = _start_key(table, base)
    ekey = entry_key(d, ix, esk, bkey)
    assert ekey is not None
    return esk, ekey


def _last_key(table, ix: IndexDef | None, page) -> dict:
    d = table.defn
    if ix is None:
        return key_of(d, page.last_key)
    item = decode_value(page.last_value)[0]
    return {n: item[n] for n in (*d.key_names, *ix.key_names) if n in item}


class _Reads:
    """What a page of an index read cost beyond the index itself (LSI fetches)."""

    def __init__(self) -> None:
        self.base_units = 0.0


def _plan_fetch(table, ix: IndexDef | None, prep, select: str, consistent: bool, snap):
    """(fetch, reads): how an LSI read gets attributes its entries do not carry, or
    (None, None). A GSI asked for attributes it does not project is refused."""
    if ix is None or ix.projection == "ALL":
        return None, None
    projected = projected_names(table.defn, ix)
    wanted: set[str] = set()
    if prep is not None and prep.projection is not None:
        wanted |= {path.elements[0] for path in prep.projection.root}
    needs_base = select == "ALL_ATTRIBUTES" or not wanted <= projected  # type: ignore[operator]
    if ix.is_global:
        missing = wanted - projected  # type: ignore[operator]
        if missing:
            raise ValidationException(
                _p(
                    f"Global secondary index {ix.name} does not project the requested "
                    f"attribute(s): {', '.join(sorted(missing))}"
                )
            )
        return None, None
    if prep is not None and prep.filter is not None:
        needs_base = needs_base or not top_level_names(prep.filter.root) <= projected  # type: ignore[operator]
    if not needs_base:
        return None, None
    reads = _Reads()
    d = table.defn

    def fetch(entry: dict) -> dict | None:
        skey = table.key({n: entry[n] for n in d.key_names})
        item, size = table.get_sized(skey, snap)
        if item is not None:
            reads.base_units += read_units(size, consistent=consistent)
        return item

    return fetch, reads


def _check_filter_keys(prep, key_names) -> None:
    if prep is None or prep.filter is None:
        return
    for name in key_names:
        if name in top_level_names(prep.filter.root):
            raise ValidationException(
                "Filter Expression can only contain non-primary key attributes: Primary key "
                f"attribute: {name}"
            )


def _reply(ctx: Context, p: dict, table, ix, page, prep, select: str, reads) -> dict:
    out: dict = {}
    if select != "COUNT":
        items = page.items
        if prep is not None and prep.projection is not None:
            items = [prep.project(i) for i in items]
        out["Items"] = items
    out["Count"] = page.count
    out["ScannedCount"] = page.scanned
    if page.last_key is not None:
        out["LastEvaluatedKey"] = _last_key(table, ix, page)
    units = scan_read_units(page.read_bytes, consistent=bool(p.get("ConsistentRead")))
    base_units = reads.base_units if reads is not None else 0.0
    d = table.defn
    if ix is None:
        ctx.meter.charge(d.table_id, "read", units)
        consumed(p.get("ReturnConsumedCapacity"), table, units, out, kind="read")
        return out
    if ix.is_global:
        ctx.meter.charge(ix.index_id, "read", units)
    else:
        ctx.meter.charge(d.table_id, "read", units + base_units)
    consumed(
        p.get("ReturnConsumedCapacity"),
        table,
        base_units,
        out,
        kind="read",
        indexes={ix.name: units},
    )
    return out


def query(ctx: Context, p: dict) -> dict:
    prep = prepare_request(p, (KEY_CONDITION, FILTER))
    if prep is None or prep.key_condition is None:
        raise ValidationException(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    table = ctx.table(p["TableName"])
    ix = _index(table, p)
    select = _select(p, prep, ix, "Query")
    d = table.defn
    if ix is None:
        kc = analyze_key_condition(prep.key_condition.root, d.hash_key, d.range_key)
        pk, sk = key_condition_values(kc, prep.values, d.hash_type, d.range_type)
        start, end, check = query_range(table, pk, kc.sort_op, sk)
        key_names = d.key_names
    else:
        ikc = analyze_index_key_condition(prep.key_condition.root, ix.hash_keys, ix.range_keys)
        pks, eqs, last = index_key_condition_values(
            ikc, prep.values, d.attributes, ix.hash_keys, ix.range_keys
        )
        prefix = partition_prefix(d, ix, pks)
        if eqs:
            prefix += encode_key_values(
                [(d.attributes[n], v[d.attributes[n]]) for n, v in zip(ix.range_keys, eqs)]
            )
        name = ikc.sort_key
        start, end, check = sort_bounds(
            prefix, name, None if name is None else d.attributes[name], ikc.sort_op, last
        )
        pk = pks
        key_names = ix.key_names
    _check_filter_keys(prep, key_names)
    after = None
    if p.get("ExclusiveStartKey") is not None:
        if ix is None:
            esk, after = _start_key(table, p["ExclusiveStartKey"])
            in_partition = esk[d.hash_key] == pk
        else:
            esk, after = _index_start_key(table, ix, p["ExclusiveStartKey"])
            in_partition = [esk[n] for n in ix.hash_keys] == pk
        if not in_partition:
            raise ValidationException(
                "The provided starting key is invalid: The provided key element does not "
                "match the schema"
            )
    return _run(ctx, p, table, ix, prep, select, start, end, after, check)


def _run(ctx, p, table, ix, prep, select, start, end, after, check) -> dict:
    d = table.defn
    consistent = bool(p.get("ConsistentRead"))
    ctx.meter.admit(d.table_id if ix is None or not ix.is_global else ix.index_id, "read")
    with table.store.snapshot() as snap:
        fetch, reads = _plan_fetch(table, ix, prep, select, consistent, snap)
        page = read_page(
            table,
            start,
            end,
            reverse=p.get("ScanIndexForward", True) is False,
            after=after,
            limit=p.get("Limit"),
            key_check=check,
            accept=None if prep is None or prep.filter is None else prep.matches_filter,
            keep_items=select != "COUNT",
            snapshot=snap,
            keyspace=None if ix is None else ix.keyspace,
            fetch=fetch,
        )
    return _reply(ctx, p, table, ix, page, prep, select, reads)


def scan(ctx: Context, p: dict) -> dict:
    prep = prepare_request(p, (FILTER,))
    segment, total = p.get("Segment"), p.get("TotalSegments")
    if segment is not None and total is None:
        raise ValidationException(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
        )
    if total is not None and segment is None:
        raise ValidationException(
            "The Segment parameter is required but was not present in the request when "
            "parameter TotalSegments is present"
        )
    if segment is not None and segment >= total:
        raise ValidationException(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
            f"Segment: {segment} is not less than TotalSegments: {total}"
        )
    table = ctx.table(p["TableName"])
    ix = _index(table, p)
    select = _select(p, prep, ix, "Scan")
    start, end = (None, None) if segment is None else segment_range(segment, total)
    after = None
    if p.get("ExclusiveStartKey") is not None:
        if ix is None:
            _, after = _start_key(table, p["ExclusiveStartKey"])
        else:
            _, after = _index_start_key(table, ix, p["ExclusiveStartKey"])
        if segment is not None:
            h = int.from_bytes(after[:4], "big")
            if not (segment << 32) // total <= h < ((segment + 1) << 32) // total:
                raise ValidationException(
                    "The provided Exclusive start key does not map to the provided segment"
                )
    return _run(ctx, p, table, ix, prep, select, start, end, after, None)


HANDLERS = {"Query": query, "Scan": scan}
