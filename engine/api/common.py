"""What every handler shares: the service context, table lookup, keys, capacity replies.

:class:`Context` is the state the handlers work on: the store's tables, the capacity
meter, the transaction token cache, and the identity (region, account) ARNs are formed
from. Handlers are plain functions ``handler(ctx, params) -> reply`` over wire-shaped
dicts; wire names (TableName, ...) live in this package and above only.

Thread-safety: Context's parts are thread-safe; handlers keep no state of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.capacity import Meter
from engine.codec import table_key
from engine.errors import ResourceNotFoundException, ValidationException
from engine.index import Indexes
from engine.model import validate_item
from engine.storage import Store
from engine.table import Table, Tables, TokenCache, key_of

__all__ = [
    "MSG_NOT_FOUND",
    "Context",
    "admit_write",
    "charge_write",
    "collection_metrics",
    "consumed",
    "index_units",
    "key_for",
    "table_arn",
]

MSG_NOT_FOUND = "Requested resource not found"
MSG_KEY_SCHEMA = "The provided key element does not match the schema"


@dataclass
class Context:
    """The state behind one API endpoint."""

    store: Store
    tables: Tables
    meter: Meter
    indexes: Indexes
    tokens: TokenCache = field(default_factory=TokenCache)
    region: str = "us-east-1"
    account_id: str = "000000000000"
    endpoint_address: str = "localhost:8000"

    def table_name(self, name_or_arn: str) -> str:
        """A table name given as itself or as a table ARN."""
        if name_or_arn.startswith("arn:"):
            parts = name_or_arn.split(":", 5)
            if len(parts) == 6 and parts[5].startswith("table/"):
                return parts[5][6:].split("/", 1)[0]
            raise ValidationException(f"Invalid TableArn: {name_or_arn}")
        return name_or_arn

    def table(self, name_or_arn: str, message: str = MSG_NOT_FOUND) -> Table:
        """The named table; ResourceNotFoundException (``message``) if there is none."""
        table = self.tables.get(self.table_name(name_or_arn))
        if table is None:
            raise ResourceNotFoundException(message)
        return table

    def configure_meter(self, table: Table) -> None:
        """Set the capacity buckets of a table and of its GSIs (on demand: none)."""
        d = table.defn
        provisioned = d.billing_mode == "PROVISIONED"
        if provisioned:
            self.meter.configure(d.table_id, d.read_units, d.write_units)
        else:
            self.meter.configure(d.table_id, None, None)
        for ix in d.indexes:
            if ix.is_global and provisioned:
                self.meter.configure(ix.index_id, ix.read_units, ix.write_units)
            elif ix.is_global:
                self.meter.configure(ix.index_id, None, None)


def table_arn(ctx: Context, name: str) -> str:
    return f"arn:aws:dynamodb:{ctx.region}:{ctx.account_id}:table/{name}"


def storage_key_for(table: Table, key: object) -> bytes:
    """:func:`key_for`'s storage key alone. A key of exactly the schema's attributes, each
    plainly valid, takes one native call; any other goes through key_for, which refuses it
    with DynamoDB's message in DynamoDB's order."""
    d = table.defn
    if type(key) is dict and len(key) == len(d.key_names):
        skey = table_key(d.attributes, d.hash_key, d.range_key, key)
        if skey is not None:
            return skey
    return key_for(table, key)[1]


def key_for(table: Table, key: object) -> tuple[dict, bytes]:
    """Validate a request's Key against the table's schema: (normalised key, storage key)."""
    key = validate_item(key)
    d = table.defn
    if len(key) != len(d.key_names):
        raise ValidationException(MSG_KEY_SCHEMA)
    for name in d.key_names:
        v = key.get(name)
        if v is None or d.attributes[name] not in v:
            raise ValidationException(MSG_KEY_SCHEMA)
    return key, table.key(key)


def consumed(
    mode: str | None,
    table: Table,
    units: float,
    reply: dict,
    *,
    kind: str,
    many: bool = False,
    indexes: dict[str, float] | None = None,
) -> None:
    """Add ConsumedCapacity to ``reply`` for ReturnConsumedCapacity ``mode``.

    ``kind`` is "read" or "write": each figure comes as CapacityUnits and again as
    ReadCapacityUnits or WriteCapacityUnits. ``units`` are the table's own; ``indexes`` maps
    index name -> units spent on it. TOTAL reports their sum; INDEXES also breaks it down
    (an index the request did not touch has no entry, as in DynamoDB's replies)."""
    if mode is None or mode == "NONE":
        return
    split = "ReadCapacityUnits" if kind == "read" else "WriteCapacityUnits"
    total = units + sum(indexes.values()) if indexes else units
    cc: dict = {"TableName": table.defn.name, "CapacityUnits": total, split: total}
    if mode == "INDEXES":
        cc["Table"] = {"CapacityUnits": units, split: units}
        if indexes:
            d = table.defn
            for name, u in indexes.items():
                ix = d.index(name)
                is_lsi = ix is not None and not ix.is_global
                key = "LocalSecondaryIndexes" if is_lsi else "GlobalSecondaryIndexes"
                cc.setdefault(key, {})[name] = {"CapacityUnits": u, split: u}
    if many:
        reply.setdefault("ConsumedCapacity", []).append(cc)
    else:
        reply["ConsumedCapacity"] = cc


def collection_metrics(ctx: Context, p: dict, table: Table, skey: bytes) -> dict | None:
    """ItemCollectionMetrics of a write to ``skey`` when the request asks for them
    (ReturnItemCollectionMetrics SIZE) and the table has LSIs (only those have item
    collections), else None. The size range is whole gigabytes around the exact size."""
    if p.get("ReturnItemCollectionMetrics") != "SIZE":
        return None
    d = table.defn
    if all(ix.is_global for ix in d.indexes):
        return None
    lo = float(ctx.indexes.collection_size(table, skey) // (1 << 30))
    return {
        "ItemCollectionKey": {d.hash_key: key_of(d, skey)[d.hash_key]},
        "SizeEstimateRangeGB": [lo, lo + 1.0],
    }


def index_units(m) -> dict[str, float] | None:
    """index name -> write units a committed Mutation spent on the table's indexes."""
    changes = m.index_changes
    if not changes:
        return None
    return {name: c[2] for name, c in changes.items()}


def admit_write(ctx: Context, table: Table) -> None:
    """Refuse a write when the table's write bucket, or a GSI's, is empty: a GSI without
    enough write capacity throttles its base table, as in DynamoDB."""
    d = table.defn
    ctx.meter.admit(d.table_id, "write")
    if d.indexes and d.billing_mode == "PROVISIONED":  # on demand: GSIs have no buckets
        for ix in d.indexes:
            if ix.is_global:
                ctx.meter.admit(ix.index_id, "write")


def charge_write(ctx: Context, table: Table, units: float, idx: dict[str, float] | None) -> None:
    ctx.meter.charge(table.defn.table_id, "write", units)
    if idx and table.defn.billing_mode == "PROVISIONED":  # only GSI buckets need charging
        for name, u in idx.items():
            ix = table.defn.index(name)
            if ix is not None and ix.is_global:
                ctx.meter.charge(ix.index_id, "write", u)
