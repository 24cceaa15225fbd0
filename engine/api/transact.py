"""TransactWriteItems and TransactGetItems.

Each action is built by the same code as its single-item operation (engine.api.items), then
engine.table runs them all or nothing. Cancellation reasons come back in action order, with
Code "None" for the actions that did not fail. The items of the Put actions and the keys of
the others may total 4 MB (the limit's wording is ours: DynamoDB's was not at hand).
ClientRequestToken: a repeat of the same request (compared on a canonical form: sorted
keys, bytes as hex) within 10 minutes returns the first reply without running again; a
different request with the token is IdempotentParameterMismatchException.
"""

from __future__ import annotations

import hashlib
import json

from engine.api.common import (
    Context,
    admit_write,
    charge_write,
    collection_metrics,
    consumed,
    index_units,
    storage_key_for,
)
from engine.api.exprs import prepare_request
from engine.api.items import build_check, build_delete, build_put, build_update
from engine.capacity import read_units, write_units
from engine.errors import (
    IdempotentParameterMismatchException,
    TransactionCanceledException,
    ValidationException,
)
from engine.table import Cancelled, TokenCache, TxnAction, transact_get, transact_write

__all__ = ["HANDLERS"]

MAX_ACTIONS = 100
MAX_REQUEST_BYTES = 4 << 20
MSG_TOO_BIG = "Transaction request size exceeds the maximum allowed size of 4 MB"
MSG_SAME_ITEM = "Transaction request cannot include multiple operations on one item"
_KINDS = ("ConditionCheck", "Put", "Delete", "Update")


def _cancelled(reasons) -> TransactionCanceledException:
    wire = []
    for r in reasons:
        if r is None:
            wire.append({"Code": "None"})
            continue
        w = {"Code": r.code}
        if r.message is not None:
            w["Message"] = r.message
        if r.item is not None:
            w["Item"] = r.item
        wire.append(w)
    codes = ", ".join(w["Code"] for w in wire)
    return TransactionCanceledException(
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        wire,
    )


def _canonical(v: object) -> object:
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": bytes(v).hex()}
    if isinstance(v, dict):
        return {k: _canonical(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_canonical(x) for x in v]
    return v


def _fingerprint(p: dict) -> bytes:
    body = {k: v for k, v in p.items() if k not in ("ClientRequestToken",)}
    return hashlib.sha256(json.dumps(_canonical(body), sort_keys=True).encode()).digest()


def _run_write(ctx: Context, p: dict) -> dict:
    actions: list[TxnAction] = []
    tables = []
    seen = set()
    request_bytes = 0
    for entry in p["TransactItems"]:
        kinds = [k for k in _KINDS if entry.get(k) is not None]
        if len(kinds) != 1:
            raise ValidationException(
                "TransactItems can only contain one of Check, Put, Update or Delete"
            )
        kind = kinds[0]
        body = entry[kind]
        if kind == "Put":
            table, skey, decide, size = build_put(ctx, body)
            request_bytes += size
        elif kind == "Delete":
            table, skey, decide = build_delete(ctx, body)
        elif kind == "ConditionCheck":
            table, skey, decide = build_check(ctx, body)
        else:
            table, skey, decide, _ = build_update(ctx, body)
        if kind != "Put":
            request_bytes += len(skey)
        if request_bytes > MAX_REQUEST_BYTES:
            raise ValidationException(MSG_TOO_BIG)
        if (table.keyspace, skey) in seen:
            raise ValidationException(MSG_SAME_ITEM)
        seen.add((table.keyspace, skey))
        actions.append(TxnAction(table, skey, decide))
        tables.append(table)
    for t in tables:
        admit_write(ctx, t)
    try:
        muts = transact_write(ctx.tables.locks, actions)
    except Cancelled as exc:
        raise _cancelled(exc.reasons) from None
    per_table: dict[str, tuple] = {}
    for t, m in zip(tables, muts, strict=True):
        u = write_units(m.old_size, m.new_size, transactional=True)
        idx = {n: 2 * iu for n, iu in (index_units(m) or {}).items()}
        charge_write(ctx, t, u, idx)
        _, prev, prev_idx = per_table.get(t.defn.name, (t, 0.0, {}))
        for n, iu in idx.items():
            prev_idx[n] = prev_idx.get(n, 0.0) + iu
        per_table[t.defn.name] = (t, prev + u, prev_idx)
    out: dict = {}
    for a in actions:
        icm = collection_metrics(ctx, p, a.table, a.skey)
        if icm is not None:
            out.setdefault("ItemCollectionMetrics", {}).setdefault(a.table.defn.name, []).append(
                icm
            )
    for t, u, idx in per_table.values():
        consumed(p.get("ReturnConsumedCapacity"), t, u, out, kind="write", many=True, indexes=idx)
    return out


def transact_write_items(ctx: Context, p: dict) -> dict:
    token = p.get("ClientRequestToken")
    if token is None:
        return _run_write(ctx, p)
    fp = _fingerprint(p)
    with ctx.tokens.hold(token):
        found, result = ctx.tokens.lookup(token, fp)
        if found:
            if result is TokenCache.MISMATCH:
                raise IdempotentParameterMismatchException(
                    "The request uses the same client token as a previous, but non-identical "
                    "request."
                )
            return result  # type: ignore[return-value]
        out = _run_write(ctx, p)
        ctx.tokens.remember(token, fp, out)
        return out


def transact_get_items(ctx: Context, p: dict) -> dict:
    reads = []
    preps = []
    for entry in p["TransactItems"]:
        body = entry["Get"]
        preps.append(prepare_request(body, ()))
        table = ctx.table(body["TableName"])
        skey = storage_key_for(table, body["Key"])
        reads.append((table, skey))
    if len({(t.keyspace, k) for t, k in reads}) != len(reads):
        raise ValidationException(MSG_SAME_ITEM)
    for t, _ in reads:
        ctx.meter.admit(t.defn.table_id, "read")
    try:
        items = transact_get(ctx.tables.locks, reads)
    except Cancelled as exc:
        raise _cancelled(exc.reasons) from None
    out: dict = {"Responses": []}
    per_table: dict[str, tuple] = {}
    for (t, _), prep, (item, size) in zip(reads, preps, items, strict=True):
        u = read_units(size, consistent=True, transactional=True)
        ctx.meter.charge(t.defn.table_id, "read", u)
        prev = per_table.get(t.defn.name, (t, 0.0))
        per_table[t.defn.name] = (t, prev[1] + u)
        if item is None:
            out["Responses"].append({})
        else:
            out["Responses"].append({"Item": item if prep is None else prep.project(item)})
    for t, u in per_table.values():
        consumed(p.get("ReturnConsumedCapacity"), t, u, out, kind="read", many=True)
    return out


HANDLERS = {"TransactGetItems": transact_get_items, "TransactWriteItems": transact_write_items}
