"""Query and Scan: parameters to a key range and a page, the page to DynamoDB's reply.

Select: ALL_ATTRIBUTES (default), SPECIFIC_ATTRIBUTES (implied by a projection), COUNT
(Count and ScannedCount, no Items). ExclusiveStartKey must be a key of the table (and for
Query, of the queried partition; for parallel Scan, of the segment). Capacity is charged on
the bytes the page read, before the filter.
"""

from __future__ import annotations

from engine.api.common import Context, consumed, key_for
from engine.api.exprs import prepare_request
from engine.capacity import scan_read_units
from engine.errors import ValidationException
from engine.errors import msg_param_invalid as _p
from engine.expr import FILTER, KEY_CONDITION, analyze_key_condition, key_condition_values
from engine.table import key_of, query_range, read_page, segment_range

__all__ = ["HANDLERS"]


def _select(p: dict, prep) -> str:
    has_projection = prep is not None and prep.projection is not None
    select = p.get("Select")
    if select is None:
        return "SPECIFIC_ATTRIBUTES" if has_projection else "ALL_ATTRIBUTES"
    what = "AttributesToGet" if p.get("AttributesToGet") is not None else "ProjectionExpression"
    if select == "SPECIFIC_ATTRIBUTES" and not has_projection:
        raise ValidationException(
            _p("Select type SPECIFIC_ATTRIBUTES requires AttributesToGet or ProjectionExpression")
        )
    if select in ("ALL_ATTRIBUTES", "COUNT", "ALL_PROJECTED_ATTRIBUTES") and has_projection:
        wanted = "only the Count" if select == "COUNT" else select
        raise ValidationException(f"Cannot specify the {what} when choosing to get {wanted}")
    if select == "ALL_PROJECTED_ATTRIBUTES":
        raise ValidationException(
            _p("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
        )
    return select


def _no_index(p: dict) -> None:
    if p.get("IndexName") is not None:
        raise ValidationException(f"The table does not have the specified index: {p['IndexName']}")


def _start_key(table, esk: dict) -> tuple[dict, bytes]:
    """A validated ExclusiveStartKey; DynamoDB prefixes the key error with its context."""
    try:
        return key_for(table, esk)
    except ValidationException as exc:
        raise ValidationException(f"The provided starting key is invalid: {exc.message}") from None


def _reply(ctx: Context, p: dict, table, page, prep, select: str) -> dict:
    out: dict = {}
    if select != "COUNT":
        items = page.items
        if prep is not None and prep.projection is not None:
            items = [prep.project(i) for i in items]
        out["Items"] = items
    out["Count"] = page.count
    out["ScannedCount"] = page.scanned
    if page.last_key is not None:
        out["LastEvaluatedKey"] = key_of(table.defn, page.last_key)
    units = scan_read_units(page.read_bytes, consistent=bool(p.get("ConsistentRead")))
    ctx.meter.charge(table.defn.table_id, "read", units)
    consumed(p.get("ReturnConsumedCapacity"), table, units, out)
    return out


def query(ctx: Context, p: dict) -> dict:
    prep = prepare_request(p, (KEY_CONDITION, FILTER))
    if prep is None or prep.key_condition is None:
        raise ValidationException(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    select = _select(p, prep)
    table = ctx.table(p["TableName"])
    _no_index(p)
    d = table.defn
    kc = analyze_key_condition(prep.key_condition.root, d.hash_key, d.range_key)
    pk, sk = key_condition_values(kc, prep.values, d.hash_type, d.range_type)
    start, end, check = query_range(table, pk, kc.sort_op, sk)
    after = None
    if p.get("ExclusiveStartKey") is not None:
        esk, after = _start_key(table, p["ExclusiveStartKey"])
        if esk[d.hash_key] != pk:
            raise ValidationException(
                "The provided starting key is invalid: The provided key element does not "
                "match the schema"
            )
    ctx.meter.admit(d.table_id, "read")
    page = read_page(
        table,
        start,
        end,
        reverse=p.get("ScanIndexForward", True) is False,
        after=after,
        limit=p.get("Limit"),
        key_check=check,
        accept=None if prep.filter is None else prep.matches_filter,
        keep_items=select != "COUNT",
    )
    return _reply(ctx, p, table, page, prep, select)


def scan(ctx: Context, p: dict) -> dict:
    prep = prepare_request(p, (FILTER,))
    select = _select(p, prep)
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
    _no_index(p)
    start, end = (None, None) if segment is None else segment_range(segment, total)
    after = None
    if p.get("ExclusiveStartKey") is not None:
        _, after = _start_key(table, p["ExclusiveStartKey"])
        if segment is not None:
            h = int.from_bytes(after[:4], "big")
            if not (segment << 32) // total <= h < ((segment + 1) << 32) // total:
                raise ValidationException(
                    "The provided Exclusive start key does not map to the provided segment"
                )
    ctx.meter.admit(table.defn.table_id, "read")
    page = read_page(
        table,
        start,
        end,
        after=after,
        limit=p.get("Limit"),
        accept=None if prep is None or prep.filter is None else prep.matches_filter,
        keep_items=select != "COUNT",
    )
    return _reply(ctx, p, table, page, prep, select)


HANDLERS = {"Query": query, "Scan": scan}
