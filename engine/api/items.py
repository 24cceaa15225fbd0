"""Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.

Order of checks, as DynamoDB's: request shape, then values and expressions, then the table
lookup, then the key against the schema and the item size; only then is the key locked and
the condition evaluated. ReturnValues and ReturnValuesOnConditionCheckFailure are shaped
here from the Mutation the table layer returns.
"""

from __future__ import annotations

from engine.api.common import (
    Context,
    admit_write,
    charge_write,
    collection_metrics,
    consumed,
    index_units,
    key_for,
    storage_key_for,
)
from engine.api.exprs import prepare_request
from engine.capacity import read_units, write_units
from engine.errors import (
    ConditionalCheckFailedException,
    ValidationException,
    msg_item_size_exceeded,
)
from engine.expr import (
    CONDITION,
    UPDATE,
    PreparedExpressions,
    check_key_not_updated,
    project,
    updated_paths,
)
from engine.index import check_index_keys
from engine.model import MAX_ITEM_SIZE_BYTES, check_item_size, validate_sized_item

__all__ = ["HANDLERS", "build_check", "build_delete", "build_put", "build_update"]

MSG_RV = "Return values set to invalid value"
MSG_UPDATE_SIZE = "Item size to update has exceeded the maximum allowed size"


def _rvcf(p: dict) -> bool:
    return p.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"


def _failed(old: dict | None, with_item: bool) -> ConditionalCheckFailedException:
    return ConditionalCheckFailedException(item=old if with_item and old is not None else None)


def build_put(ctx: Context, p: dict):
    """(table, storage key, decide, item size) for a Put (PutItem or a transaction's Put)."""
    item, size = validate_sized_item(p["Item"])
    prep = prepare_request(p)
    table = ctx.table(p["TableName"])
    skey = table.key(item, what="item")
    if size > MAX_ITEM_SIZE_BYTES:  # checked after the key, as DynamoDB orders its errors
        raise ValidationException(msg_item_size_exceeded())
    if table.defn.indexes:
        check_index_keys(table.defn, item)
    with_item = _rvcf(p)

    def decide(old: dict | None) -> dict | None:
        if prep is not None and not prep.check_condition(old):
            raise _failed(old, with_item)
        return item, size  # type: ignore[return-value]

    return table, skey, decide, size


def _build_conditional(ctx: Context, p: dict, *, keeps_item: bool):
    """(table, storage key, decide) for a write whose only effect is to delete the item
    (keeps_item False) or to leave it as it is (a ConditionCheck), once its condition
    holds."""
    prep = prepare_request(p)
    table = ctx.table(p["TableName"])
    skey = storage_key_for(table, p["Key"])
    with_item = _rvcf(p)

    def decide(old: dict | None) -> dict | None:
        if prep is not None and not prep.check_condition(old):
            raise _failed(old, with_item)
        return old if keeps_item else None

    return table, skey, decide


def build_delete(ctx: Context, p: dict):
    return _build_conditional(ctx, p, keeps_item=False)


def build_check(ctx: Context, p: dict):
    return _build_conditional(ctx, p, keeps_item=True)


def build_update(ctx: Context, p: dict):
    """(table, storage key, decide, prepared) for an Update."""
    prep = prepare_request(p, (UPDATE, CONDITION))
    table = ctx.table(p["TableName"])
    key, skey = key_for(table, p["Key"])
    if prep is not None and prep.update is not None:
        check_key_not_updated(prep.update.root, table.defn.key_names)
    with_item = _rvcf(p)

    def decide(old: dict | None) -> dict | None:
        if prep is not None and not prep.check_condition(old):
            raise _failed(old, with_item)
        base = old if old is not None else dict(key)
        if prep is None or prep.update is None:
            return base
        new = prep.apply_update(base)
        return new, check_item_size(new, MSG_UPDATE_SIZE)  # type: ignore[return-value]

    return table, skey, decide, prep


def _write(ctx: Context, p: dict, table, skey: bytes, decide):
    admit_write(ctx, table)
    m = table.mutate(skey, decide)
    units = write_units(m.old_size, m.new_size)
    idx = None
    if m.index_changes is not None and (
        table.defn.billing_mode == "PROVISIONED"
        or p.get("ReturnConsumedCapacity", "NONE") != "NONE"
    ):
        idx = index_units(m)  # only a GSI bucket or the reply needs the breakdown
    charge_write(ctx, table, units, idx)
    return m, units, idx


def _metrics(ctx: Context, p: dict, table, skey: bytes, out: dict) -> None:
    icm = collection_metrics(ctx, p, table, skey)
    if icm is not None:
        out["ItemCollectionMetrics"] = icm


def put_item(ctx: Context, p: dict) -> dict:
    if p.get("ReturnValues", "NONE") not in ("NONE", "ALL_OLD"):
        raise ValidationException(MSG_RV)
    table, skey, decide, _ = build_put(ctx, p)
    m, units, idx = _write(ctx, p, table, skey, decide)
    out: dict = {}
    if p.get("ReturnValues") == "ALL_OLD" and m.old is not None:
        out["Attributes"] = m.old
    consumed(p.get("ReturnConsumedCapacity"), table, units, out, kind="write", indexes=idx)
    _metrics(ctx, p, table, skey, out)
    return out


def delete_item(ctx: Context, p: dict) -> dict:
    if p.get("ReturnValues", "NONE") not in ("NONE", "ALL_OLD"):
        raise ValidationException(MSG_RV)
    table, skey, decide = build_delete(ctx, p)
    m, units, idx = _write(ctx, p, table, skey, decide)
    out: dict = {}
    if p.get("ReturnValues") == "ALL_OLD" and m.old is not None:
        out["Attributes"] = m.old
    consumed(p.get("ReturnConsumedCapacity"), table, units, out, kind="write", indexes=idx)
    _metrics(ctx, p, table, skey, out)
    return out


def _updated(item: dict | None, prep: PreparedExpressions | None) -> dict:
    if item is None or prep is None or prep.update is None:
        return {}
    return project(item, updated_paths(prep.update.root))


def update_item(ctx: Context, p: dict) -> dict:
    rv = p.get("ReturnValues", "NONE")
    table, skey, decide, prep = build_update(ctx, p)
    m, units, idx = _write(ctx, p, table, skey, decide)
    out: dict = {}
    if rv == "ALL_OLD":
        attrs = m.old
    elif rv == "ALL_NEW":
        attrs = m.new
    elif rv == "UPDATED_OLD":
        attrs = _updated(m.old, prep)
    elif rv == "UPDATED_NEW":
        attrs = _updated(m.new, prep)
    else:
        attrs = None
    if attrs:
        out["Attributes"] = attrs
    consumed(p.get("ReturnConsumedCapacity"), table, units, out, kind="write", indexes=idx)
    _metrics(ctx, p, table, skey, out)
    return out


def get_item(ctx: Context, p: dict) -> dict:
    prep = prepare_request(p, ())
    table = ctx.table(p["TableName"])
    skey = storage_key_for(table, p["Key"])
    tid = table.defn.table_id
    ctx.meter.admit(tid, "read")
    item, size = table.get_sized(skey)
    consistent = bool(p.get("ConsistentRead"))
    units = read_units(size, consistent=consistent)
    ctx.meter.charge(tid, "read", units)
    out: dict = {}
    if item is not None:
        out["Item"] = item if prep is None else prep.project(item)
    consumed(p.get("ReturnConsumedCapacity"), table, units, out, kind="read")
    return out


HANDLERS = {
    "DeleteItem": delete_item,
    "GetItem": get_item,
    "PutItem": put_item,
    "UpdateItem": update_item,
}
