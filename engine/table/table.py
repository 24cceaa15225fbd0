"""One table's items on its base keyspace: point reads and read-check-write mutations.

Every write is one storage batch. A mutation runs ``decide(old) -> new`` under the key's
lock: it reads the current item, lets the caller check a condition and compute the new item
(or None to delete), and commits; so conditional writes are atomic with respect to every
other writer of the key. A write that would change nothing still commits nothing.

Item counters (ItemCount, TableSizeBytes) are exact and kept in memory: they are computed
by one scan at a snapshot the first time they are asked for, and from then on every write
adds its delta if its seqno is after that snapshot. DynamoDB refreshes its counters only
every six hours, so exact counters are a strict improvement.

Thread-safety: every public method may be called from any thread.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.errors import TransactionConflictException
from engine.model import decode_item, decode_sized_item, encode_sized_item, item_size
from engine.storage import Snapshot, Store, WriteBatch
from engine.table.locks import KeyLocks
from engine.table.schema import TableDef, storage_key

__all__ = [
    "Mutation",
    "Table",
    "WriteGroup",
    "WriteHook",
    "decode_value",
    "encode_value",
    "mutation_of",
    "successor",
]

MSG_TXN_CONFLICT = "Transaction is ongoing for the item"
_SIZE = struct.Struct("<I")


#: ``encode_value(item, size) -> bytes``: a base keyspace value, ``size: u32 LE | item``
#: (engine.model item codec). The item's DynamoDB size travels with it, so reads charge
#: capacity and cut 1 MiB pages without measuring every item again (docs/FORMAT.md, "Table
#: base value").
encode_value = encode_sized_item

#: ``decode_value(data) -> (item, DynamoDB size)`` of a base keyspace value.
decode_value = decode_sized_item


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``."""
    p = prefix.rstrip(b"\xff")
    if not p:
        return None
    return p[:-1] + bytes([p[-1] + 1])


class WriteHook(Protocol):
    """What a feature that writes alongside items (secondary indexes, streams) plugs in.

    ``stage`` runs under the key's lock once the new item is decided: it adds the feature's
    own operations to the storage batch that writes the item, so both commit atomically,
    and may raise a DynamoDBError to refuse the write (nothing is written then). ``check``
    is that refusal alone, for a caller that must learn of it before staging anything (a
    transaction collecting every action's reason); ``stage`` still checks after it. Both
    run only for writes that change the item. ``committed`` runs once the batch is durable
    (the feature's counters follow it).
    """

    def check(self, table: Table, m: Mutation) -> None: ...

    def stage(self, table: Table, batch: WriteBatch, skey: bytes, m: Mutation) -> None: ...

    def committed(self, table: Table, m: Mutation) -> None: ...


@dataclass(slots=True)
class Mutation:
    """The outcome of one write: the item before and after (None: absent), their sizes.

    ``index_changes`` is filled by the index hook: index name -> (entries added, bytes
    added, write units), for capacity and the index counters; ``collection`` names the
    item collection whose size it tracks."""

    old: dict | None
    new: dict | None
    old_size: int
    new_size: int
    seqno: int = 0
    index_changes: dict | None = None
    collection: bytes | None = None  # the item collection a hook tracks for this write
    new_value: bytes | None = None  # ``new`` as staged in the base keyspace
    # Set for the writes of a WriteGroup: one dict its hooks share across the group's
    # staged, not yet committed writes (the index hook: item collection growth).
    group_pending: dict | None = None


def mutation_of(old: dict | None, old_size: int, decided: object) -> Mutation:
    """The Mutation from ``old`` (of ``old_size`` bytes) to what a ``decide`` returned:
    the new item, None to delete, or (new item, its size) when it measured the item."""
    new_size = None
    if type(decided) is tuple:
        decided, new_size = decided
    m = Mutation(old, decided, old_size, 0)  # type: ignore[arg-type]
    if decided is not None:
        m.new_size = item_size(decided) if new_size is None else new_size
    return m


