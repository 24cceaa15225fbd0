"""Memtables: one keyspace's recent writes in memory, all versions kept.

Representation, chosen so that the cyclic garbage collector never walks a memtable
(a dict whose keys and values are all bytes stays untracked by the collector; tuples
and lists in it would make every full collection visit millions of entries, which
measured as half the cost of a put):

    data   key -> trailer u64 LE | value        the newest version (a tombstone has an
                                                empty value and kind 0 in the trailer)
    older  key -> (trailer u64 LE | length u32 LE | value)*   replaced versions, oldest
                                                first; only keys written more than once
    _new   key -> None                          keys not yet in the order below
    _order (main, recent): main, a tuple of keys in order (untracked too), and recent,
           the sorted keys added since main was rebuilt (small); replaced as one
           attribute so a reader never pairs an old main with a new recent

The group-commit leader writes; readers read concurrently, relying on the interpreter
lock for the atomicity of one dict operation and on seqno filtering for batch
atomicity: a version whose seqno is above the reader's snapshot is skipped. An
overwrite first appends the old version to `older`, then replaces `data[key]`, so a
reader never misses a version it may see.

A `MemtableGeneration` is the set of memtables of every keyspace that share WAL
segments; it is active, then immutable, then flushed to L0 as one unit, so that its WAL
segments can be deleted once its flush is installed.
"""

import heapq
import itertools
import math
import struct
import threading
from bisect import bisect_left
from collections.abc import Iterator

from engine.codec import make_run_buffer
from engine.storage.batch import apply_ops
from engine.storage.scanrows import visible_rows

ENTRY_OVERHEAD_BYTES = 48  # rough per-version cost used for the flush trigger
RECENT_KEYS_MIN = 512  # recent keys kept apart from the main order before a merge
_U64 = struct.Struct("<Q")
_OLDER = struct.Struct("<QI")
_pack_u64 = _U64.pack
_pack_older = _OLDER.pack
_unpack_u64 = _U64.unpack_from


