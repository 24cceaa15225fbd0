"""The secondary indexes of a store's tables: hooks, online creation (backfill), deletion.

:class:`Indexes` attaches an :class:`IndexHook` to every table that has indexes, so each
write maintains them in its own storage batch. Creating a GSI on a live table is online:

1. the index is added to the table's definition as CREATING, together with its keyspace,
   in one catalog transaction, and the table's hook is attached;
2. a barrier (every key-lock stripe taken and released) waits out writers that might have
   read the old definition; from then on every write maintains the new index;
3. a background thread scans the base table at a snapshot taken after the barrier and, in
   chunks under the chunk's key locks, indexes each item *as it is now* (re-read under the
   lock). An item written since the snapshot was already indexed by its writer, so the
   backfill's put is the same entry; an item deleted since is skipped. The index therefore
   ends equal to what indexing every current item would give;
4. the index turns ACTIVE in the catalog.

A crash during a backfill leaves the index CREATING; opening the store starts it again
(entries are idempotent puts). Deleting an index removes it from the definition, waits out
in-flight writers with the same barrier, and drops its keyspace.

Thread-safety: every method may be called from any thread.
"""

from __future__ import annotations

import logging
import threading
import time

from engine.index.entries import encode_entry, entry_key
from engine.index.hook import IndexHook
from engine.storage import KeyspaceError, StoreClosedError, WriteBatch
from engine.table import IndexDef, Table, Tables, decode_value, with_keyspace

__all__ = ["BACKFILL_CHUNK", "Indexes"]

log = logging.getLogger(__name__)

BACKFILL_CHUNK = 256
PROGRESS_EVERY_S = 5.0  # a long backfill logs how far it got this often


