"""Helpers shared by the storage tests: small-tree options and whole-store reads.

The options shrink every size so that a few hundred small writes already rotate
memtables, flush L0 files and trigger compactions into deeper levels.
"""

import os
import threading

from engine.storage import Store, WriteBatch
from engine.storage.format import SST_SUFFIX, WAL_SUFFIX

# Tiny sizes: a memtable of a few KiB, blocks of a few hundred bytes, L1 of 8 KiB.
SMALL_TREE = {
    "memtable_bytes": 4 << 10,
    "block_size_bytes": 256,
    "l0_compaction_trigger": 2,
    "level_base_bytes": 8 << 10,
    "level_size_ratio": 4,
    "target_file_size_bytes": 4 << 10,
    "block_cache_bytes": 64 << 10,
}


def batch_of(ops) -> WriteBatch:
    """A WriteBatch of (keyspace, key, value) ops: value None deletes the key."""
    batch = WriteBatch()
    for keyspace, key, value in ops:
        if value is None:
            batch.delete(keyspace, key)
        else:
            batch.put(keyspace, key, value)
    return batch


def open_small(path: str, **options: object) -> Store:
    """Open a store with SMALL_TREE sizes (overridable)."""
    return Store.open(str(path), **{**SMALL_TREE, **options})


def dump(store: Store, keyspace: str, snapshot=None) -> dict[bytes, bytes]:
    """Every live key of a keyspace, by a forward scan."""
    return dict(store.scan(keyspace, snapshot=snapshot))


def files_with_suffix(path: str, suffix: str) -> list[str]:
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(suffix))


def sst_files(path: str) -> list[str]:
    return files_with_suffix(path, SST_SUFFIX)


def wal_files(path: str) -> list[str]:
    return files_with_suffix(path, WAL_SUFFIX)


def check_levels(store: Store) -> None:
    """Run the Version invariant check for every keyspace."""
    for ksid in store._version.keyspaces:
        store._version.levels(ksid)._check()


def run_threads(targets: list, timeout_s: float = 120.0) -> None:
    """Run each callable in its own thread and wait for all of them. Fails when one
    hangs (a lost wake-up, a deadlock, a writer never acknowledged) or raises."""
    errors: list[BaseException] = []

    def run(target) -> None:
        try:
            target()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout_s)
    assert not any(t.is_alive() for t in threads), "a thread hung (lost wake-up or deadlock)"
    assert errors == [], errors