class Memtable:
    __slots__ = ("_new", "_order", "_sort_lock", "data", "older")

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        # key -> its replaced versions, oldest first, each packed as trailer u64 | value
        # length u32 | value: a list, so keeping one more costs the same however many a
        # hot key has (one bytes string re-concatenated per write grew quadratically)
        self.older: dict[bytes, list[bytes]] = {}
        self._order: tuple[tuple[bytes, ...], list[bytes]] = ((), [])
        self._new: dict[bytes, None] = {}
        self._sort_lock = threading.Lock()

    def add(self, key: bytes, trailer: int, value: bytes | None) -> None:
        """Insert a version (value None for a tombstone). Writer thread only."""
        data = self.data
        old = data.get(key)
        if old is None:
            self._new[key] = None
        else:
            self.keep_older(key, old)
        data[key] = _pack_u64(trailer) + value if value is not None else _pack_u64(trailer)

    def keep_older(self, key: bytes, old: bytes) -> None:
        """Remember `old` (a `data` entry) before it is replaced."""
        packed = _pack_older(_unpack_u64(old)[0], len(old) - 8) + old[8:]
        kept = self.older.get(key)
        if kept is None:
            self.older[key] = [packed]
        else:
            kept.append(packed)

    def get(self, key: bytes, seqno: int) -> tuple[bool, bytes | None]:
        """(True, value) for the newest version at or below `seqno` (value None for a
        tombstone); (False, None) when this memtable has no visible version."""
        version = self.visible_version(key, seqno)
        return (False, None) if version is None else (True, version[1])

    def visible_version(self, key: bytes, seqno: int) -> tuple[int, bytes | None] | None:
        """(trailer, value or None for a tombstone) of `key`'s newest version at or below
        `seqno`; None when this memtable has none. Looks at the versions newer than the
        read only, not at every version a hot key has: :meth:`versions` lists them all."""
        newest = self.data.get(key)
        if newest is None:
            return None
        trailer = _unpack_u64(newest)[0]
        top = trailer >> 8
        if top <= seqno:
            return trailer, (newest[8:] if trailer & 0xFF else None)
        kept = self.older.get(key)
        if kept:
            for packed in reversed(kept):
                old_trailer = _unpack_u64(packed)[0]
                if old_trailer >> 8 < top and old_trailer >> 8 <= seqno:
                    return old_trailer, (packed[_OLDER.size :] if old_trailer & 0xFF else None)
        return None

    def versions(self, key: bytes) -> list[tuple[int, bytes | None]]:
        """Every version of `key` as (trailer, value-or-None), newest first."""
        newest = self.data.get(key)
        if newest is None:
            return []
        trailer = _unpack_u64(newest)[0]
        out = [(trailer, newest[8:] if trailer & 0xFF else None)]
        kept = self.older.get(key)
        if kept:
            top = trailer >> 8
            head = _OLDER.size
            for packed in reversed(kept):
                old_trailer = _unpack_u64(packed)[0]
                if old_trailer >> 8 < top:
                    out.append((old_trailer, packed[head:] if old_trailer & 0xFF else None))
        return out

    def _ordered(self) -> tuple[tuple[bytes, ...], list[bytes]]:
        """(main, recent): two sorted, never-mutated sequences holding every key.

        New keys join the small `recent` list at the next scan; `recent` is merged into
        the big `main` tuple only when it outgrows about 2*sqrt(main), so a scan after a
        write costs O(sqrt(n)) amortised, not a sort of the whole memtable (a 200k-key
        memtable took 10.9 ms per put+scan before)."""
        if self._new:
            with self._sort_lock:
                if self._new:
                    new, self._new = self._new, {}
                    main, recent = self._order
                    recent = [*recent, *new]
                    recent.sort()
                    # Merging costs O(main), keeping `recent` apart O(recent) per scan:
                    # a bound near 2*sqrt(main) balances the two.
                    if len(recent) > max(RECENT_KEYS_MIN, 2 * math.isqrt(len(main))):
                        merged = [*main, *recent]
                        merged.sort()
                        main, recent = tuple(merged), []
                    self._order = (main, recent)
        return self._order

    def sorted_keys(self) -> list[bytes]:
        """All keys in order (a new list)."""
        return list(self._iter_keys(None, None, False))

    def _iter_keys(self, start: bytes | None, end: bytes | None, reverse: bool):
        main, recent = self._ordered()
        ranges = []
        for keys in (main, recent):
            lo = 0 if start is None else bisect_left(keys, start)
            hi = len(keys) if end is None else bisect_left(keys, end)
            if lo < hi:
                order = range(hi - 1, lo - 1, -1) if reverse else range(lo, hi)
                ranges.append(map(keys.__getitem__, order))
        if len(ranges) == 1:
            return ranges[0]
        return heapq.merge(*ranges, reverse=reverse)

    def iter_visible(
        self, start: bytes | None, end: bytes | None, reverse: bool, seqno: int
    ) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of the newest version at or below `seqno` of every key in
        [start, end), skipping tombstones: a scan served by this memtable alone.

        Rows are resolved in C a run of keys at a time (runs of 16 growing to 256, so a
        short Query page resolves little it does not read); only a key whose newest
        version is too new for `seqno` has its older versions looked up here.
        :meth:`py_iter_visible` is the twin."""
        return itertools.chain.from_iterable(self._visible_runs(start, end, reverse, seqno))

    def _visible_runs(
        self, start: bytes | None, end: bytes | None, reverse: bool, seqno: int
    ) -> Iterator[list[tuple[bytes, bytes]]]:
        data = self.data
        keys_iter = self._iter_keys(start, end, reverse)
        size = 16
        while True:
            keys = list(itertools.islice(keys_iter, size))
            if not keys:
                return
            size = min(size * 2, 256)
            i = 0
            while i < len(keys):
                rows, i = visible_rows(keys, data, seqno, i)
                if rows:
                    yield rows
                if i < len(keys):  # its newest version is too new: an older one may do
                    row = self._older_visible(keys[i], seqno)
                    if row is not None:
                        yield (row,)
                    i += 1

    def _older_visible(self, key: bytes, seqno: int) -> tuple[bytes, bytes] | None:
        """(key, value) of ``key``'s newest version at or below `seqno` (its newest being
        too new); None for none or a tombstone."""
        version = self.visible_version(key, seqno)
        return None if version is None or version[1] is None else (key, version[1])

    def py_iter_visible(
        self, start: bytes | None, end: bytes | None, reverse: bool, seqno: int
    ) -> Iterator[tuple[bytes, bytes]]:
        """:meth:`iter_visible` in Python alone (the twin of its native half)."""
        data = self.data
        older = self.older
        for key in self._iter_keys(start, end, reverse):
            newest = data[key]
            trailer = _unpack_u64(newest)[0]
            if trailer >> 8 <= seqno:
                if trailer & 0xFF:
                    yield key, newest[8:]
            elif key in older:
                for old_trailer, value in self.versions(key)[1:]:
                    if old_trailer >> 8 <= seqno:
                        if value is not None:
                            yield key, value
                        break

    def iter_chunks(
        self,
        start: bytes | None,
        end: bytes | None,
        reverse: bool,
        seqno: int,
        chunk_keys: int = 256,
    ):
        """Yield group-aligned merge chunks over [start, end) in the given direction for a
        read at `seqno`: (buf, keys_at, offs_at, trailers_at, count, values) where entries
        are in key order (descending when `reverse`, the natural order within a chunk's
        arrays being ascending) and values[i] belongs to entry i. A key with older
        versions contributes only the one the read sees (none if it sees none): a hot key
        does not bring its thousands of versions into every scan that passes it."""
        data = self.data
        older = self.older
        visible_version = self.visible_version
        keys_iter = self._iter_keys(start, end, reverse)
        size = 16  # short scans (a Query page of a few items) build small chunks
        while True:
            chunk = list(itertools.islice(keys_iter, size))
            size = min(size * 2, chunk_keys)
            if not chunk:
                return
            if reverse:
                chunk.reverse()
            entries = []
            values = []
            for key in chunk:
                if key in older:
                    version = visible_version(key, seqno)
                    if version is not None:
                        entries.append((key, version[0]))
                        values.append(version[1])
                else:
                    newest = data[key]
                    trailer = _unpack_u64(newest)[0]
                    entries.append((key, trailer))
                    values.append(newest[8:])
            buf, keys_at, offs_at, trailers_at = make_run_buffer(entries)
            yield buf, keys_at, offs_at, trailers_at, len(entries), values


class MemtableGeneration:
    """The memtables of all keyspaces that share WAL segments `segments`."""

    __slots__ = ("max_commit_ts_us", "max_seqno", "segments", "size_bytes", "tables")

    def __init__(self, segments: list[int]) -> None:
        self.tables: dict[int, Memtable] = {}
        self.segments = segments
        self.size_bytes = 0
        self.max_seqno = 0
        self.max_commit_ts_us = 0

    def table(self, ksid: int) -> Memtable:
        table = self.tables.get(ksid)
        if table is None:
            table = self.tables[ksid] = Memtable()
        return table

    def apply(self, seqno: int, commit_ts_us: int, ops) -> None:
        """Apply one batch's (kind, keyspace id, key, value) operations at `seqno`: one
        native call (csrc/batchops.c) doing what py_apply does."""
        self.size_bytes += apply_ops(self, seqno, ops)
        self.max_seqno = seqno
        self.max_commit_ts_us = commit_ts_us

    def py_apply(self, seqno: int, commit_ts_us: int, ops) -> None:
        """The pure-Python twin of `apply`, the oracle its tests compare against."""
        tables = self.tables
        size = 0
        for kind, ksid, key, value in ops:
            table = tables.get(ksid)
            if table is None:
                table = tables[ksid] = Memtable()
            data = table.data
            old = data.get(key)
            if old is None:
                table._new[key] = None
            else:
                table.keep_older(key, old)
            if kind:
                data[key] = _pack_u64((seqno << 8) | kind) + value
                size += len(key) + len(value) + ENTRY_OVERHEAD_BYTES
            else:
                data[key] = _pack_u64(seqno << 8)
                size += len(key) + ENTRY_OVERHEAD_BYTES
        self.size_bytes += size
        self.max_seqno = seqno
        self.max_commit_ts_us = commit_ts_us

    @property
    def is_empty(self) -> bool:
        return self.max_seqno == 0
