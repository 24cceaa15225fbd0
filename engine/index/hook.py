"""Index maintenance: the write hook that keeps a table's indexes in its item batches.

Every changing write of a table with indexes passes through :class:`IndexHook` under the
item's lock (engine.table.WriteHook): ``check`` refuses an index key attribute of the wrong
type or an empty one before anything is written; ``stage`` adds, to the storage batch that
writes the item, the deletion of the old entry and the put of the new one for each index
whose entry changes, so item and entries commit together or not at all; ``committed`` moves
the index counters (ItemCount, IndexSizeBytes) once the batch is durable.

Capacity: each index write costs one unit per 1 KB of the entry written (or deleted); a
write that moves an item to a new index key costs a delete and a put, as DynamoDB charges.
``stage`` leaves, per index, (entries added, bytes added, write units) in
``Mutation.index_changes`` for the API layer to charge and report.

Counters are exact: computed by one scan of the index at a snapshot when first asked for,
then moved by every committed write after that snapshot (the table's counters work the
same way). While an index is CREATING its entries are also written by the backfill, so its
counters are not cached until it is ACTIVE. A committed write moves them under the hook's
lock without allocating anything that outlives it: an earlier design logged each write's
changes for later, and the log's survivors set off the cyclic collector's full passes over
every live object (2.8 us a put with 100k items held by the caller).

Item collections (tables with LSIs): the items of one partition key value plus their LSI
entries may hold at most 10 GB (ITEM_COLLECTION_LIMIT_BYTES). The hook keeps each touched
collection's size, computed by a prefix scan at a snapshot on first touch and moved by every
committed write after it, and refuses a growing write past the limit with
ItemCollectionSizeLimitExceededException; ``collection_size`` answers
ReturnItemCollectionMetrics. A collection's entries share the partition's key prefix
``hash | enc(partition key)`` in the base keyspace and in every LSI keyspace.

Thread-safety: every method may be called from any thread.
"""

from __future__ import annotations

import struct
import threading

from engine.codec import decode_key_value, index_entries
from engine.errors import ItemCollectionSizeLimitExceededException
from engine.index.entries import (
    check_index_keys,
    encode_entry,
    entry_key,
    kept_names,
    project_entry,
)
from engine.model import item_size
from engine.storage import WriteBatch
from engine.table import IndexDef, Mutation, Table, encode_value, successor

__all__ = ["ITEM_COLLECTION_LIMIT_BYTES", "IndexHook", "collection_prefix"]

ITEM_COLLECTION_LIMIT_BYTES = 10 * 1024**3
MAX_TRACKED_COLLECTIONS = 100_000
MSG_COLLECTION = "Item collection size limit exceeded: an item collection may hold at most 10 GB"


def collection_prefix(table: Table, skey: bytes) -> bytes:
    """``hash | enc(partition key)`` of a base key: its item collection's key prefix."""
    _, end = decode_key_value(table.defn.hash_type, skey, 4)
    return skey[:end]


_SIZE = struct.Struct("<I")


def _entry_size(d, ix: IndexDef, item: dict, size: int) -> int:
    return size if ix.projection == "ALL" else item_size(project_entry(d, ix, item))


