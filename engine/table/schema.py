"""Table definitions: what a table is, how it is stored in the catalog, how its keys encode.

A :class:`TableDef` is immutable; changing a table (UpdateTable, tags) produces a new one
that replaces the old in the catalog and in memory under the registry's lock. The catalog
value is JSON of the dataclass fields (the catalog key is ``table/<name>``); bytes do not
occur in it, so the format is stable and readable by shale-inspect.

Key layout (DESIGN.md "Tables on keyspaces"): a base key is ``hash prefix (4 bytes) |
enc(partition key) [| enc(sort key)]`` from engine.codec.encode_primary_key, so a Query is a
prefix range and a Scan walks partitions in hash order.

Thread-safety: TableDef is immutable; the functions here are pure.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from engine.codec import decode_primary_key, encode_primary_key, table_key
from engine.errors import ValidationException
from engine.model import validate_key_value

__all__ = [
    "CATALOG_PREFIX",
    "IndexDef",
    "TableDef",
    "decode_table_def",
    "encode_table_def",
    "key_of",
    "storage_key",
]

CATALOG_PREFIX = b"table/"


@dataclass(frozen=True)
class IndexDef:
    """One secondary index's durable definition.

    A GSI's key is up to four partition key attributes then up to four sort key attributes
    (``hash_keys``, ``range_keys``); an LSI has the table's partition key and one sort key.
    ``projection`` is ALL, KEYS_ONLY or INCLUDE (with ``non_key``). ``status`` is CREATING
    while an online backfill runs, else ACTIVE. ``index_id`` names the index's capacity
    buckets; ``keyspace`` holds its entries (engine.index describes their layout).
    """

    name: str
    is_global: bool
    hash_keys: tuple[str, ...]
    range_keys: tuple[str, ...]
    projection: str = "ALL"
    non_key: tuple[str, ...] = ()
    keyspace: str = ""
    index_id: str = ""
    status: str = "ACTIVE"
    read_units: int = 0
    write_units: int = 0

    @property
    def key_names(self) -> tuple[str, ...]:
        return self.hash_keys + self.range_keys

    def replace(self, **changes: object) -> IndexDef:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TableDef:
    """One table's durable definition.

    ``attributes`` maps attribute name -> key type (S, N or B); ``hash_key`` and
    ``range_key`` are attribute names. Throughput is in units per second (0 when on demand).
    """

    name: str
    table_id: str
    keyspace: str
    hash_key: str
    range_key: str | None
    attributes: dict[str, str]
    created_s: float
    billing_mode: str = "PROVISIONED"
    read_units: int = 0
    write_units: int = 0
    deletion_protection: bool = False
    table_class: str = "STANDARD"
    stream_enabled: bool = False
    stream_view_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    indexes: tuple[IndexDef, ...] = ()
    last_increase_s: float | None = None
    last_decrease_s: float | None = None
    decreases_today: int = 0
    on_demand_max_read: int | None = None
    on_demand_max_write: int | None = None

    @property
    def hash_type(self) -> str:
        return self.attributes[self.hash_key]

    @property
    def range_type(self) -> str | None:
        return None if self.range_key is None else self.attributes[self.range_key]

    @property
    def key_names(self) -> tuple[str, ...]:
        if self.range_key is None:
            return (self.hash_key,)
        return (self.hash_key, self.range_key)

    def replace(self, **changes: object) -> TableDef:
        return dataclasses.replace(self, **changes)

    def index(self, name: str) -> IndexDef | None:
        for ix in self.indexes:
            if ix.name == name:
                return ix
        return None


def encode_table_def(d: TableDef) -> bytes:
    return json.dumps(dataclasses.asdict(d), sort_keys=True).encode()


def decode_table_def(data: bytes) -> TableDef:
    fields = json.loads(data)
    # Definitions written before indexes were maintained kept them as wire-shaped lists
    # that had no keyspace; they cannot be revived and are dropped.
    fields.pop("local_indexes", None)
    fields.pop("global_indexes", None)
    fields["indexes"] = tuple(
        IndexDef(
            **dict(
                ix,
                hash_keys=tuple(ix["hash_keys"]),
                range_keys=tuple(ix["range_keys"]),
                non_key=tuple(ix["non_key"]),
            )
        )
        for ix in fields.get("indexes", ())
    )
    return TableDef(**fields)


def storage_key(d: TableDef, key: dict, *, what: str = "key") -> bytes:
    """The base keyspace key of an item or key (attribute name -> AttributeValue).

    Validates the key attributes' presence, types and sizes against the schema with
    DynamoDB's messages. Extra attributes are the caller's concern.
    Raises ValidationException.
    """
    skey = table_key(d.attributes, d.hash_key, d.range_key, key)
    if skey is not None:  # plainly valid: validated and encoded in one native call
        return skey
    return py_storage_key(d, key, what=what)


def py_storage_key(d: TableDef, key: dict, *, what: str = "key") -> bytes:
    """:func:`storage_key` by the Python rules alone (the oracle of its native half)."""
    hk = key.get(d.hash_key)
    if hk is None:
        raise ValidationException(
            f"One or more parameter values were invalid: Missing the key {d.hash_key} in the {what}"
        )
    ht = d.attributes[d.hash_key]
    validate_key_value(d.hash_key, hk, ht, True)
    rk_name = d.range_key
    if rk_name is None:
        return encode_primary_key(ht, hk[ht])
    rk = key.get(rk_name)
    if rk is None:
        raise ValidationException(
            f"One or more parameter values were invalid: Missing the key {rk_name} in the {what}"
        )
    rt = d.attributes[rk_name]
    validate_key_value(rk_name, rk, rt, False)
    return encode_primary_key(ht, hk[ht], rt, rk[rt])


def key_of(d: TableDef, skey: bytes) -> dict:
    """The key attributes (as AttributeValues) of a base keyspace key."""
    ht = d.attributes[d.hash_key]
    rt = d.range_type
    pk, sk = decode_primary_key(skey, ht, rt)
    out = {d.hash_key: {ht: pk}}
    if rt is not None:
        out[d.range_key] = {rt: sk}  # type: ignore[index]
    return out
