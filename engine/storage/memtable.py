"""Memtables: one keyspace's recent writes in memory, all versions kept.

`Memtable.data` maps a user key to its newest version `(trailer, value)` (a
tombstone's value is None); `Memtable.older` maps a key that was overwritten to its
older versions in ascending seqno order. The group-commit leader writes; readers read
concurrently, relying on the interpreter lock for the atomicity of one dict operation
and on seqno filtering for batch atomicity: a version whose seqno is above the reader's
snapshot is skipped. An overwrite first appends the old version to `older`, then
replaces `data[key]`, so a reader never misses a version it may see.

Keys sort lazily: new keys are appended to `_new` and merged into `_sorted` (timsort
merges the two runs) the first time a scan needs order, under `_sort_lock`.

A `MemtableGeneration` is the set of memtables of every keyspace that share WAL
segments; it is active, then immutable, then flushed to L0 as one unit, so that its WAL
segments can be deleted once its flush is installed.
"""

import threading
from bisect import bisect_left

from engine.codec import make_run_buffer

ENTRY_OVERHEAD_BYTES = 48  # rough per-version cost used for the flush trigger


class Memtable:
    __slots__ = ("_new", "_sort_lock", "_sorted", "data", "older")

    def __init__(self) -> None:
        self.data: dict[bytes, tuple[int, bytes | None]] = {}
        self.older: dict[bytes, list[tuple[int, bytes | None]]] = {}
        self._sorted: list[bytes] = []
        self._new: list[bytes] = []
        self._sort_lock = threading.Lock()

    def add(self, key: bytes, trailer: int, value: bytes | None) -> None:
        data = self.data
        old = data.get(key)
        if old is None:
            self._new.append(key)
        else:
            versions = self.older.get(key)
            if versions is None:
                self.older[key] = [old]
            else:
                versions.append(old)
        data[key] = (trailer, value)

    def keep_older(self, key: bytes, old: tuple[int, bytes | None]) -> None:
        """Remember `old`, the version about to be replaced in `data`."""
        versions = self.older.get(key)
        if versions is None:
            self.older[key] = [old]
        else:
            versions.append(old)

    def get(self, key: bytes, seqno: int) -> tuple[bool, bytes | None]:
        """(True, value) for the newest version at or below `seqno` (value None for a
        tombstone); (False, None) when this memtable has no visible version."""
        newest = self.data.get(key)
        if newest is not None:
            if newest[0] >> 8 <= seqno:
                return True, newest[1]
            for trailer, value in reversed(self.older.get(key, ())):
                if trailer >> 8 <= seqno:
                    return True, value
        return False, None

    def versions(self, key: bytes) -> list[tuple[int, bytes | None]]:
        """Every version of `key`, newest first."""
        newest = self.data[key]
        out = [newest]
        older = self.older.get(key)
        if older:
            top = newest[0] >> 8
            out.extend(v for v in reversed(tuple(older)) if v[0] >> 8 < top)
        return out

    def sorted_keys(self) -> list[bytes]:
        """All keys in order (a list the caller must not modify)."""
        if self._new:
            with self._sort_lock:
                if self._new:
                    new, self._new = self._new, []
                    merged = self._sorted + new
                    merged.sort()
                    self._sorted = merged
        return self._sorted

    def iter_chunks(
        self, start: bytes | None, end: bytes | None, reverse: bool, chunk_keys: int = 256
    ):
        """Yield group-aligned merge chunks over [start, end) in the given direction:
        (buf, keys_at, offs_at, trailers_at, count, values) where entries are in key
        order with versions newest first, and values[i] belongs to entry i."""
        keys = self.sorted_keys()
        lo = 0 if start is None else bisect_left(keys, start)
        hi = len(keys) if end is None else bisect_left(keys, end)
        versions_of = self.versions
        if reverse:
            bounds = [(max(lo, h - chunk_keys), h) for h in range(hi, lo, -chunk_keys)]
        else:
            bounds = [(a, min(hi, a + chunk_keys)) for a in range(lo, hi, chunk_keys)]
        for a, b in bounds:
            entries = []
            values = []
            for key in keys[a:b]:
                for trailer, value in versions_of(key):
                    entries.append((key, trailer))
                    values.append(value)
            buf, keys_at, offs_at, trailers_at = make_run_buffer(entries)
            yield buf, keys_at, offs_at, trailers_at, len(entries), values


class MemtableGeneration:
    """The memtables of all keyspaces that share WAL segments `segments`."""

    __slots__ = (
        "max_commit_ts_us",
        "max_seqno",
        "min_commit_ts_us",
        "segments",
        "size_bytes",
        "tables",
    )

    def __init__(self, segments: list[int]) -> None:
        self.tables: dict[int, Memtable] = {}
        self.segments = segments
        self.size_bytes = 0
        self.max_seqno = 0
        self.min_commit_ts_us = 0
        self.max_commit_ts_us = 0

    def table(self, ksid: int) -> Memtable:
        table = self.tables.get(ksid)
        if table is None:
            table = self.tables[ksid] = Memtable()
        return table

    def apply(self, seqno: int, commit_ts_us: int, ops) -> None:
        """Apply one batch's (kind, keyspace id, key, value) operations at `seqno`."""
        tables = self.tables
        size = 0
        for kind, ksid, key, value in ops:
            table = tables.get(ksid)
            if table is None:
                table = tables[ksid] = Memtable()
            data = table.data
            old = data.get(key)
            if old is None:
                table._new.append(key)
            else:
                versions = table.older.get(key)
                if versions is None:
                    table.older[key] = [old]
                else:
                    versions.append(old)
            if kind:
                data[key] = ((seqno << 8) | kind, value)
                size += len(key) + len(value) + ENTRY_OVERHEAD_BYTES
            else:
                data[key] = (seqno << 8, None)
                size += len(key) + ENTRY_OVERHEAD_BYTES
        self.size_bytes += size
        self.max_seqno = seqno
        if not self.min_commit_ts_us:
            self.min_commit_ts_us = commit_ts_us
        self.max_commit_ts_us = commit_ts_us

    @property
    def is_empty(self) -> bool:
        return self.max_seqno == 0
