"""Index entries: their keys, their values, and the check that an item can be indexed.

An index keyspace holds one entry per indexed item (docs/FORMAT.md, "Index entry")::

    entry key   := hash: u32 BE | enc(h1) .. enc(hN) | enc(r1) .. enc(rM) | base key
    hash        := the table's hash of enc(h1) .. enc(hN) (engine.codec.hash_prefix)
    entry value := size: u32 LE | item codec of the projected item  (a table base value)

``h1..hN`` are the index's partition key attributes and ``r1..rM`` its sort key attributes,
each encoded by the order-preserving key encoding; the encodings are self-delimiting, so a
Query is a prefix range over the partition (and any leading sort key equalities) narrowed
by the last sort key condition, exactly as on a base table. The base key at the end makes
entries of items with equal index keys distinct. An item lacking any index key attribute
has no entry (a sparse index). The hash prefix spreads index partitions the way base
partitions are spread, so parallel Scan of an index splits its hash space too.

The projected item always carries the table's key and the index's key attributes; KEYS_ONLY
stops there, INCLUDE adds its NonKeyAttributes, ALL is the whole item.

Pure functions; thread-safe.
"""

from __future__ import annotations

from engine.codec import (
    encode_key_value,
    encode_key_values,
    encode_primary_key,
    hash_prefix,
    index_keys_plausible,
)
from engine.errors import ValidationException
from engine.model import item_size
from engine.table import IndexDef, TableDef, encode_value

__all__ = [
    "check_index_keys",
    "encode_entry",
    "entry_key",
    "kept_names",
    "partition_prefix",
    "project_entry",
    "projected_names",
]

_EMPTY = {"S": "string", "B": "binary"}


_CHECKS: dict[int, tuple[TableDef, tuple]] = {}


def _checks(d: TableDef) -> tuple:
    """(attribute, type, index name) for every index key attribute that is not one of the
    table's own, in index-name order; computed once per definition."""
    hit = _CHECKS.get(id(d))
    if hit is not None and hit[0] is d:
        return hit[1]
    own = d.key_names
    checks = tuple(
        (name, d.attributes[name], ix.name)
        for ix in sorted(d.indexes, key=lambda i: i.name)
        for name in ix.key_names
        if name not in own
    )
    if len(_CHECKS) > 1024:
        _CHECKS.clear()
    _CHECKS[id(d)] = (d, checks)
    return checks


def check_index_keys(d: TableDef, item: dict, old: dict | None = None) -> None:
    """Refuse an item whose index key attribute has the wrong type or is empty.

    DynamoDB names the first such index in index-name order. Attributes that are absent
    are fine (the item is just not indexed); with ``old``, values the write leaves as they
    were are not checked (an item stored before its index existed may keep one). The
    table's own key attributes were checked already and are skipped. Raises
    ValidationException.

    A valid item costs one native call (engine.codec.index_keys_plausible); only an item
    it doubts walks the rules below for DynamoDB's message.
    """
    hit = _CHECKS.get(id(d))
    checks = hit[1] if hit is not None and hit[0] is d else _checks(d)
    if not index_keys_plausible(checks, item):
        _refuse(checks, item, old)


def _refuse(checks: tuple, item: dict, old: dict | None) -> None:
    """Raise for the first index key attribute of ``item`` (in ``checks`` order) that is of
    the wrong type or empty and differs from ``old``'s; return if there is none."""
    for name, want, index_name in checks:
        v = item.get(name)
        if v is None or (old is not None and old.get(name) == v):
            continue
        ((tag, raw),) = v.items()
        if tag != want:
            raise ValidationException(
                "One or more parameter values were invalid: Type mismatch for Index Key "
                f"{name} Expected: {want} Actual: {tag} IndexName: {index_name}"
            )
        if not raw and tag in _EMPTY:
            raise ValidationException(
                "One or more parameter values are not valid. A value specified for a "
                "secondary index key is not supported. The AttributeValue for a key "
                f"attribute cannot contain an empty {_EMPTY[tag]} value. IndexName: "
                f"{index_name}, IndexKey: {name}"
            )


