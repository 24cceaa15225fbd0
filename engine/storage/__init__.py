"""engine.storage: a bytes-to-bytes LSM-tree store with named keyspaces.

The layer knows nothing of the data model above it. Its public surface:

    store = Store.open("data", durability="sync")
    store.create_keyspace("items")
    store.put("items", b"k", b"v")
    batch = WriteBatch().put("items", b"a", b"1").delete("items", b"k")
    store.write(batch)                      # atomic across keyspaces
    store.write_many([batch1, batch2])      # each atomic, one WAL write and fsync
    store.get("items", b"a")                # b"1"; None when absent
    for key, value in store.scan("items", b"a", b"z", reverse=True): ...
    with store.snapshot() as snap: store.get("items", b"a", snap)
    store.checkpoint("backup-dir")          # opens as a store by itself
    store.close()

See store.py for the write path, durability modes and background work, and
docs/FORMAT.md for every byte on disk.
"""

from engine.storage.batch import WriteBatch
from engine.storage.errors import (
    BackgroundError,
    CorruptionError,
    FormatVersionError,
    KeyspaceError,
    StorageError,
    StoreClosedError,
    StoreLockedError,
)
from engine.storage.fs import FaultInjectingFS, FileSystem
from engine.storage.store import RecoveryReport, Snapshot, Store, StoreOptions

__all__ = [
    "BackgroundError",
    "CorruptionError",
    "FaultInjectingFS",
    "FileSystem",
    "FormatVersionError",
    "KeyspaceError",
    "RecoveryReport",
    "Snapshot",
    "StorageError",
    "Store",
    "StoreClosedError",
    "StoreLockedError",
    "StoreOptions",
    "WriteBatch",
]
