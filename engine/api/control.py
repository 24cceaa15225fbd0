"""The control plane: CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable,
tags, DescribeLimits and DescribeEndpoints.

Replies are shaped as DynamoDB shapes them: a TableDescription carries the ARN
``arn:aws:dynamodb:<region>:<account>:table/<name>``, a TableId, CreationDateTime (a
timezone-aware datetime here; the server writes epoch seconds), TableStatus (CREATING in
CreateTable's reply, DELETING in DeleteTable's, UPDATING in UpdateTable's, ACTIVE otherwise
because a ShaleDB table is usable the moment its catalog entry is durable), exact ItemCount
and TableSizeBytes, ProvisionedThroughput (zeros on demand) and BillingModeSummary.

Secondary indexes are parsed and described by engine.api.indexdefs and maintained by
engine.index; UpdateTable creates a GSI online (CREATING with Backfilling until its backfill
ends) and deletes one (DELETING in the reply, its entries dropped at once).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from engine.api.common import MSG_NOT_FOUND, Context, table_arn
from engine.api.indexdefs import (
    MAX_GSIS,
    check_non_key_total,
    describe_indexes,
    parse_gsi,
    parse_indexes,
)
from engine.errors import (
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from engine.errors import msg_param_invalid as _p
from engine.table import Table, TableDef

__all__ = ["HANDLERS"]

MAX_TAGS = 50
TABLE_MAX_UNITS = 40000
ACCOUNT_MAX_UNITS = 80000


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _not_found(name: str) -> str:
    return f"{MSG_NOT_FOUND}: Table: {name} not found"


def describe(ctx: Context, table: Table, status: str = "ACTIVE") -> dict:
    """A TableDescription."""
    d = table.defn
    count, size = table.counters()
    key_schema = [{"AttributeName": d.hash_key, "KeyType": "HASH"}]
    if d.range_key is not None:
        key_schema.append({"AttributeName": d.range_key, "KeyType": "RANGE"})
    pt: dict = {"NumberOfDecreasesToday": d.decreases_today}
    if d.last_increase_s is not None:
        pt["LastIncreaseDateTime"] = _dt(d.last_increase_s)
    if d.last_decrease_s is not None:
        pt["LastDecreaseDateTime"] = _dt(d.last_decrease_s)
    pt["ReadCapacityUnits"] = d.read_units
    pt["WriteCapacityUnits"] = d.write_units
    out: dict = {
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in d.attributes.items()
        ],
        "TableName": d.name,
        "KeySchema": key_schema,
        "TableStatus": status,
        "CreationDateTime": _dt(d.created_s),
        "ProvisionedThroughput": pt,
        "TableSizeBytes": size,
        "ItemCount": count,
        "TableArn": table_arn(ctx, d.name),
        "TableId": str(uuid.UUID(d.table_id)),
    }
    summary: dict = {"BillingMode": d.billing_mode}
    if d.billing_mode == "PAY_PER_REQUEST":
        summary["LastUpdateToPayPerRequestDateTime"] = _dt(d.created_s)
    out["BillingModeSummary"] = summary
    out.update(describe_indexes(d, out["TableArn"], lambda ix: ctx.indexes.counters(table, ix)))
    if d.stream_enabled:
        out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": d.stream_view_type}
        label = _dt(d.created_s).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        out["LatestStreamLabel"] = label
        out["LatestStreamArn"] = f"{out['TableArn']}/stream/{label}"
    if d.table_class != "STANDARD":
        out["TableClassSummary"] = {"TableClass": d.table_class}
    if d.on_demand_max_read is not None or d.on_demand_max_write is not None:
        odt = {}
        if d.on_demand_max_read is not None:
            odt["MaxReadRequestUnits"] = d.on_demand_max_read
        if d.on_demand_max_write is not None:
            odt["MaxWriteRequestUnits"] = d.on_demand_max_write
        out["OnDemandThroughput"] = odt
    out["DeletionProtectionEnabled"] = d.deletion_protection
    return out


def _key_schema(schema: list, attrs: dict[str, str]) -> tuple[str, str | None]:
    if schema[0]["KeyType"] != "HASH":
        raise ValidationException(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    hash_key = schema[0]["AttributeName"]
    range_key = None
    if len(schema) > 2:
        raise ValidationException(
            "1 validation error detected: Value at 'keySchema' failed to satisfy constraint: "
            "Member must have length less than or equal to 2"
        )
    if len(schema) > 1:
        if schema[1]["KeyType"] != "RANGE":
            raise ValidationException(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
            )
        range_key = schema[1]["AttributeName"]
        if range_key == hash_key:
            raise ValidationException(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name"
            )
    return hash_key, range_key


def _throughput(params: dict, mode: str) -> tuple[int, int]:
    pt = params.get("ProvisionedThroughput")
    if mode == "PROVISIONED":
        if pt is None:
            raise ValidationException(
                _p(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when "
                    "BillingMode is PROVISIONED"
                )
            )
        r, w = pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]
        for name, v in (("read", r), ("write", w)):
            if v > TABLE_MAX_UNITS:
                raise LimitExceededException(
                    f"Subscriber limit exceeded: Provisioned throughput for {name} capacity "
                    f"units cannot exceed {TABLE_MAX_UNITS}"
                )
        return r, w
    if pt is not None:
        raise ValidationException(
            _p(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                "BillingMode is PAY_PER_REQUEST"
            )
        )
    return 0, 0


def _stream(spec: dict | None) -> tuple[bool, str | None]:
    if not spec or not spec.get("StreamEnabled"):
        if spec and spec.get("StreamViewType") is not None:
            raise ValidationException(
                _p("StreamViewType can only be specified when StreamEnabled is true")
            )
        return False, None
    view = spec.get("StreamViewType")
    if view is None:
        raise ValidationException(_p("StreamViewType is required when StreamEnabled is true"))
    return True, view


def create_table(ctx: Context, p: dict) -> dict:
    # botocore's current model marks only TableName required, but a table needs both.
    missing = [
        name
        for name in ("attributeDefinitions", "keySchema")
        if not p.get(name[0].upper() + name[1:])
    ]
    if missing:
        n = len(missing)
        raise ValidationException(
            f"{n} validation error{'s' if n > 1 else ''} detected: "
            + "; ".join(
                f"Value null at '{wire}' failed to satisfy constraint: Member must not be null"
                for wire in missing
            )
        )
    defs = p["AttributeDefinitions"]
    attrs: dict[str, str] = {}
    for a in defs:
        if a["AttributeName"] in attrs:
            raise ValidationException(_p("Cannot have two attributes with the same name"))
        attrs[a["AttributeName"]] = a["AttributeType"]
    hash_key, range_key = _key_schema(p["KeySchema"], attrs)
    key_names = [hash_key] + ([range_key] if range_key else [])
    index_keys: list[str] = []
    for ix in p.get("LocalSecondaryIndexes", []) + p.get("GlobalSecondaryIndexes", []):
        index_keys += [k["AttributeName"] for k in ix["KeySchema"]]
    missing = [k for k in key_names + index_keys if k not in attrs]
    if missing:
        raise ValidationException(
            _p(
                f"Some index key attributes are not defined in AttributeDefinitions. Keys: "
                f"[{', '.join(missing)}], AttributeDefinitions: [{', '.join(attrs)}]"
            )
        )
    if set(attrs) != set(key_names) | set(index_keys):
        raise ValidationException(
            _p(
                "Number of attributes in key schema must match the number of attributes "
                "defined in attribute definitions."
            )
        )
    mode = p.get("BillingMode", "PROVISIONED")
    r, w = _throughput(p, mode)
    indexes = parse_indexes(p, attrs, hash_key, range_key, mode)
    stream_enabled, view = _stream(p.get("StreamSpecification"))
    tags = {t["Key"]: t["Value"] for t in p.get("Tags", [])}
    if len(tags) > MAX_TAGS:
        raise ValidationException("The number of tags exceeds the limit of 50")
    odt = p.get("OnDemandThroughput") or {}
    defn = TableDef(
        name=ctx.table_name(p["TableName"]),
        table_id="",
        keyspace="",
        hash_key=hash_key,
        range_key=range_key,
        attributes=attrs,
        created_s=0.0,
        billing_mode=mode,
        read_units=r,
        write_units=w,
        deletion_protection=bool(p.get("DeletionProtectionEnabled", False)),
        table_class=p.get("TableClass", "STANDARD"),
        stream_enabled=stream_enabled,
        stream_view_type=view,
        tags=tags,
        indexes=indexes,
        on_demand_max_read=odt.get("MaxReadRequestUnits"),
        on_demand_max_write=odt.get("MaxWriteRequestUnits"),
    )
    table = ctx.tables.create(defn)
    ctx.indexes.attach(table)
    ctx.configure_meter(table)
    return {"TableDescription": describe(ctx, table, "CREATING")}


def describe_table(ctx: Context, p: dict) -> dict:
    name = ctx.table_name(p["TableName"])
    table = ctx.table(name, _not_found(name))
    return {"Table": describe(ctx, table)}


def list_tables(ctx: Context, p: dict) -> dict:
    names = ctx.tables.names()
    start = p.get("ExclusiveStartTableName")
    if start is not None:
        names = [n for n in names if n > start]
    limit = p.get("Limit")
    if limit is None:  # absent, or JSON null: the default page
        limit = 100
    out: dict = {"TableNames": names[:limit]}
    if len(names) > limit:
        out["LastEvaluatedTableName"] = names[limit - 1]
    return out


def delete_table(ctx: Context, p: dict) -> dict:
    name = ctx.table_name(p["TableName"])
    table = ctx.table(name, _not_found(name))
    if table.defn.deletion_protection:
        raise ResourceInUseException(
            "Resource cannot be deleted as it is currently protected against deletion. "
            "Disable deletion protection first."
        )
    reply = describe(ctx, table, "DELETING")
    ctx.tables.delete(name)
    ctx.indexes.forget(table)
    ctx.meter.forget(table.defn.table_id)
    for ix in table.defn.indexes:
        ctx.meter.forget(ix.index_id)
    return {"TableDescription": reply}


def update_table(ctx: Context, p: dict) -> dict:
    name = ctx.table_name(p["TableName"])
    table = ctx.table(name, _not_found(name))
    d = table.defn
    changes: dict = {}
    if p.get("ReplicaUpdates"):
        raise ValidationException("ReplicaUpdates are not supported")
    mode = p.get("BillingMode", d.billing_mode)
    gsi_updates = _gsi_updates(ctx, p, table, mode)
    if mode != d.billing_mode:
        changes["billing_mode"] = mode
    pt = p.get("ProvisionedThroughput")
    if mode == "PAY_PER_REQUEST":
        if pt is not None:
            _throughput(p, mode)
        if "billing_mode" in changes:
            changes["read_units"] = changes["write_units"] = 0
    elif pt is not None or "billing_mode" in changes:
        r, w = _throughput(p, mode)
        if "billing_mode" not in changes and (r, w) == (d.read_units, d.write_units):
            raise ValidationException(
                "The provisioned throughput for the table will not change. The requested value "
                "equals the current value. Current ReadCapacityUnits provisioned for the table: "
                f"{r}. Requested ReadCapacityUnits: {r}. Current WriteCapacityUnits provisioned "
                f"for the table: {w}. Requested WriteCapacityUnits: {w}. Refer to the Amazon "
                "DynamoDB Developer Guide for current limits and how to request higher limits."
            )
        now = time.time()
        if r > d.read_units or w > d.write_units:
            changes["last_increase_s"] = now
        if r < d.read_units or w < d.write_units:
            changes["last_decrease_s"] = now
            changes["decreases_today"] = d.decreases_today + 1
        changes["read_units"], changes["write_units"] = r, w
    if "DeletionProtectionEnabled" in p:
        changes["deletion_protection"] = bool(p["DeletionProtectionEnabled"])
    if "TableClass" in p:
        changes["table_class"] = p["TableClass"]
    if "StreamSpecification" in p:
        enabled, view = _stream(p["StreamSpecification"])
        if enabled == d.stream_enabled:
            word = "enabled" if enabled else "disabled"
            raise ValidationException(
                f"Table already has an {word} stream: {name}"
                if enabled
                else f"Stream is already {word} for table {name}"
            )
        changes["stream_enabled"], changes["stream_view_type"] = enabled, view
    if "OnDemandThroughput" in p:
        odt = p["OnDemandThroughput"]
        changes["on_demand_max_read"] = odt.get("MaxReadRequestUnits")
        changes["on_demand_max_write"] = odt.get("MaxWriteRequestUnits")
    if (
        not changes
        and not gsi_updates
        and not any(k in p for k in ("DeletionProtectionEnabled", "TableClass", "BillingMode"))
    ):
        raise ValidationException(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
            "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"
        )
    if changes.get("billing_mode") == "PROVISIONED":
        given = {ix.name for action, ix in gsi_updates if action == "Update"}
        for ix in d.indexes:
            if ix.is_global and ix.name not in given:
                raise ValidationException(
                    _p(f"ProvisionedThroughput must be specified for index: {ix.name}")
                )
    zero_gsis = changes.get("billing_mode") == "PAY_PER_REQUEST"

    def edit(cur: TableDef) -> TableDef:
        cur = cur.replace(**changes)
        if zero_gsis:  # on demand: GSIs have no provisioned throughput either
            cur = cur.replace(
                indexes=tuple(
                    i.replace(read_units=0, write_units=0) if i.is_global else i
                    for i in cur.indexes
                )
            )
        return cur

    if changes:
        ctx.tables.change(name, edit)
    deleted = []
    for action, ix in gsi_updates:
        if action == "Create":
            ctx.indexes.create(table, ix, dict(table.defn.attributes, **_new_attributes(p)))
        elif action == "Delete":
            deleted.append(ctx.indexes.delete(table, ix.name))
            ctx.meter.forget(ix.index_id)
        else:
            ctx.tables.change(
                name,
                lambda cur, ix=ix: cur.replace(
                    indexes=tuple(ix if i.name == ix.name else i for i in cur.indexes)
                ),
            )
    if changes or gsi_updates:
        ctx.configure_meter(table)
    reply = describe(ctx, table, "UPDATING" if changes or gsi_updates else "ACTIVE")
    if deleted:
        gone = describe_indexes(
            table.defn.replace(indexes=tuple(deleted)), reply["TableArn"], lambda ix: (0, 0)
        )
        for desc in gone["GlobalSecondaryIndexes"]:
            desc["IndexStatus"] = "DELETING"
            reply.setdefault("GlobalSecondaryIndexes", []).append(desc)
    return {"TableDescription": reply}


MSG_ONE_ONLINE = (
    "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously "
    "per table"
)


def _new_attributes(p: dict) -> dict[str, str]:
    return {a["AttributeName"]: a["AttributeType"] for a in p.get("AttributeDefinitions") or ()}


def _gsi_updates(ctx: Context, p: dict, table: Table, mode: str) -> list:
    """UpdateTable's GlobalSecondaryIndexUpdates, checked: [(action, IndexDef)]."""
    updates = p.get("GlobalSecondaryIndexUpdates")
    if not updates:
        return []
    d = table.defn
    attrs = dict(d.attributes)
    for n, t in _new_attributes(p).items():
        if attrs.get(n, t) != t:
            raise ValidationException(
                _p(f"Cannot change the type of attribute {n}: it is defined as {attrs[n]}")
            )
        attrs[n] = t
    out: list = []
    online = 0
    for u in updates:
        kinds = [k for k in ("Create", "Update", "Delete") if u.get(k) is not None]
        if len(kinds) != 1:
            raise ValidationException(
                _p("One of GlobalSecondaryIndexUpdate's Create, Update or Delete must be given")
            )
        kind = kinds[0]
        spec = u[kind]
        name = spec["IndexName"]
        current = d.index(name)
        if kind == "Create":
            if current is not None:
                raise ValidationException(_p(f"Index with name {name} already exists"))
            ix = parse_gsi(spec, attrs, mode)
            if sum(i.is_global for i in d.indexes) + 1 > MAX_GSIS:
                raise LimitExceededException(
                    f"Subscriber limit exceeded: GlobalSecondaryIndex count exceeds the "
                    f"per-table limit of {MAX_GSIS}"
                )
            check_non_key_total((*d.indexes, ix))
            online += 1
        else:
            if current is None or not current.is_global:
                raise ResourceNotFoundException(
                    f"Requested resource not found: Index: {name} not found"
                )
            if kind == "Delete":
                ix = current
                online += 1
            else:
                if mode == "PAY_PER_REQUEST":
                    raise ValidationException(
                        _p(
                            f"ProvisionedThroughput should not be specified for index: {name} "
                            "when BillingMode is PAY_PER_REQUEST"
                        )
                    )
                pt = spec["ProvisionedThroughput"]
                ix = current.replace(
                    read_units=pt["ReadCapacityUnits"], write_units=pt["WriteCapacityUnits"]
                )
        out.append((kind, ix))
    if online > 1 or (online and any(i.status == "CREATING" for i in d.indexes)):
        raise LimitExceededException(MSG_ONE_ONLINE)
    return out


