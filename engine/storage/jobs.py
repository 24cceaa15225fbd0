"""Flush and compaction jobs: pure functions from input files to new SSTables.

They take only plain, picklable arguments and touch nothing but files, so they run the
same in a background thread or in a worker process (which keeps the interpreter lock
free for foreground work). The caller allocates file numbers, installs the returned
`FileMeta`s in the catalog and swaps in the new Version.

A flush re-reads the WAL segments of an immutable memtable generation instead of
receiving the memtable: the segments hold exactly the generation's writes, so nothing
needs to cross the process boundary but a list of paths.
"""

import os
from dataclasses import dataclass
from operator import itemgetter

from engine.codec import (
    MERGE_COMPACT,
    MERGE_DONE,
    MERGE_NEED_REFILL,
    Merger,
    make_run_buffer,
)
from engine.storage.chunks import Chunk, block_chunk, set_chunk
from engine.storage.format import make_sst_name
from engine.storage.fs import FileSystem
from engine.storage.sstable import FileMeta, SSTableReader, SSTableWriter
from engine.storage.wal import iter_segment_records


@dataclass(frozen=True)
class JobOptions:
    block_size_bytes: int
    bits_per_key: int
    target_file_size_bytes: int
    zstd_level: int = 1


@dataclass
class JobResult:
    outputs: list[tuple[int, FileMeta]]  # (keyspace id, meta)
    bytes_read: int
    bytes_written: int


def _writer(fs: FileSystem, dirpath: str, number: int, options: JobOptions) -> SSTableWriter:
    return SSTableWriter(
        fs,
        os.path.join(dirpath, make_sst_name(number)),
        number,
        block_size_bytes=options.block_size_bytes,
        bits_per_key=options.bits_per_key,
        zstd_level=options.zstd_level,
    )


def run_flush(
    dirpath: str,
    segment_paths: list[str],
    salvage: bool,
    keyspace_ids: list[int],
    numbers: list[int],
    snapshots: list[int],
    options: JobOptions,
    fs: FileSystem | None = None,
) -> JobResult:
    """Build one L0 SSTable per keyspace from the records of `segment_paths`.
    `numbers` supplies file numbers (at least one per keyspace with data).

    With no live snapshot only each key's newest version can ever be read, so the
    records are walked newest first keeping the first version of each key, and the
    sorted result goes to the writer in bulk; otherwise every version is sorted and the
    native merge keeps what each snapshot can see."""
    fs = fs or FileSystem()
    wanted = set(keyspace_ids)
    per_ks: dict[int, dict[bytes, tuple[int, bytes]]] = {}
    versions: dict[int, list] = {}
    ts_range: dict[int, list[int]] = {}
    bytes_read = 0
    records = []
    for path in segment_paths:
        bytes_read += os.path.getsize(path)
        records.extend(iter_segment_records(path, salvage))
    newest_only = not snapshots
    for record in reversed(records):
        seqno = record.seqno
        ts = record.commit_ts_us
        for kind, ksid, key, value in record.ops:
            if ksid not in wanted:
                continue
            latest = per_ks.get(ksid)
            if latest is None:
                latest = per_ks[ksid] = {}
                versions[ksid] = []
                ts_range[ksid] = [ts, ts]
            elif ts < ts_range[ksid][0]:
                ts_range[ksid][0] = ts
            if newest_only:
                if key not in latest:
                    latest[key] = ((seqno << 8) | kind, value if kind else b"")
            else:
                versions[ksid].append((key, (seqno << 8) | kind, value if kind else b""))
    outputs = []
    written = 0
    numbers_iter = iter(numbers)
    for ksid in sorted(per_ks):
        writer = _writer(fs, dirpath, next(numbers_iter), options)
        try:
            if newest_only:
                latest = per_ks[ksid]
                keys = sorted(latest)
                pairs = [latest[k] for k in keys]
                writer.add_unique_sorted(keys, [p[0] for p in pairs], [p[1] for p in pairs])
            else:
                _merge_versions_into(writer, versions[ksid], snapshots)
            meta = writer.finish(0, *ts_range[ksid])
        except BaseException:
            writer.abort()
            raise
        written += meta.file_size
        outputs.append((ksid, meta))
    return JobResult(outputs, bytes_read, written)


