"""Chunks: what the native merge consumes, cut from memtables and SSTable blocks.

A chunk is a group-aligned slice of a sorted source (entries by key ascending, then
seqno descending; never splitting one key's versions) together with a way to get each
entry's key and value back as Python bytes. `iter_merged` drives `engine.codec.Merger`
over one chunk iterator per source and yields the visible (key, value) pairs.
"""

import itertools
import struct
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from engine.codec import MERGE_DONE, MERGE_NEED_REFILL, MERGE_READ, Merger, make_run_buffer
from engine.storage.memtable import Memtable
from engine.storage.scanrows import block_rows, merged_rows
from engine.storage.sstable import Block, SSTableReader

EMPTY_RUN = make_run_buffer([])  # (buf, keys_at, offs_at, trailers_at) of no entries


class Chunk:
    """A slice [lo, hi) of a run buffer, with key/value access by entry index."""

    __slots__ = (
        "buf",
        "hi",
        "is_plain",
        "keys_at",
        "koffs",
        "lo",
        "offs_at",
        "trailers",
        "trailers_at",
        "values",
        "values_at",
        "voffs",
        "voffs_at",
    )

    def key(self, i: int) -> bytes:
        koffs = self.koffs
        return self.buf[self.keys_at + koffs[i] : self.keys_at + koffs[i + 1]]

    def value(self, i: int) -> bytes:
        values = self.values
        if values is not None:
            return values[i]
        voffs = self.voffs
        return self.buf[self.values_at + voffs[i] : self.values_at + voffs[i + 1]]


def block_chunk(block: Block, lo: int, hi: int, max_seqno: int = 1 << 62) -> Chunk:
    """A chunk over block entries [lo, hi). `max_seqno` bounds the seqnos in the block
    (its file's): with no tombstones and one version per key, every entry is visible
    to a read at or above it, and the chunk is 'plain' (see iter_merged)."""
    chunk = Chunk()
    chunk.is_plain = (not block.flags, max_seqno)
    chunk.buf = block.raw
    chunk.keys_at = block.keys_at
    chunk.offs_at = 8
    chunk.trailers_at = block.trailers_at
    chunk.trailers = block.trailers
    chunk.koffs = block.koffs
    chunk.values = None
    chunk.values_at = block.values_at
    chunk.voffs = block.voffs
    chunk.voffs_at = 12 + 4 * block.count  # (docs/FORMAT.md "Data block")
    chunk.lo = lo
    chunk.hi = hi
    return chunk


def iter_memtable_chunks(
    table: Memtable, start: bytes | None, end: bytes | None, reverse: bool, seqno: int
) -> Iterator[Chunk]:
    """Chunks of `table` over [start, end) for a read at `seqno` (Memtable.iter_chunks)."""
    chunks = table.iter_chunks(start, end, reverse, seqno)
    for buf, keys_at, offs_at, trailers_at, count, values in chunks:
        chunk = Chunk()
        chunk.buf = buf
        chunk.keys_at = keys_at
        chunk.offs_at = offs_at
        chunk.trailers_at = trailers_at
        chunk.koffs = struct.unpack_from(f"<{count + 1}I", buf, offs_at)
        chunk.trailers = struct.unpack_from(f"<{count}Q", buf, trailers_at)
        chunk.values = values
        chunk.values_at = 0
        chunk.voffs = None
        chunk.voffs_at = -1  # values are in chunk.values
        chunk.is_plain = (False, 0)
        chunk.lo = 0
        chunk.hi = count
        yield chunk


def iter_file_chunks(
    readers: list[SSTableReader], start: bytes | None, end: bytes | None, reverse: bool
) -> Iterator[Chunk]:
    """Chunks over the blocks of `readers` (key-ordered, non-overlapping files: one
    level, or a single L0 file) restricted to [start, end)."""
    if not reverse:
        first = 0
        if start is not None:
            first = bisect_left([r.largest for r in readers], start)
        for reader in readers[first:]:
            if end is not None and reader.smallest >= end:
                return
            for b in range(reader.seek_block(start, False), reader.block_count):
                block = reader.block(b)
                lo = block.lower_bound(start) if start is not None else 0
                start = None
                if end is not None and reader.last_keys[b] >= end:
                    yield block_chunk(block, lo, block.lower_bound(end), reader.max_seqno)
                    return
                yield block_chunk(block, lo, block.count, reader.max_seqno)
    else:
        last = len(readers)
        if end is not None:
            last = bisect_left([r.smallest for r in readers], end)
        for reader in reversed(readers[:last]):
            if start is not None and reader.largest < start:
                return
            for b in range(reader.seek_block(end, True), -1, -1):
                block = reader.block(b)
                hi = block.lower_bound(end) if end is not None else block.count
                end = None
                if start is not None and block.key(0) <= start:
                    yield block_chunk(block, block.lower_bound(start), hi, reader.max_seqno)
                    return
                yield block_chunk(block, 0, hi, reader.max_seqno)