class Table:
    """A table's items. ``defn`` is replaced by the registry on UpdateTable."""

    def __init__(self, store: Store, defn: TableDef, locks: KeyLocks) -> None:
        self.store = store
        self.defn = defn
        self.keyspace = defn.keyspace
        self.locks = locks
        self.hooks: list[WriteHook] = []
        self._stats_lock = threading.Lock()
        self._stats: list[int] | None = None  # [seqno, item count, total bytes]

    # ----------------------------------------------------------------- reads

    def key(self, key: dict, what: str = "key") -> bytes:
        """Validate ``key`` against the schema and return its storage key."""
        return storage_key(self.defn, key, what=what)

    def get(self, skey: bytes, snapshot: Snapshot | None = None) -> dict | None:
        data = self.store.get(self.keyspace, skey, snapshot)
        return None if data is None else decode_item(data, 4)

    def get_sized(self, skey: bytes, snapshot: Snapshot | None = None) -> tuple[dict | None, int]:
        """(item or None, its DynamoDB size or 0)."""
        data = self.store.get(self.keyspace, skey, snapshot)
        return (None, 0) if data is None else decode_value(data)

    def iter_items(
        self,
        start: bytes | None,
        end: bytes | None,
        *,
        reverse: bool = False,
        snapshot: Snapshot | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        """(storage key, encoded item) in [start, end), in key order or reversed."""
        return self.store.scan(self.keyspace, start, end, reverse=reverse, snapshot=snapshot)

    # ---------------------------------------------------------------- writes

    def mutate(
        self,
        skey: bytes,
        decide: Callable[[dict | None], dict | None],
        *,
        owner: object = None,
    ) -> Mutation:
        """Read the item at ``skey``, compute ``decide(old)`` and commit it, under the key's lock.

        ``decide`` returns the new item or None to delete; it may raise (a failed condition)
        and then nothing is written. Raises TransactionConflictException if a transaction
        other than ``owner`` holds the key. ``decide`` may return (new item, its size) when
        it measured the item already, which saves measuring it twice.
        """
        with self.locks.lock_one(self.keyspace, skey):
            m, batch = self._decide(skey, decide, owner)
            if batch is not None:
                m.seqno = self.store.write(batch)
                self.note_write(m)
            return m

    def _decide(
        self,
        skey: bytes,
        decide: Callable[[dict | None], dict | None],
        owner: object,
        group_pending: dict | None = None,
    ) -> tuple[Mutation, WriteBatch | None]:
        """mutate()'s work under the key's lock, short of the commit: the Mutation, and the
        storage batch that writes it (None when nothing changes). ``group_pending`` is a
        WriteGroup's (see Mutation.group_pending)."""
        ks = self.keyspace
        if self.locks.is_claimed(ks, skey, owner):
            raise TransactionConflictException(MSG_TXN_CONFLICT)
        data = self.store.get(ks, skey)
        old, old_size = (None, 0) if data is None else decode_value(data)
        m = mutation_of(old, old_size, decide(old))
        m.group_pending = group_pending
        new = m.new
        if new is not None:
            if new == old:
                return m, None  # nothing changes: nothing is written
        elif old is None:
            return m, None
        batch = WriteBatch()
        if new is not None:
            m.new_value = value = encode_value(new, m.new_size)
            batch.put(ks, skey, value)
        else:
            batch.delete(ks, skey)
        for hook in self.hooks:  # a hook's stage refuses what its check would
            hook.stage(self, batch, skey, m)
        return m, batch

    def add_hook(self, hook: WriteHook) -> None:
        """Have ``hook`` check and extend every write of this table (see WriteHook)."""
        self.hooks = [*self.hooks, hook]  # copy on write: writers iterate without a lock

    def remove_hook(self, hook: WriteHook) -> None:
        self.hooks = [h for h in self.hooks if h is not hook]

    def stage(self, batch: WriteBatch, skey: bytes, m: Mutation) -> None:
        """Add a decided, changing mutation (and its hooks' entries) to a batch built by a
        caller holding the key's lock. Raises what a hook's check raises; the batch must
        then be dropped."""
        if m.new is not None:
            m.new_value = encode_value(m.new, m.new_size)
            batch.put(self.keyspace, skey, m.new_value)
        else:
            batch.delete(self.keyspace, skey)
        for hook in self.hooks:
            hook.stage(self, batch, skey, m)

    # -------------------------------------------------------------- counters

    def note_write(self, m: Mutation) -> None:
        """Account a committed mutation in the item counters (and the hooks')."""
        self.note_writes((m,))

    def note_writes(self, ms: Sequence[Mutation]) -> None:
        """note_write() for each of ``ms``, committed in this order."""
        with self._stats_lock:
            s = self._stats
            if s is not None:
                for m in ms:
                    if m.seqno > s[0]:
                        s[1] += (m.new is not None) - (m.old is not None)
                        s[2] += m.new_size - m.old_size
        for hook in self.hooks:
            for m in ms:
                hook.committed(self, m)

    def counters(self) -> tuple[int, int]:
        """(ItemCount, TableSizeBytes), exact as of now."""
        with self._stats_lock:
            if self._stats is None:
                count = size = 0
                with self.store.snapshot() as snap:
                    for _, data in self.store.scan(self.keyspace, snapshot=snap):
                        count += 1
                        size += _SIZE.unpack_from(data)[0]
                    self._stats = [snap.seqno, count, size]
            return self._stats[1], self._stats[2]


class WriteGroup:
    """Mutations of several distinct items, of one table or several (a BatchWriteItem's),
    committed together. Each stays its own storage batch, with its own seqno, as if
    written by :meth:`Table.mutate`; the group shares one WAL write and, in ``sync``
    durability, one fsync (Store.write_many) instead of one each.

    The group holds every key's lock (taken in stripe order, as a transaction takes
    them, so two groups or a group and a transaction never deadlock) from ``with`` to
    the end of the block, where it commits what its :meth:`mutate` calls staged. A
    mutation's ``seqno`` is set then. If the block raises (a conflict, a hook refusing a
    write), the writes staged before are committed all the same and the exception goes
    on: the outcome of calling Table.mutate for each in turn.

    Hooks see the group's staged writes through ``Mutation.group_pending``: the index
    hook checks an item collection's size limit against its committed size plus what
    the group's earlier writes add to it.

    Example:
        with WriteGroup([(table, k1), (table, k2), (other, k3)]) as group:
            group.mutate(table, k1, lambda old: item1)
            group.mutate(table, k2, lambda old: None)
            group.mutate(other, k3, lambda old: item3)
    """

    def __init__(self, keys: list[tuple[Table, bytes]]) -> None:
        pairs = [(table.keyspace, skey) for table, skey in keys]
        self._keys = frozenset(pairs)
        if len(self._keys) != len(pairs):
            raise ValueError("a write group's keys must be distinct")
        tables = {table.keyspace: table for table, _ in keys}
        locks = {id(table.locks): table.locks for table in tables.values()}
        if len(locks) > 1:
            raise ValueError("a write group's tables must share their key locks")
        self._hold = next(iter(locks.values())).hold(pairs) if locks else None
        self._pending: dict = {}
        self._batches: list[WriteBatch] = []
        self._staged: list[tuple[Table, Mutation]] = []

    def __enter__(self) -> WriteGroup:
        if self._hold is not None:
            self._hold.__enter__()
        return self

    def mutate(
        self, table: Table, skey: bytes, decide: Callable[[dict | None], dict | None]
    ) -> Mutation:
        """Table.mutate() of one of the group's items (no transaction owns the group),
        committed when the ``with`` block ends."""
        if (table.keyspace, skey) not in self._keys:
            raise ValueError("the key is not one of the write group's")
        m, batch = table._decide(skey, decide, None, self._pending)
        if batch is not None:
            self._batches.append(batch)
            self._staged.append((table, m))
        return m

    def __exit__(self, *exc_info: object) -> None:
        try:
            staged = self._staged
            if staged:
                seqnos = staged[0][0].store.write_many(self._batches)
                run: list[Mutation] = []
                for i, ((table, m), seqno) in enumerate(zip(staged, seqnos, strict=True)):
                    m.seqno = seqno
                    run.append(m)
                    if i + 1 == len(staged) or staged[i + 1][0] is not table:
                        table.note_writes(run)  # each table's run of writes, in order
                        run = []
        finally:
            self._batches = []
            self._staged = []
            self._pending = {}
            if self._hold is not None:
                self._hold.__exit__(None, None, None)