def _merge_versions_into(writer: SSTableWriter, entries: list, snapshots: list[int]) -> None:
    """Sort (key, trailer, value) versions, newest first per key as they arrive, and add
    the ones some snapshot can see."""
    entries.sort(key=itemgetter(0))  # stable: versions of a key stay newest first
    buf, keys_at, offs_at, trailers_at = make_run_buffer([(k, t) for k, t, _ in entries])
    merger = Merger(1, reverse=False, mode=MERGE_COMPACT, snapshots=snapshots, out_cap=4096)
    merger.set_run(0, buf, keys_at, offs_at, trailers_at, 0, len(entries), 0, True)
    add = writer.add
    while True:
        status, _runs, idxs, _ = merger.step()
        for i in idxs:
            key, trailer, value = entries[i]
            add(key, trailer, value if trailer & 0xFF else None)
        if status == MERGE_DONE:
            return


class _RunCursor:
    """Walks the blocks of key-ordered files as merge chunks."""

    def __init__(self, readers: list[SSTableReader]) -> None:
        self._blocks = ((r, b) for r in readers for b in range(r.block_count))

    def next_chunk(self) -> Chunk | None:
        nxt = next(self._blocks, None)
        if nxt is None:
            return None
        reader, b = nxt
        block = reader.block(b)
        return block_chunk(block, 0, block.count)


def run_compaction(
    dirpath: str,
    ksid: int,
    runs: list[list[int]],
    output_level: int,
    numbers: list[int],
    snapshots: list[int],
    drop_tombstones: bool,
    options: JobOptions,
    fs: FileSystem | None = None,
) -> JobResult:
    """Merge the files of `runs` (each a key-ordered list of file numbers) into new
    files at `output_level`, cut near `target_file_size_bytes` at key boundaries."""
    fs = fs or FileSystem()
    readers_by_run = [
        [SSTableReader(os.path.join(dirpath, make_sst_name(n)), n, None) for n in run]
        for run in runs
    ]
    try:
        return _compact(
            fs,
            dirpath,
            ksid,
            readers_by_run,
            output_level,
            numbers,
            snapshots,
            drop_tombstones,
            options,
        )
    finally:
        for readers in readers_by_run:
            for reader in readers:
                reader.close()


def _compact(
    fs, dirpath, ksid, readers_by_run, output_level, numbers, snapshots, drop_tombstones, options
) -> JobResult:
    all_readers = [r for rs in readers_by_run for r in rs]
    bytes_read = sum(r.file_size for r in all_readers)
    min_ts = min((r.min_commit_ts_us for r in all_readers), default=0)
    max_ts = max((r.max_commit_ts_us for r in all_readers), default=0)
    n = len(readers_by_run)
    cursors = [_RunCursor(rs) for rs in readers_by_run]
    merger = Merger(
        n,
        reverse=False,
        mode=MERGE_COMPACT,
        snapshots=sorted(snapshots),
        drop_tombstones=drop_tombstones,
        out_cap=max(4096, len(snapshots) + 1),
    )
    chunks: list[Chunk | None] = [None] * n

    def load(i: int) -> None:
        chunk = cursors[i].next_chunk()
        chunks[i] = chunk
        set_chunk(merger, i, chunk, False)

    for i in range(n):
        load(i)
    numbers_iter = iter(numbers)
    outputs: list[tuple[int, FileMeta]] = []
    writer: SSTableWriter | None = None
    target = options.target_file_size_bytes
    last_key = None
    try:
        while True:
            status, runs, idxs, refill = merger.step()
            for r, i in zip(runs, idxs):
                chunk = chunks[r]
                koffs = chunk.koffs
                buf = chunk.buf
                ka = chunk.keys_at
                key = buf[ka + koffs[i] : ka + koffs[i + 1]]
                if writer is None:
                    writer = _writer(fs, dirpath, next(numbers_iter), options)
                elif key != last_key and writer.estimated_size_bytes >= target:
                    outputs.append((ksid, writer.finish(output_level, min_ts, max_ts)))
                    writer = _writer(fs, dirpath, next(numbers_iter), options)
                trailer = chunk.trailers[i]
                writer.add(key, trailer, chunk.value(i) if trailer & 0xFF else None)
                last_key = key
            if status == MERGE_DONE:
                break
            if status == MERGE_NEED_REFILL:
                load(refill)
        if writer is not None:
            outputs.append((ksid, writer.finish(output_level, min_ts, max_ts)))
            writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        for _, meta in outputs:
            try:
                os.unlink(os.path.join(dirpath, make_sst_name(meta.number)))
            except OSError:
                pass
        raise
    written = sum(meta.file_size for _, meta in outputs)
    return JobResult(outputs, bytes_read, written)
