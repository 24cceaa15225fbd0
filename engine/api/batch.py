"""BatchGetItem and BatchWriteItem.

Limits as DynamoDB's: 100 keys and 16 MB of reply for BatchGetItem (keys past 16 MB come
back in UnprocessedKeys), 25 requests for BatchWriteItem, no two requests on one item.
Each write of a batch is its own storage batch under its key's lock (DynamoDB's batches are
not atomic either); a request's writes are committed together as a write group (one WAL
write, one fsync: engine.table.WriteGroup). A table whose provisioned throughput is
exhausted has its remaining requests returned as unprocessed; if nothing at all could be
processed the request fails with ProvisionedThroughputExceededException.
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
    ProvisionedThroughputExceededException,
    ValidationException,
    msg_item_size_exceeded,
)
from engine.errors import msg_param_invalid as _p
from engine.index import check_index_keys
from engine.model import MAX_ITEM_SIZE_BYTES, validate_sized_item
from engine.table import Table, WriteGroup

__all__ = ["HANDLERS"]

MAX_GET_KEYS = 100
MAX_WRITES = 25
MAX_REPLY_BYTES = 16 << 20
MSG_DUPLICATES = "Provided list of item keys contains duplicates"


def batch_get_item(ctx: Context, p: dict) -> dict:
    requests = p["RequestItems"]
    if sum(len(r["Keys"]) for r in requests.values()) > MAX_GET_KEYS:
        raise ValidationException("Too many items requested for the BatchGetItem call")
    plans = []
    for name, r in requests.items():
        prep = prepare_request(r, ())
        table = ctx.table(name)
        keys = [key_for(table, k) for k in r["Keys"]]
        if len({s for _, s in keys}) != len(keys):
            raise ValidationException(_p(MSG_DUPLICATES))
        plans.append((name, r, prep, table, keys))
    out: dict = {"Responses": {}, "UnprocessedKeys": {}}
    reply_bytes = 0
    throttled = processed = 0
    for name, r, prep, table, keys in plans:
        got = out["Responses"].setdefault(name, [])
        consistent = bool(r.get("ConsistentRead"))
        units = 0.0
        left: list[dict] = []
        for key, skey in keys:
            if left or reply_bytes >= MAX_REPLY_BYTES:
                left.append(key)
                continue
            try:
                ctx.meter.admit(table.defn.table_id, "read")
            except ProvisionedThroughputExceededException:
                throttled += 1
                left.append(key)
                continue
            item, size = table.get_sized(skey)
            u = read_units(size, consistent=consistent)
            ctx.meter.charge(table.defn.table_id, "read", u)
            units += u
            processed += 1
            if item is not None:
                reply_bytes += size
                got.append(item if prep is None else prep.project(item))
        if left:
            rest = {k: v for k, v in r.items() if k != "Keys"}
            out["UnprocessedKeys"][name] = dict(rest, Keys=left)
        consumed(p.get("ReturnConsumedCapacity"), table, units, out, kind="read", many=True)
    if throttled and not processed:
        raise ProvisionedThroughputExceededException(
            "Too many requests for this table; every key was throttled"
        )
    return out


def batch_write_item(ctx: Context, p: dict) -> dict:
    requests = p["RequestItems"]
    if sum(len(r) for r in requests.values()) > MAX_WRITES:
        raise ValidationException("Too many items requested for the BatchWriteItem call")
    plans = []
    for name, reqs in requests.items():
        table = ctx.table(name)
        seen = set()
        ops = []
        for req in reqs:
            put, delete = req.get("PutRequest"), req.get("DeleteRequest")
            if (put is None) == (delete is None):
                raise ValidationException(
                    "Supplied AttributeValue has more than one datatypes set, must contain "
                    "exactly one of the supported datatypes"
                )
            if put is not None:
                item, size = validate_sized_item(put["Item"])
                skey = table.key(item, what="item")
                if table.defn.indexes:
                    check_index_keys(table.defn, item)
                if size > MAX_ITEM_SIZE_BYTES:
                    raise ValidationException(msg_item_size_exceeded())
                ops.append((req, skey, (item, size)))
            else:
                skey = storage_key_for(table, delete["Key"])
                ops.append((req, skey, None))
            if skey in seen:
                raise ValidationException(_p(MSG_DUPLICATES))
            seen.add(skey)
        plans.append((name, table, ops))
    out: dict = {"UnprocessedItems": {}}
    throttled = processed = 0
    want_metrics = p.get("ReturnItemCollectionMetrics") == "SIZE"
    # One write group for the request: each item is still its own storage batch, but
    # they share one WAL write and (sync durability) one fsync.
    keys = [(table, skey) for _, table, ops in plans for _, skey, _ in ops]
    written: list[tuple[str, Table, bytes]] = []  # for ItemCollectionMetrics
    with WriteGroup(keys) as group:
        for name, table, ops in plans:
            # A provisioned table admits and charges each item in turn (the bucket may
            # run dry part-way); an on-demand one cannot throttle and is charged once.
            metered = table.defn.billing_mode == "PROVISIONED"
            units = 0.0
            idx_total: dict[str, float] = {}
            left = []
            for req, skey, item in ops:
                if left:
                    left.append(req)
                    continue
                if metered:
                    try:
                        admit_write(ctx, table)
                    except ProvisionedThroughputExceededException:
                        throttled += 1
                        left.append(req)
                        continue
                m = group.mutate(table, skey, lambda old, item=item: item)
                u = write_units(m.old_size, m.new_size)
                units += u
                idx = index_units(m)
                if idx:
                    for n, iu in idx.items():
                        idx_total[n] = idx_total.get(n, 0.0) + iu
                if metered:
                    charge_write(ctx, table, u, idx)
                processed += 1
                if want_metrics:
                    written.append((name, table, skey))
            if not metered and units:
                charge_write(ctx, table, units, idx_total)
            if left:
                out["UnprocessedItems"][name] = left
            consumed(
                p.get("ReturnConsumedCapacity"),
                table,
                units,
                out,
                kind="write",
                many=True,
                indexes=idx_total,
            )
    for name, table, skey in written:  # sizes once the group is committed
        icm = collection_metrics(ctx, p, table, skey)  # (tables with LSIs only)
        if icm is not None:
            out.setdefault("ItemCollectionMetrics", {}).setdefault(name, []).append(icm)
    if throttled and not processed:
        raise ProvisionedThroughputExceededException(
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API."
        )
    return out


HANDLERS = {"BatchGetItem": batch_get_item, "BatchWriteItem": batch_write_item}