def set_chunk(merger: Merger, i: int, chunk: Chunk | None, reverse: bool) -> None:
    """Hand run `i` of `merger` its next chunk, or mark the run finished (None)."""
    if chunk is None:
        merger.set_run(i, *EMPTY_RUN, 0, 0, -1 if reverse else 0, True)
    else:
        start = chunk.hi - 1 if reverse else chunk.lo
        merger.set_run(
            i,
            chunk.buf,
            chunk.keys_at,
            chunk.offs_at,
            chunk.trailers_at,
            chunk.lo,
            chunk.hi,
            start,
            False,
        )


def _view(chunk: Chunk) -> tuple:
    """What merged_rows needs of a chunk (csrc/scanrows.h)."""
    return (
        chunk.buf,
        chunk.keys_at,
        chunk.offs_at,
        chunk.values_at,
        chunk.voffs_at,
        chunk.values,
    )


def iter_merged(
    sources: list[Iterator[Chunk]], seqno: int, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    """Yield (key, value) of the newest version at or below `seqno` of every key in the
    union of `sources`, skipping tombstones, in key order (descending if `reverse`).

    One source needs no merge: its chunks are group-aligned, so each is resolved on its
    own, and a plain chunk (no tombstones, one version per key, all visible at
    `seqno`) is cut into rows in one native call (block_rows)."""
    n = len(sources)
    if n == 0:
        return iter(())
    if n == 1:
        return itertools.chain.from_iterable(_single_source_rows(sources[0], seqno, reverse))
    return itertools.chain.from_iterable(_iter_runs(sources, seqno, reverse))


def _single_source_rows(
    chunks: Iterator[Chunk], seqno: int, reverse: bool
) -> Iterator[Iterable[tuple[bytes, bytes]]]:
    for chunk in chunks:
        is_plain, max_seqno = chunk.is_plain
        if is_plain and max_seqno <= seqno:
            yield block_rows(chunk.buf, chunk.lo, chunk.hi, reverse)
        else:
            yield from _iter_runs([iter((chunk,))], seqno, reverse)


def py_block_rows(raw: bytes, lo: int, hi: int, reverse: bool) -> list[tuple[bytes, bytes]]:
    """block_rows in Python alone (the twin of the native call): entries [lo, hi) of a
    data block as (key, value), descending when `reverse`."""
    block = Block(raw)
    order = range(hi - 1, lo - 1, -1) if reverse else range(lo, hi)
    ka, koffs, va, voffs = block.keys_at, block.koffs, block.values_at, block.voffs
    return [
        (raw[ka + koffs[i] : ka + koffs[i + 1]], raw[va + voffs[i] : va + voffs[i + 1]])
        for i in order
    ]


def _iter_runs(
    sources: list[Iterator[Chunk]], seqno: int, reverse: bool
) -> Iterator[list[tuple[bytes, bytes]]]:
    """The rows of merging `sources`, a merge step's worth (up to 128) at a time."""
    n = len(sources)
    merger = Merger(n, reverse=reverse, mode=MERGE_READ, snapshots=[seqno], out_cap=128)
    views: list[tuple | None] = [None] * n

    def load(i: int) -> None:
        chunk = next(sources[i], None)
        views[i] = None if chunk is None else _view(chunk)
        set_chunk(merger, i, chunk, reverse)

    for i in range(n):
        load(i)
    step = merger.step
    while True:
        status, runs, idxs, refill = step()
        if runs:
            yield merged_rows(views, runs, idxs)
        if status == MERGE_DONE:
            return
        if status == MERGE_NEED_REFILL:
            load(refill)


def py_merged_rows(
    views: list[tuple | None], runs: list[int], idxs: list[int]
) -> list[tuple[bytes, bytes]]:
    """merged_rows in Python alone (the twin of the native call)."""
    out = []
    for r, i in zip(runs, idxs):
        buf, keys_at, offs_at, values_at, voffs_at, values = views[r]  # type: ignore[misc]
        ka, kb = struct.unpack_from("<2I", buf, offs_at + 4 * i)
        key = buf[keys_at + ka : keys_at + kb]
        if values is not None:
            out.append((key, values[i]))
        else:
            va, vb = struct.unpack_from("<2I", buf, voffs_at + 4 * i)
            out.append((key, buf[values_at + va : values_at + vb]))
    return out