def _arn_table(ctx: Context, arn: str) -> Table:
    prefix = f"arn:aws:dynamodb:{ctx.region}:{ctx.account_id}:table/"
    if not arn.startswith("arn:"):
        raise ValidationException(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
    name = arn[len(prefix) :] if arn.startswith(prefix) else None
    table = ctx.tables.get(name) if name else None
    if table is None:
        raise ResourceNotFoundException(
            f"Requested resource not found: ResourcArn: {arn} not found"
        )
    return table


def tag_resource(ctx: Context, p: dict) -> dict:
    table = _arn_table(ctx, p["ResourceArn"])
    new = {t["Key"]: t["Value"] for t in p["Tags"]}

    def edit(d: TableDef) -> TableDef:
        tags = {**d.tags, **new}
        if len(tags) > MAX_TAGS:
            raise ValidationException("The number of tags exceeds the limit of 50")
        return d.replace(tags=tags)

    ctx.tables.change(table.defn.name, edit)
    return {}


def untag_resource(ctx: Context, p: dict) -> dict:
    table = _arn_table(ctx, p["ResourceArn"])
    gone = set(p["TagKeys"])
    ctx.tables.change(
        table.defn.name,
        lambda d: d.replace(tags={k: v for k, v in d.tags.items() if k not in gone}),
    )
    return {}


def list_tags_of_resource(ctx: Context, p: dict) -> dict:
    table = _arn_table(ctx, p["ResourceArn"])
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(table.defn.tags.items())]}


def describe_limits(ctx: Context, p: dict) -> dict:
    return {
        "AccountMaxReadCapacityUnits": ACCOUNT_MAX_UNITS,
        "AccountMaxWriteCapacityUnits": ACCOUNT_MAX_UNITS,
        "TableMaxReadCapacityUnits": TABLE_MAX_UNITS,
        "TableMaxWriteCapacityUnits": TABLE_MAX_UNITS,
    }


def describe_endpoints(ctx: Context, p: dict) -> dict:
    return {"Endpoints": [{"Address": ctx.endpoint_address, "CachePeriodInMinutes": 1440}]}


HANDLERS = {
    "CreateTable": create_table,
    "DeleteTable": delete_table,
    "DescribeEndpoints": describe_endpoints,
    "DescribeLimits": describe_limits,
    "DescribeTable": describe_table,
    "ListTables": list_tables,
    "ListTagsOfResource": list_tags_of_resource,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateTable": update_table,
}