def partition_prefix(d: TableDef, ix: IndexDef, values: list[dict]) -> bytes:
    """``hash | enc(h1) .. enc(hN)`` for the partition key values (in key schema order)."""
    p = encode_key_values(
        [(d.attributes[n], v[d.attributes[n]]) for n, v in zip(ix.hash_keys, values)]
    )
    return hash_prefix(p) + p


def _encode_attrs(names: tuple[str, ...], attrs: dict[str, str], item: dict) -> bytes | None:
    """``enc(v1) .. enc(vn)`` of the item's attributes ``names``; None if one is missing or
    not of its defined type."""
    out = b""
    for name in names:
        v = item.get(name)
        if v is None:
            return None
        t = attrs[name]
        x = v.get(t)
        if x is None:
            return None
        out += encode_key_value(t, x)
    return out


def entry_key(d: TableDef, ix: IndexDef, item: dict, base_key: bytes) -> bytes | None:
    """The entry key of ``item`` (stored under ``base_key``), or None if it is not indexed:
    an index key attribute is missing or not of its defined type (an item written before
    the index existed may hold one; DynamoDB leaves such items out of the index too)."""
    hashes, ranges = ix.hash_keys, ix.range_keys
    if len(hashes) == 1 and len(ranges) <= 1:
        # The common schema is a primary key's layout: one native call builds
        # hash | enc(h) [| enc(r)].
        attrs = d.attributes
        v = item.get(hashes[0])
        if v is None:
            return None
        ht = attrs[hashes[0]]
        h = v.get(ht)
        if h is None:
            return None
        if not ranges:
            return encode_primary_key(ht, h) + base_key
        v = item.get(ranges[0])
        if v is None:
            return None
        rt = attrs[ranges[0]]
        r = v.get(rt)
        if r is None:
            return None
        return encode_primary_key(ht, h, rt, r) + base_key
    p = _encode_attrs(ix.hash_keys, d.attributes, item)
    if p is None:
        return None
    r = _encode_attrs(ix.range_keys, d.attributes, item) if ix.range_keys else b""
    if r is None:
        return None
    return hash_prefix(p) + p + r + base_key


_KEEP: dict[int, tuple[IndexDef, TableDef, tuple[str, ...] | None]] = {}


def kept_names(d: TableDef, ix: IndexDef) -> tuple[str, ...] | None:
    """The attribute names an entry of ``ix`` carries, in a fixed order; None for ALL.
    Computed once per (definition, index)."""
    hit = _KEEP.get(id(ix))
    if hit is not None and hit[0] is ix and hit[1] is d:
        return hit[2]
    if ix.projection == "ALL":
        keep = None
    else:
        keep = tuple(dict.fromkeys((*d.key_names, *ix.key_names, *ix.non_key)))
    if len(_KEEP) > 4096:
        _KEEP.clear()
    _KEEP[id(ix)] = (ix, d, keep)
    return keep


def projected_names(d: TableDef, ix: IndexDef) -> frozenset[str] | None:
    """The attribute names an entry of ``ix`` carries; None for ALL (every attribute)."""
    keep = kept_names(d, ix)
    return None if keep is None else frozenset(keep)


def project_entry(d: TableDef, ix: IndexDef, item: dict) -> dict:
    """The part of ``item`` that ``ix`` stores."""
    keep = kept_names(d, ix)
    if keep is None:
        return item
    return {k: item[k] for k in keep if k in item}


def encode_entry(d: TableDef, ix: IndexDef, item: dict, size: int) -> tuple[bytes, int]:
    """(entry value, its DynamoDB size) of ``item`` (of size ``size``) in ``ix``."""
    if ix.projection == "ALL":
        return encode_value(item, size), size
    entry = project_entry(d, ix, item)
    esize = item_size(entry)
    return encode_value(entry, esize), esize