def _units(size: int) -> float:
    """Write units of writing (or deleting) one entry of ``size`` bytes."""
    return float(-(-size // 1024) or 1)


class IndexHook:
    """The indexes of one table (an engine.table.WriteHook)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        # index name -> [seqno, count, bytes, keyspace] (forget() drops a deleted index's)
        self._counters: dict[str, list] = {}
        self._collections: dict[bytes, list[int]] = {}  # prefix -> [seqno, bytes]
        self._plan = _Plan(None)

    def _plan_for(self, d) -> _Plan:
        plan = self._plan
        if plan.defn is not d:
            plan = self._plan = _Plan(d)
        return plan

    # ----------------------------------------------------------- the hook

    def check(self, table: Table, m: Mutation) -> None:
        new = m.new
        if new is None or not table.defn.indexes:
            return
        # Only values this write sets are checked: an item stored before its index existed
        # may keep an unindexable value it does not touch.
        check_index_keys(table.defn, new, m.old)

    def check_collection(self, table: Table, skey: bytes, m: Mutation) -> None:
        """Refuse a write that would grow its item collection past the limit (tables with
        LSIs; run by ``stage``, under the item's lock, before anything is written). A
        WriteGroup's earlier writes, staged but not committed, count too: their growth
        per collection is kept in the group's ``m.group_pending``."""
        d = table.defn
        if m.new is None:
            return
        lsis = self._plan_for(d).lsis
        if not lsis:
            return
        grow = m.new_size - m.old_size
        for ix in lsis:
            if entry_key(d, ix, m.new, skey) is not None:
                grow += _entry_size(d, ix, m.new, m.new_size)
        pending = m.group_pending
        key: tuple[str, bytes] | None = None
        earlier = 0
        if pending is not None:
            key = (table.keyspace, collection_prefix(table, skey))
            earlier = pending.get(key, 0)
        if grow > 0 and (
            self.collection_size(table, skey) + earlier + grow > ITEM_COLLECTION_LIMIT_BYTES
        ):
            raise ItemCollectionSizeLimitExceededException(MSG_COLLECTION)
        if pending is not None:
            pending[key] = earlier + grow

    def collection_size(self, table: Table, skey: bytes) -> int:
        """Bytes of the item collection of the item at ``skey`` (items + LSI entries)."""
        prefix = collection_prefix(table, skey)
        with self._mutex:
            c = self._collections.get(prefix)
            if c is not None:
                return c[1]
            if len(self._collections) >= MAX_TRACKED_COLLECTIONS:
                self._collections.clear()  # sizes are recomputed when next touched
            store = table.store
            end = successor(prefix)
            size = 0
            with store.snapshot() as snap:
                keyspaces = [table.keyspace] + [
                    ix.keyspace for ix in table.defn.indexes if not ix.is_global
                ]
                for ks in keyspaces:
                    for _, data in store.scan(ks, prefix, end, snapshot=snap):
                        size += _SIZE.unpack_from(data)[0]
                self._collections[prefix] = [snap.seqno, size]
            return size

    def stage(self, table: Table, batch: WriteBatch, skey: bytes, m: Mutation) -> None:
        d = table.defn
        plan = self._plan
        if plan.defn is not d:
            plan = self._plan_for(d)
        old, new = m.old, m.new
        if new is not None and d.indexes:
            check_index_keys(d, new, old)  # what check() refuses, stage refuses too
        if plan.lsis:
            self.check_collection(table, skey, m)
            if self._collections:
                m.collection = collection_prefix(table, skey)
        changes = {}
        if old is None and plan.simple and m.new_value is not None:
            # A new item (the common case of a put) on indexes keyed like tables: no old
            # entry to compare or remove. One native call stages every entry: those of the
            # whole item are the base value, encoded once; the others are projected.
            index_entries(
                plan.native,
                new,
                skey,
                m.new_value,
                m.new_size,
                batch.ops,
                changes,
                item_size,
                encode_value,
            )
            m.index_changes = changes or None
            return
        put = batch.put
        for ix in d.indexes:
            nk = None if new is None else entry_key(d, ix, new, skey)
            if old is None:
                if nk is None:
                    continue
                # a new entry (the common case of a put): no old one to compare or remove
                if ix.projection == "ALL" and m.new_value is not None:
                    put(ix.keyspace, nk, m.new_value)  # the base value, encoded once
                    new_size = m.new_size
                else:
                    value, new_size = encode_entry(d, ix, new, m.new_size)  # type: ignore[arg-type]
                    put(ix.keyspace, nk, value)
                changes[ix.name] = (1, new_size, float(-(-new_size // 1024) or 1))
                continue
            ok = entry_key(d, ix, old, skey)
            if ok is None and nk is None:
                continue
            ks = ix.keyspace
            old_size = 0 if ok is None else _entry_size(d, ix, old, m.old_size)
            if nk is None:
                batch.delete(ks, ok)  # type: ignore[arg-type]
                changes[ix.name] = (-1, -old_size, _units(old_size))
                continue
            if (
                ok == nk
                and ix.projection != "ALL"
                and project_entry(d, ix, old) == project_entry(d, ix, new)  # type: ignore[arg-type]
            ):
                continue  # the entry would not change
            if ix.projection == "ALL" and m.new_value is not None:
                value, new_size = m.new_value, m.new_size  # the base value, encoded once
            else:
                value, new_size = encode_entry(d, ix, new, m.new_size)  # type: ignore[arg-type]
            put(ks, nk, value)
            if ok == nk:
                changes[ix.name] = (0, new_size - old_size, _units(max(old_size, new_size)))
            elif ok is None:
                changes[ix.name] = (1, new_size, _units(new_size))
            else:
                batch.delete(ks, ok)
                changes[ix.name] = (0, new_size - old_size, _units(old_size) + _units(new_size))
        m.index_changes = changes or None

    def committed(self, table: Table, m: Mutation) -> None:
        changes = m.index_changes
        if m.collection is not None and self._collections:
            with self._mutex:
                c = self._collections.get(m.collection)
                if c is not None and m.seqno > c[0]:
                    c[1] += m.new_size - m.old_size
                    for ix in table.defn.indexes:
                        if not ix.is_global and changes and ix.name in changes:
                            c[1] += changes[ix.name][1]
        if changes and self._counters:
            seqno = m.seqno
            counters = self._counters
            with self._mutex:
                for name, c in changes.items():
                    s = counters.get(name)
                    if s is not None and seqno > s[0]:
                        s[1] += c[0]
                        s[2] += c[1]

    # ------------------------------------------------------------ counters

    def counters(self, table: Table, ix: IndexDef) -> tuple[int, int]:
        """(ItemCount, IndexSizeBytes) of ``ix``, exact as of now."""
        with self._mutex:
            s = self._counters.get(ix.name)
            if s is not None and s[3] == ix.keyspace:
                return s[1], s[2]
            store = table.store
            count = size = 0
            with store.snapshot() as snap:
                for _, data in store.scan(ix.keyspace, snapshot=snap):
                    count += 1
                    size += _SIZE.unpack_from(data)[0]
                if ix.status == "ACTIVE":
                    self._counters[ix.name] = [snap.seqno, count, size, ix.keyspace]
            return count, size

    def forget(self, ix: IndexDef) -> None:
        with self._mutex:
            self._counters.pop(ix.name, None)


class _Plan:
    """What ``stage`` needs of one table definition, worked out once: its LSIs; ``simple``,
    whether every index has one partition key attribute and at most one sort key attribute
    (keyed like a table); and then ``native``, the (name, keyspace, hash attribute, its
    type, range attribute or None, its type, projected attribute names or None for ALL) of
    every index, for engine.codec.index_entries."""

    __slots__ = ("defn", "lsis", "native", "simple")

    def __init__(self, d) -> None:
        self.defn = d
        indexes = () if d is None else d.indexes
        self.lsis = [ix for ix in indexes if not ix.is_global]
        self.simple = all(len(ix.hash_keys) == 1 and len(ix.range_keys) <= 1 for ix in indexes)
        attrs = {} if d is None else d.attributes
        native = []
        for ix in indexes if self.simple else ():
            hn = ix.hash_keys[0]
            rn = ix.range_keys[0] if ix.range_keys else None
            rt = None if rn is None else attrs[rn]
            native.append((ix.name, ix.keyspace, hn, attrs[hn], rn, rt, kept_names(d, ix)))
        self.native = tuple(native)