class Indexes:
    """The indexes of every table in ``tables``."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._mutex = threading.Lock()
        self._hooks: dict[str, IndexHook] = {}  # table keyspace -> its hook
        self._threads: dict[str, threading.Thread] = {}  # index keyspace -> backfill
        self._closed = threading.Event()
        self.backfilled_items = 0
        for name in tables.names():
            table = tables.get(name)
            if table is not None:
                self.attach(table)

    # ------------------------------------------------------------- hooks

    def attach(self, table: Table) -> None:
        """Maintain ``table``'s indexes (if it has any) and resume unfinished backfills."""
        if not table.defn.indexes:
            return
        self._hook(table)
        for ix in table.defn.indexes:
            if ix.status == "CREATING":
                self._start_backfill(table, ix)

    def _hook(self, table: Table) -> IndexHook:
        with self._mutex:
            hook = self._hooks.get(table.keyspace)
            if hook is None:
                hook = self._hooks[table.keyspace] = IndexHook()
                table.add_hook(hook)
            return hook

    def counters(self, table: Table, ix: IndexDef) -> tuple[int, int]:
        """(ItemCount, IndexSizeBytes) of one index of ``table``."""
        return self._hook(table).counters(table, ix)

    def collection_size(self, table: Table, skey: bytes) -> int:
        """Bytes of the item collection (items + LSI entries) of the item at ``skey``."""
        return self._hook(table).collection_size(table, skey)

    def forget(self, table: Table) -> None:
        """``table`` was deleted: drop its hook (its backfills stop at their next chunk)."""
        with self._mutex:
            hook = self._hooks.pop(table.keyspace, None)
        if hook is not None:
            table.remove_hook(hook)

    # ------------------------------------------------------ create, delete

    def create(self, table: Table, ix: IndexDef, attributes: dict[str, str]) -> IndexDef:
        """Add GSI ``ix`` to a live table (``attributes``: the table's attribute
        definitions with the new key attributes) and start its backfill. Returns the
        stored definition (CREATING)."""
        ix = with_keyspace(ix).replace(status="CREATING")
        self.tables.change(
            table.defn.name,
            lambda d: d.replace(indexes=(*d.indexes, ix), attributes=attributes),
            create_keyspaces=(ix.keyspace,),
        )
        self._hook(table)
        self._start_backfill(table, ix)
        return ix

    def delete(self, table: Table, name: str) -> IndexDef:
        """Remove index ``name`` from a live table and drop its entries. Returns its last
        definition."""
        ix = table.defn.index(name)
        assert ix is not None

        def drop(d):
            rest = tuple(i for i in d.indexes if i.name != name)
            used = set(d.key_names).union(*(i.key_names for i in rest))
            # DynamoDB keeps only the attribute definitions some key still uses
            return d.replace(
                indexes=rest, attributes={n: t for n, t in d.attributes.items() if n in used}
            )

        self.tables.change(table.defn.name, drop)
        self.tables.locks.barrier()  # no writer still stages entries for it
        self._hook(table).forget(ix)
        self.tables.store.drop_keyspace(ix.keyspace)
        return ix

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop every backfill (each stops at its next chunk; CREATING indexes resume when
        the store is opened again)."""
        self._closed.set()
        for thread in list(self._threads.values()):
            thread.join(timeout_s)

    def wait_backfills(self, timeout_s: float = 60.0) -> bool:
        """Wait for running backfills to end; True if none is left running."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads.values())

    # ----------------------------------------------------------- backfill

    def _start_backfill(self, table: Table, ix: IndexDef) -> None:
        with self._mutex:
            running = self._threads.get(ix.keyspace)
            if running is not None and running.is_alive():
                return
            thread = threading.Thread(
                target=self._run_backfill,
                args=(table, ix),
                name=f"shale-backfill-{ix.name}",
                daemon=True,
            )
            self._threads[ix.keyspace] = thread
        thread.start()

    def _live(self, table: Table, ix: IndexDef) -> bool:
        cur = table.defn.index(ix.name)
        return (
            not self._closed.is_set()
            and cur is not None
            and cur.keyspace == ix.keyspace
            and self.tables.get(table.defn.name) is table
        )

    def _run_backfill(self, table: Table, ix: IndexDef) -> None:
        try:
            done = self.backfill(table, ix)
        except (KeyspaceError, StoreClosedError):
            return  # the table or index was deleted, or the store closed: nothing to finish
        except Exception:
            log.exception("backfill of index %s failed", ix.name)
            return
        if not done:
            return

        def activate(d):
            return d.replace(
                indexes=tuple(
                    i.replace(status="ACTIVE") if i.keyspace == ix.keyspace else i
                    for i in d.indexes
                )
            )

        try:
            self.tables.change(table.defn.name, activate)
        except (KeyError, KeyspaceError, StoreClosedError):
            return
        log.info("index %s of table %s is ACTIVE", ix.name, table.defn.name)

    def backfill(self, table: Table, ix: IndexDef) -> bool:
        """Index every item of ``table`` into ``ix`` (see the module docstring). Returns
        False if it stopped early because the index, the table or this object went away."""
        self.tables.locks.barrier()
        store = table.store
        base = table.keyspace
        locks = self.tables.locks
        started = time.monotonic()
        next_report = started + PROGRESS_EVERY_S
        count = 0
        with store.snapshot() as snap:
            rows = store.scan(base, snapshot=snap)
            while True:
                chunk = []
                for skey, _ in rows:
                    chunk.append(skey)
                    if len(chunk) == BACKFILL_CHUNK:
                        break
                if not chunk:
                    break
                if not self._live(table, ix):
                    return False
                d = table.defn
                with locks.hold([(base, k) for k in chunk]):
                    batch = WriteBatch()
                    for skey in chunk:
                        data = store.get(base, skey)
                        if data is None:
                            continue
                        item, size = decode_value(data)
                        ek = entry_key(d, ix, item, skey)
                        if ek is not None:
                            batch.put(ix.keyspace, ek, encode_entry(d, ix, item, size)[0])
                    if len(batch):
                        store.write(batch)
                count += len(chunk)
                self.backfilled_items += len(chunk)
                now = time.monotonic()
                if now >= next_report:
                    next_report = now + PROGRESS_EVERY_S
                    log.info(
                        "backfilling index %s of table %s: %d items (%.0f items/s)",
                        ix.name,
                        d.name,
                        count,
                        count / max(now - started, 1e-9),
                    )
        log.info(
            "backfilled index %s: %d items in %.1f s",
            ix.name,
            count,
            time.monotonic() - started,
        )
        return self._live(table, ix)
