"""Store: a directory holding named keyspaces of sorted byte strings, as an LSM tree.

Writes. `write(batch)` commits a WriteBatch atomically under the next seqno and a
commit timestamp in microseconds that never goes backwards. Writers queue; the one at
the head becomes the leader, takes every queued batch, and commits them all with one
WAL write and (in `sync` durability) one fdatasync, then applies them to the active
memtables and publishes the last seqno. Readers see a batch whole or not at all because
they filter by the published seqno.

Durability: `sync` acknowledges after fdatasync; `group` once the record is in the page
cache (copied into a shared map of the WAL segment), with a syncer thread fdatasyncing at
most every `group_commit_ms`; `off` never fsyncs the WAL. In `group` and `off` a process
crash loses nothing; a power loss may lose what was not yet synced. SSTables and the
catalog are always fsynced before they are relied upon.

Memtables. All keyspaces' memtables form one generation backed by its own WAL
segments. When the active generation passes `memtable_bytes` it becomes immutable and a
new segment starts; the flusher thread turns it into one L0 SSTable per keyspace,
installs them and drops the segments in one catalog transaction. Writers stall only when
`max_immutable_memtables` wait for flushing or L0 reaches `l0_stop_writes_files`; the
time is counted in `stats()["stall_us"]`.

Compaction. A compactor thread picks, per keyspace, the level with the highest score
(L0: files / `l0_compaction_trigger`; Ln: bytes / target, targets growing by
`level_size_ratio` from `level_base_bytes`) and merges it into the next level with the
native merge, keeping every version some live snapshot can see and dropping tombstones
when no deeper level overlaps. Flush and compaction jobs run in threads or, with
`background="process"`, in a worker process (see jobs.py).

Failure. A failed background job is recorded; from then on writes raise
BackgroundError (with the cause) until `resume()` succeeds. A failed WAL write or sync
raises to the writers of that group, whose batches are not applied, and the WAL is cut
back to its last acknowledged record.

Thread-safety: every public method may be called from any thread.
"""

import bisect
import dataclasses
import errno
import fcntl
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from time import time_ns as _time_ns

import lmdb

from engine.storage.batch import WriteBatch, encode_ops
from engine.storage.batch import encode_batch as _encode_batch
from engine.storage.catalog import Catalog, CatalogEdit
from engine.storage.chunks import iter_file_chunks, iter_memtable_chunks, iter_merged
from engine.storage.errors import (
    BackgroundError,
    KeyspaceError,
    StorageError,
    StoreClosedError,
    StoreLockedError,
)
from engine.storage.format import (
    CATALOG_DIR,
    KIND_TOMBSTONE,
    KIND_VALUE,
    LOCK_NAME,
    OP_HEADER,
    SST_SUFFIX,
    TMP_SUFFIX,
    U64,
    VALUE_LEN,
    WAL_SUFFIX,
    make_sst_name,
    make_wal_name,
    parse_file_name,
)
from engine.storage.fs import FileSystem
from engine.storage.jobs import JobOptions, JobResult
from engine.storage.memtable import MemtableGeneration
from engine.storage.sstable import BlockCache, FileMeta, SSTableReader
from engine.storage.version import NUM_LEVELS, KeyspaceLevels, Version
from engine.storage.wal import (
    PREALLOC_BYTES,
    WALWriter,
    encode_put_record,
    encode_record,
    read_segment,
)
from engine.storage.worker import JOBS, WorkerProcess

log = logging.getLogger(__name__)

_pack_op = OP_HEADER.pack
_pack_u64 = U64.pack
_unpack_u64 = U64.unpack_from
_pack_len = VALUE_LEN.pack
_encode_put_record = encode_put_record
GATHER_US = 100  # longest a sync-mode leader waits for its group to refill
DURABILITY_MODES = ("sync", "group", "off")


@dataclass(frozen=True)
class StoreOptions:
    """Tuning knobs; the defaults suit a server on a small machine."""

    durability: str = "sync"
    group_commit_ms: float = 5.0
    memtable_bytes: int = 64 << 20
    max_immutable_memtables: int = 2
    block_cache_bytes: int = 256 << 20
    block_size_bytes: int = 16 << 10
    bits_per_key: int = 10
    l0_compaction_trigger: int = 4
    l0_stop_writes_files: int = 12
    level_base_bytes: int = 64 << 20
    level_size_ratio: int = 10
    target_file_size_bytes: int = 32 << 20
    background: str = "auto"  # "process" on multi-core machines, else "thread"
    salvage: bool = False
    max_group_bytes: int = 4 << 20


@dataclass
class RecoveryReport:
    """What opening found in the WAL."""

    segments: list[str] = field(default_factory=list)
    records: int = 0
    torn_tails: list[tuple[str, int, int]] = field(default_factory=list)  # path, at, bytes
    dropped: list[tuple[str, int, int, str]] = field(default_factory=list)  # salvage mode


class Snapshot:
    """A consistent read view pinned at a seqno; compaction keeps what it can see.
    Release it (or use it as a context manager) when done."""

    __slots__ = ("_store", "seqno")

    def __init__(self, store: "Store", seqno: int) -> None:
        self._store = store
        self.seqno = seqno

    def release(self) -> None:
        if self._store is not None:
            self._store._release_snapshot(self.seqno)
            self._store = None

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Writer:
    """One writer's place in the commit queue: one batch (``ops`` and its WAL ``body``),
    or several (``parts``: (ops, body) per batch, each its own seqno and WAL record;
    ``ops`` and ``body`` then unused). ``seqno`` is the (last) batch's; ``size`` the WAL
    bytes of its bodies."""

    __slots__ = (
        "body",
        "count",
        "done",
        "error",
        "ops",
        "parts",
        "seqno",
        "size",
        "user_bytes",
        "wakeup",
    )

    def __init__(self, ops: list, body: bytes, user_bytes: int, parts: list | None = None) -> None:
        self.ops = ops
        self.body = body
        self.count = len(ops)
        self.parts = parts
        self.size = len(body) if parts is None else sum(len(b) for _, b in parts)
        self.user_bytes = user_bytes
        self.done = False
        self.error: BaseException | None = None
        self.seqno = 0
        self.wakeup: threading.Lock | None = None


class Store:
    """An open store. Create with `Store.open(path, ...)`; close with `close()`."""

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str, *, fs: FileSystem | None = None, **options: object) -> "Store":
        """Open (creating if needed) the store in directory `path`.

        Options are the fields of StoreOptions. Raises StoreLockedError when another
        process has it open, CorruptionError when the WAL or catalog is damaged (unless
        salvage=True), FormatVersionError for files newer than this build.
        """
        opts = StoreOptions(**options)  # type: ignore[arg-type]
        if opts.durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {DURABILITY_MODES}")
        if opts.background not in ("auto", "thread", "process"):
            raise ValueError("background must be 'auto', 'thread' or 'process'")
        if opts.background == "auto":
            # Measured (1M random puts, 2 cores): jobs in a worker process leave the
            # interpreter lock to the writers, 167k puts/s against 50k/s in a thread.
            # A custom FileSystem (fault injection) only exists in this process.
            multi_core = (os.cpu_count() or 1) > 1
            background = "process" if multi_core and fs is None else "thread"
            opts = dataclasses.replace(opts, background=background)
        return cls(path, opts, fs or FileSystem())

    def __init__(self, path: str, options: StoreOptions, fs: FileSystem) -> None:
        self.path = os.path.abspath(path)
        self.options = options
        self.fs = fs
        os.makedirs(self.path, exist_ok=True)
        self._lock_fd = self._acquire_lock()
        self._closed = False
        self._catalog: Catalog | None = None
        try:
            self._open()
        except BaseException:
            if self._catalog is not None:
                self._catalog.close()
            os.close(self._lock_fd)
            raise

    def _acquire_lock(self) -> int:
        lock_path = os.path.join(self.path, LOCK_NAME)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StoreLockedError(
                    f"{self.path} is open in another process (pid {holder} holds its LOCK"
                    " file); close that store first"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _open(self) -> None:
        opts = self.options
        self._catalog = Catalog(os.path.join(self.path, CATALOG_DIR))
        state = self._catalog.load()
        self._stats_persisted = Counter(state.stats)
        self._ksids: dict[str, int] = dict(state.keyspaces)
        live_ids = set(self._ksids.values())
        files = {ksid: metas for ksid, metas in state.files.items() if ksid in live_ids}
        referenced = {m.number for metas in files.values() for m in metas}
        segments = sorted(state.segments)
        numbers = referenced | set(segments)
        self._next_file_number = max(
            [state.meta.get("next_file_number", 1), *(n + 1 for n in numbers)]
        )
        self._next_keyspace_id = state.meta.get("next_keyspace_id", 1)
        self._remove_unreferenced(referenced, set(segments))
        self.block_cache = BlockCache(opts.block_cache_bytes)
        readers = {
            m.number: SSTableReader(self._sst_path(m.number), m.number, self.block_cache)
            for metas in files.values()
            for m in metas
        }
        self._version = Version(
            {ksid: KeyspaceLevels.build(metas) for ksid, metas in files.items()}, readers
        )
        self._last_seq = state.meta.get("last_seqno", 0)
        self._last_ts = state.meta.get("last_commit_ts_us", 0)
        self._stats = Counter()
        self._mutex = threading.Lock()
        self._install_mutex = threading.RLock()
        self._cond = threading.Condition(self._mutex)
        self._writers: deque[_Writer] = deque()
        self._snapshots: Counter[int] = Counter()
        self._bg_error: BaseException | None = None
        self._write_blocked = False  # closed or failed: the slow check runs
        self._l0_stalled = False  # some keyspace's L0 reached l0_stop_writes_files
        self._fast_path = False  # put() may commit inline; see _update_fast_path
        self._memtable_bytes = opts.memtable_bytes
        self._sync_each_group = opts.durability == "sync"
        # Zeros ahead of the WAL make each fsync cheaper but double its writes: only
        # worth it when every commit syncs.
        self._wal_prealloc = PREALLOC_BYTES if self._sync_each_group else 0
        self._user_bytes_written = 0
        self._wal_bytes_written = 0
        self._batches_written = 0
        self._write_groups = 0
        self._last_group_size = 1
        self._gather_want = 0  # queue length a gathering leader waits for (0: none)
        self._immutables: list[MemtableGeneration] = []
        self.recovery_report = RecoveryReport()
        recovered = self._replay(segments)
        if not recovered.is_empty:
            self._last_seq = max(self._last_seq, recovered.max_seqno)
            self._last_ts = max(self._last_ts, recovered.max_commit_ts_us)
            self._immutables.append(recovered)
        elif segments:
            self._catalog.apply(CatalogEdit(remove_segments=segments))
            for number in segments:
                self._unlink(self._wal_path(number))
        self._visible_seq = self._last_seq
        self._update_fast_path()
        number = self._allocate_numbers(1)[0]
        self._wal = self._new_wal(number)
        self._catalog.apply(
            CatalogEdit(add_segments=[number], meta={"next_file_number": self._next_file_number})
        )
        self.fs.fsync_dir(self.path)
        self._active = MemtableGeneration([number])
        self._mems: tuple[MemtableGeneration, ...] = (self._active, *reversed(self._immutables))
        self._job_options = JobOptions(
            opts.block_size_bytes, opts.bits_per_key, opts.target_file_size_bytes
        )
        self._workers: dict[int, WorkerProcess] = {}
        self._compact_pointer: dict[tuple[int, int], bytes] = {}
        self._compact_requests: deque[tuple[threading.Event, list]] = deque()
        self._bg_wakeup = threading.Condition(threading.Lock())
        self._threads = [
            threading.Thread(target=self._flusher, name="shale-flush", daemon=True),
            threading.Thread(target=self._compactor, name="shale-compact", daemon=True),
        ]
        if opts.durability == "group":
            self._threads.append(
                threading.Thread(target=self._syncer, name="shale-sync", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def _remove_unreferenced(self, ssts: set[int], segments: set[int]) -> None:
        for name in os.listdir(self.path):
            parsed = parse_file_name(name)
            doomed = name.endswith(TMP_SUFFIX)
            if parsed is not None:
                number, suffix = parsed
                doomed = (suffix == SST_SUFFIX and number not in ssts) or (
                    suffix == WAL_SUFFIX and number not in segments
                )
            if doomed:
                log.info("removing unreferenced file %s", name)
                self._unlink(os.path.join(self.path, name))

    def _replay(self, segments: list[int]) -> MemtableGeneration:
        generation = MemtableGeneration(list(segments))
        report = self.recovery_report
        live_ids = set(self._ksids.values())
        for i, number in enumerate(segments):
            path = self._wal_path(number)
            is_last = i == len(segments) - 1
            scan = read_segment(path, is_last=is_last, salvage=self.options.salvage)
            report.segments.append(path)
            for record in scan.records:
                if record.seqno <= self._last_seq:
                    continue  # already in an SSTable
                ops = [op for op in record.ops if op[1] in live_ids]
                generation.apply(record.seqno, record.commit_ts_us, ops)
                report.records += 1
            for offset, length, why in scan.dropped:
                report.dropped.append((path, offset, length, why))
            if scan.torn_at is not None:
                size = os.path.getsize(path)
                log.warning(
                    "WAL %s: torn tail of %d bytes at offset %d truncated (an unacknowledged"
                    " write cut short by a crash)",
                    path,
                    size - scan.valid_end,
                    scan.valid_end,
                )
                report.torn_tails.append((path, scan.valid_end, size - scan.valid_end))
                fd = self.fs.open(path, os.O_WRONLY)
                try:
                    self.fs.ftruncate(fd, scan.valid_end)
                    self.fs.fsync(fd)
                finally:
                    self.fs.close(fd)
        if report.dropped:
            log.warning(
                "salvage: recovered %d records, dropped %d damaged ranges: %s",
                report.records,
                len(report.dropped),
                report.dropped,
            )
        return generation

    # ----------------------------------------------------------------- helpers

    def _sst_path(self, number: int) -> str:
        return os.path.join(self.path, make_sst_name(number))

    def _wal_path(self, number: int) -> str:
        return os.path.join(self.path, make_wal_name(number))

    def _unlink(self, path: str) -> None:
        try:
            self.fs.unlink(path)
        except FileNotFoundError:
            pass

    def _allocate_numbers(self, count: int, *, persist: bool = False) -> list[int]:
        """Take `count` file numbers. Mutex held. With `persist`, the new counter is in
        the catalog before any file is named: a job that outlives a crash of this
        process (a worker finishing its file) can never share a number with the
        reopened store."""
        first = self._next_file_number
        if persist:
            self._catalog.apply(CatalogEdit(meta={"next_file_number": first + count}))
        self._next_file_number += count
        return list(range(first, first + count))

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"store {self.path} is closed")

    def _ksid(self, keyspace: str) -> int:
        ksid = self._ksids.get(keyspace)
        if ksid is None:
            self._check_open()
            raise KeyspaceError(f"keyspace {keyspace!r} does not exist")
        return ksid

    # ------------------------------------------------- catalog for the layers above

    def catalog_get(self, key: bytes) -> bytes | None:
        """A value the layers above stored durably in the catalog (table definitions,
        backups, ...), or None."""
        self._check_open()
        return self._catalog.user_get(key)

    def catalog_items(self, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        """Every (key, value) of the catalog's user space whose key starts with prefix."""
        self._check_open()
        return self._catalog.user_items(prefix)

    def catalog_put(
        self,
        puts: dict[bytes, bytes | None],
        *,
        create_keyspaces: tuple[str, ...] = (),
    ) -> None:
        """Durably set (value) or delete (None) catalog entries in one transaction,
        creating `create_keyspaces` in the same transaction (a table and its
        definition appear together or not at all). Raises KeyspaceError if one of them
        exists."""
        with self._mutex:
            self._check_open()
            added = {}
            for name in create_keyspaces:
                if name in self._ksids or name in added:
                    raise KeyspaceError(f"keyspace {name!r} already exists")
                added[name] = self._next_keyspace_id + len(added)
            meta = {"next_keyspace_id": self._next_keyspace_id + len(added)} if added else {}
            self._catalog.apply(CatalogEdit(add_keyspaces=added, meta=meta, user_puts=puts))
            self._next_keyspace_id += len(added)
            self._ksids.update(added)

    # --------------------------------------------------------------- keyspaces

    def create_keyspace(self, name: str) -> None:
        """Create an empty keyspace. Raises KeyspaceError if it exists."""
        if not isinstance(name, str) or not name:
            raise ValueError("a keyspace name is a non-empty string")
        with self._mutex:
            self._check_open()
            if name in self._ksids:
                raise KeyspaceError(f"keyspace {name!r} already exists")
            ksid = self._next_keyspace_id
            self._catalog.apply(
                CatalogEdit(add_keyspaces={name: ksid}, meta={"next_keyspace_id": ksid + 1})
            )
            self._next_keyspace_id = ksid + 1
            self._ksids[name] = ksid

    def drop_keyspace(self, name: str) -> None:
        """Remove a keyspace and all its data. Raises KeyspaceError if missing."""
        # Lock order: install lock, then mutex (flush and compaction installs take
        # the mutex inside the install lock).
        with self._install_lock(), self._mutex:
            ksid = self._ksid(name)
            metas = self._version.levels(ksid).all_files()
            self._catalog.apply(
                CatalogEdit(drop_keyspaces=[name], remove_files=[(ksid, m.number) for m in metas])
            )
            del self._ksids[name]
            self._version = self._version.apply(
                [], [(ksid, m.number) for m in metas], {}, drop_keyspaces=(ksid,)
            )
        for meta in metas:
            self.block_cache.evict_file(meta.number)
            self._unlink(self._sst_path(meta.number))

    def list_keyspaces(self) -> list[str]:
        return sorted(self._ksids)

    def has_keyspace(self, name: str) -> bool:
        return name in self._ksids

    # ------------------------------------------------------------------ writes

    def put(self, keyspace: str, key: bytes, value: bytes) -> int:
        """Set one key; returns the commit seqno. Same durability and errors as `write`."""
        ksid = self._ksids.get(keyspace)
        if ksid is None:
            ksid = self._ksid(keyspace)
        if type(key) is not bytes or type(value) is not bytes:
            raise TypeError("key and value must be bytes")
        klen = len(key)
        vlen = len(value)
        op = (KIND_VALUE, ksid, key, value)
        if self._fast_path and (seq := self._commit_inline((op,), None, klen + vlen)):
            return seq
        body = _pack_op(KIND_VALUE, ksid, klen) + key + _pack_len(vlen) + value
        return self._commit(_Writer((op,), body, klen + vlen))

    def delete(self, keyspace: str, key: bytes) -> int:
        """Delete one key (writes a tombstone); returns the commit seqno."""
        ksid = self._ksid(keyspace)
        if type(key) is not bytes:
            raise TypeError("key must be bytes")
        w = _Writer([(KIND_TOMBSTONE, ksid, key, None)], encode_ops([(ksid, key, None)]), len(key))
        return self._commit(w)

    def write(self, batch: WriteBatch) -> int:
        """Commit `batch` atomically; returns its seqno (the current seqno if empty).

        Raises KeyspaceError for an unknown keyspace (nothing is written),
        BackgroundError after a failed background job, OSError when the WAL write or
        sync fails (the batch is then not applied).
        """
        encoded = _encode_batch(batch.ops, self._ksids)
        if encoded is None:  # a keyspace that does not exist
            for keyspace, _ in batch.ops:
                self._ksid(keyspace)  # raises KeyspaceError
        ops, body, user_bytes = encoded
        if not ops:
            return self._visible_seq
        if self._fast_path and (seq := self._commit_inline(ops, body, user_bytes)):
            return seq
        return self._commit(_Writer(ops, body, user_bytes))

    def write_many(self, batches: list[WriteBatch]) -> list[int]:
        """Commit each of `batches` atomically and in order, each as its own batch (its
        own seqno and WAL record), all of them together: one WAL write and, in `sync`
        durability, one fsync for the lot, as group commit gives concurrent writers.
        Returns their seqnos (an empty batch's is the one before it).

        Raises as `write` does; then none of them is applied (an unknown keyspace is
        found before anything is written).
        """
        ksids = self._ksids
        parts = []
        user_bytes = 0
        for batch in batches:
            encoded = _encode_batch(batch.ops, ksids)
            if encoded is None:
                for keyspace, _ in batch.ops:
                    self._ksid(keyspace)  # raises KeyspaceError
            ops, body, nbytes = encoded
            if ops:
                parts.append((ops, body))
                user_bytes += nbytes
        if not parts:
            return [self._visible_seq] * len(batches)
        last = self._commit(_Writer([], b"", user_bytes, parts))
        seq = last - len(parts)
        seqnos = []
        for batch in batches:
            if batch.ops:
                seq += 1
            seqnos.append(seq)
        return seqnos

    def _commit_inline(self, ops, body: bytes | None, user_bytes: int) -> int:
        """The uncontended, non-fsync commit (the caller saw `_fast_path`), inlined:
        _write_group's steps for a group of one, under the mutex. ``body`` None means one
        put, framed by one native call. Returns the seqno, or 0 when a writer is queued or
        the memtable is full (the caller then takes the queue)."""
        with self._mutex:
            generation = self._active
            if self._writers or generation.size_bytes >= self._memtable_bytes:
                return 0
            seq = self._last_seq + 1
            now = _time_ns() // 1000
            ts = now if now > self._last_ts else self._last_ts
            if body is None:
                _, ksid, key, value = ops[0]
                data = _encode_put_record(seq, ts, ksid, key, value)
            else:
                data = encode_record(seq, ts, len(ops), body)
            self._wal.append(data)
            generation.apply(seq, ts, ops)
            self._last_seq = self._visible_seq = seq
            self._last_ts = ts
            self._user_bytes_written += user_bytes
            self._wal_bytes_written += len(data)
            self._batches_written += 1
            self._write_groups += 1
            return seq

    def _check_writable(self) -> None:
        self._check_open()
        if self._bg_error is not None:
            raise BackgroundError(
                f"store {self.path} refuses writes after a background failure: "
                f"{self._bg_error!r}; call resume() once the cause is fixed"
            ) from self._bg_error

    def _commit(self, w: _Writer) -> int:
        """Queue `w`; the writer at the head of the queue leads. Followers sleep on
        their own lock, released by the leader either when their batch is done or when
        they become the new head (then they lead), so a group's end wakes only the
        threads that have something to do."""
        writers = self._writers
        mutex = self._mutex
        with mutex:
            if self._write_blocked:
                self._check_writable()
            writers.append(w)
            if len(writers) > 1:
                w.wakeup = wakeup = threading.Lock()
                wakeup.acquire()
                if self._gather_want and len(writers) >= self._gather_want:
                    self._cond.notify_all()  # the gathering leader's group is full
            else:
                wakeup = None
        if wakeup is not None:
            wakeup.acquire()
            if w.done:
                if w.error is not None:
                    raise w.error
                return w.seqno
        with mutex:
            try:
                if self._active.size_bytes >= self._memtable_bytes or self._l0_stalled:
                    self._make_room()
                # Decided after _make_room, which may wait: a writer queued meanwhile
                # needs this one to lead (and wake it), not to commit inline.
                inline = not self._sync_each_group and len(writers) == 1
                if inline:
                    # Uncontended and no fsync to wait for: commit under the mutex
                    # (later writers block on it briefly instead of queueing).
                    self._write_group((w,))
            except BaseException:
                writers.popleft()
                self._wake_head()
                raise
            if inline:
                writers.popleft()
                return w.seqno
            if len(writers) < self._last_group_size:
                self._gather(w)
            group = []
            size = 0
            for other in writers:
                group.append(other)
                size += other.size
                if size >= self.options.max_group_bytes:
                    break
        error: BaseException | None = None
        try:
            self._write_group(group)
        except BaseException as exc:
            error = exc
        with mutex:
            for other in group:
                writers.popleft()
                other.done = True
                other.error = error
                if other is not w:
                    other.wakeup.release()
            self._wake_head()
        if error is not None:
            raise error
        return w.seqno

    def _gather(self, leader: _Writer) -> None:
        """Mutex held by a leader facing a shorter queue than the last group had: give
        the last group's writers, just acknowledged, a moment to queue their next
        batches so one fsync covers them too. Without it, a group of 8 is followed by
        a group of 1 (the previous leader, back first) and half the fsyncs carry one
        write. Bounded by GATHER_US; nothing waits when writers are scarce."""
        want = self._last_group_size
        deadline = time.perf_counter() + GATHER_US / 1e6
        writers = self._writers
        self._gather_want = want
        try:
            # Sleep (releasing the mutex and the interpreter lock, which the writers
            # need) until a writer that fills the queue wakes us, or the deadline.
            while len(writers) < want:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        finally:
            self._gather_want = 0

    def _wake_head(self) -> None:
        """Let the writer now at the head of the queue lead. Mutex held."""
        if self._writers:
            self._writers[0].wakeup.release()
        self._cond.notify_all()

    def _write_group(self, group: list[_Writer]) -> None:
        """The leader's work, outside the mutex: one WAL write, one sync, apply."""
        seq = self._last_seq
        now = _time_ns() // 1000
        ts = now if now > self._last_ts else self._last_ts
        batches = len(group)
        if batches == 1 and group[0].parts is None:
            w = group[0]
            seq += 1
            w.seqno = seq
            data = encode_record(seq, ts, w.count, w.body)
        else:
            records = []
            for w in group:
                if w.parts is None:
                    seq += 1
                    records.append(encode_record(seq, ts, w.count, w.body))
                else:
                    batches += len(w.parts) - 1
                    for ops, body in w.parts:
                        seq += 1
                        records.append(encode_record(seq, ts, len(ops), body))
                w.seqno = seq
            data = b"".join(records)
        wal = self._wal
        start = wal.offset
        wal.append(data)
        if self._sync_each_group:
            try:
                wal.sync()
            except OSError:
                wal.roll_back(start)
                raise
        generation = self._active
        user_bytes = 0
        for w in group:
            if w.parts is None:
                generation.apply(w.seqno, ts, w.ops)
            else:
                part_seq = w.seqno - len(w.parts)
                for ops, _ in w.parts:
                    part_seq += 1
                    generation.apply(part_seq, ts, ops)
            user_bytes += w.user_bytes
        self._last_seq = seq
        self._last_ts = ts
        self._visible_seq = seq
        self._user_bytes_written += user_bytes
        self._wal_bytes_written += len(data)
        self._batches_written += batches
        self._write_groups += 1
        self._last_group_size = len(group)

    def _make_room(self) -> None:
        """Called by the leader with the mutex held: rotate a full memtable, and stall
        while flushing or L0 compaction falls behind."""
        opts = self.options
        stall_start = None
        try:
            while True:
                self._check_writable()
                if self._active.size_bytes >= opts.memtable_bytes:
                    if len(self._immutables) < opts.max_immutable_memtables:
                        self._rotate()
                        continue
                elif not self._l0_too_big():
                    return
                if stall_start is None:
                    stall_start = time.monotonic()
                    self._stats["stalls"] += 1
                self._cond.wait(0.05)
        finally:
            if stall_start is not None:
                self._stats["stall_us"] += int((time.monotonic() - stall_start) * 1e6)

    def _l0_too_big(self) -> bool:
        limit = self.options.l0_stop_writes_files
        return any(len(lv.levels[0]) >= limit for lv in self._version.keyspaces.values())

    def _set_version(self, version: Version) -> None:
        """Swap in a new Version (install lock held) and refresh the L0 stall flag."""
        self._version = version
        self._l0_stalled = self._l0_too_big()
        self._update_fast_path()

    def _update_fast_path(self) -> None:
        """put() commits inline only when nothing needs the general path: no fsync per
        commit, no failure or close recorded, no L0 stall."""
        self._fast_path = not (self._sync_each_group or self._write_blocked or self._l0_stalled)

    def _new_wal(self, number: int) -> WALWriter:
        """A writer for the new segment `number`: preallocated zeros when every commit
        syncs, a memory map otherwise (see WALWriter)."""
        return WALWriter(
            self.fs,
            self._wal_path(number),
            number,
            create=True,
            prealloc_bytes=self._wal_prealloc,
            mapped=self.options.durability != "sync",
        )

    def _rotate(self) -> None:
        """Make the active generation immutable and start a new WAL segment. Mutex held."""
        number = self._allocate_numbers(1)[0]
        wal = self._new_wal(number)
        try:
            # The directory entry is durable before the catalog names the segment, so
            # a failure here leaves no catalog entry for a file that is then removed.
            self.fs.fsync_dir(self.path)
            self._catalog.apply(
                CatalogEdit(
                    add_segments=[number], meta={"next_file_number": self._next_file_number}
                )
            )
        except BaseException:
            wal.close()
            self._unlink(wal.path)
            raise
        old_wal, self._wal = self._wal, wal
        old_wal.finish()
        if self.options.durability != "off":
            try:
                old_wal.sync()
            except OSError:
                log.exception("sync of WAL %s at rotation failed", old_wal.path)
        old_wal.close()
        self._immutables.append(self._active)
        self._active = MemtableGeneration([number])
        self._mems = (self._active, *reversed(self._immutables))
        self._wake_background()

    # ------------------------------------------------------------------- reads

    def get(self, keyspace: str, key: bytes, snapshot: Snapshot | None = None) -> bytes | None:
        """The value of `key`, or None. Reads at `snapshot` if given, else the latest."""
        ksid = self._ksids.get(keyspace)
        if ksid is None:
            ksid = self._ksid(keyspace)
        seq = self._visible_seq if snapshot is None else snapshot.seqno
        for generation in self._mems:
            table = generation.tables.get(ksid)
            if table is not None:
                newest = table.data.get(key)
                if newest is not None:
                    trailer = _unpack_u64(newest)[0]
                    if trailer >> 8 <= seq:
                        return newest[8:] if trailer & 0xFF else None
                    found, value = table.get(key, seq)
                    if found:
                        return value
        l0, deeper = self._version.read_paths(ksid)
        for smallest, largest, reader in l0:
            if smallest <= key <= largest:
                found, value = reader.get(key, seq)
                if found:
                    return value
        for largest_keys, smallest_keys, readers in deeper:
            i = bisect.bisect_left(largest_keys, key)
            if i < len(readers) and smallest_keys[i] <= key:
                found, value = readers[i].get(key, seq)
                if found:
                    return value
        return None

    def scan(
        self,
        keyspace: str,
        start: bytes | None = None,
        end: bytes | None = None,
        *,
        reverse: bool = False,
        snapshot: Snapshot | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Iterate (key, value) with start <= key < end, ascending (or descending with
        `reverse`). The view is fixed when scan() is called (or at `snapshot`)."""
        ksid = self._ksid(keyspace)
        if start is not None and end is not None and start >= end:
            return iter(())  # an empty range (the file chunkers assume start < end)
        seq = self._visible_seq if snapshot is None else snapshot.seqno
        mems = self._mems
        version = self._version
        sources = []
        tables = []
        for generation in mems:
            table = generation.tables.get(ksid)
            if table is not None and table.data:
                tables.append(table)
                sources.append(iter_memtable_chunks(table, start, end, reverse, seq))
        levels = version.keyspaces.get(ksid)
        if len(tables) == 1 and (levels is None or not levels.all_files()):
            # Only one memtable holds this keyspace: resolve its versions directly.
            return tables[0].iter_visible(start, end, reverse, seq)
        if levels is not None:
            readers = version.readers
            for meta in levels.levels[0]:
                if (start is None or meta.largest >= start) and (
                    end is None or meta.smallest < end
                ):
                    sources.append(iter_file_chunks([readers[meta.number]], start, end, reverse))
            for level in range(1, NUM_LEVELS):
                files = levels.levels[level]
                if files:
                    sources.append(
                        iter_file_chunks([readers[m.number] for m in files], start, end, reverse)
                    )
        return iter_merged(sources, seq, reverse)

    def snapshot(self) -> Snapshot:
        """Pin the current seqno: reads at this snapshot never see later writes."""
        with self._mutex:
            self._check_open()
            seq = self._visible_seq
            self._snapshots[seq] += 1
        return Snapshot(self, seq)

    def _release_snapshot(self, seqno: int) -> None:
        with self._mutex:
            self._snapshots[seqno] -= 1
            if self._snapshots[seqno] <= 0:
                del self._snapshots[seqno]

    def _live_snapshots(self) -> list[int]:
        with self._mutex:
            return sorted(self._snapshots)

    @property
    def last_seqno(self) -> int:
        """The seqno of the last committed, visible batch."""
        return self._visible_seq

    # -------------------------------------------------------- background work

    def _install_lock(self) -> threading.RLock:
        """Serialises Version changes (flush, compaction, drop, checkpoint)."""
        return self._install_mutex

    def _wake_background(self) -> None:
        with self._bg_wakeup:
            self._bg_wakeup.notify_all()

    def _run_job(self, job: str, *args) -> JobResult:
        """Run a flush or compaction job in this thread, or in this thread's worker
        process when background="process"."""
        if self.options.background == "process":
            worker = self._workers.get(threading.get_ident())
            if worker is None:
                worker = self._workers[threading.get_ident()] = WorkerProcess()
            return worker.call(job, *args)
        return JOBS[job](*args, self.fs)

    def _record_bg_error(self, what: str, exc: BaseException) -> None:
        log.exception("background %s failed; the store now refuses writes", what)
        with self._mutex:
            self._bg_error = exc
            self._write_blocked = True
            self._update_fast_path()
            self._cond.notify_all()

    def _flusher(self) -> None:
        while True:
            with self._bg_wakeup:
                while not self._closed and (not self._immutables or self._bg_error is not None):
                    self._bg_wakeup.wait(0.5)
            if self._closed:
                return
            try:
                self._flush_one(self._immutables[0])
            except BaseException as exc:
                self._record_bg_error("flush", exc)

    def _flush_one(self, generation: MemtableGeneration) -> None:
        with self._mutex:
            ksids = [k for k in generation.tables if k in self._ksids.values()]
            numbers = self._allocate_numbers(len(ksids), persist=True)
        paths = [self._wal_path(n) for n in generation.segments]
        result = self._run_job(
            "flush",
            self.path,
            paths,
            self.options.salvage,
            ksids,
            numbers,
            self._live_snapshots(),
            self._job_options,
        )
        with self._install_lock():
            live = set(self._ksids.values())
            outputs = [(k, m) for k, m in result.outputs if k in live]
            for k, m in result.outputs:
                if k not in live:
                    self._unlink(self._sst_path(m.number))
            self.fs.fsync_dir(self.path)
            readers = {
                m.number: SSTableReader(self._sst_path(m.number), m.number, self.block_cache)
                for _, m in outputs
            }
            self._catalog.apply(
                CatalogEdit(
                    add_files=outputs,
                    remove_segments=generation.segments,
                    meta={
                        "last_seqno": generation.max_seqno,
                        "last_commit_ts_us": generation.max_commit_ts_us,
                        "next_file_number": self._next_file_number,
                    },
                    stat_deltas=self._take_stats(
                        flush_bytes_written=result.bytes_written, flushes=1
                    ),
                )
            )
            self._set_version(self._version.apply(outputs, [], readers))
        with self._mutex:
            self._immutables.remove(generation)
            self._mems = (self._active, *reversed(self._immutables))
            self._cond.notify_all()
        for number in generation.segments:
            self._unlink(self._wal_path(number))
        self._wake_background()

    def _take_stats(self, **deltas: int) -> dict[str, int]:
        """Counters to persist with an install: the deltas plus foreground counters
        accumulated since the last install."""
        with self._mutex:
            self._fold_foreground_stats()
            out = dict(self._stats)
            self._stats.clear()
        for name, value in deltas.items():
            out[name] = out.get(name, 0) + value
        self._stats_persisted.update(out)
        return out

    def _fold_foreground_stats(self) -> None:
        """Move the write path's plain-int counters into the stats Counter. Mutex held;
        the leader updates them outside the mutex, so take and subtract what was read."""
        for name in ("user_bytes_written", "wal_bytes_written", "batches_written", "write_groups"):
            attr = "_" + name
            value = getattr(self, attr)
            if value:
                setattr(self, attr, getattr(self, attr) - value)
                self._stats[name] += value
                if name == "wal_bytes_written" and self.options.durability != "sync":
                    # Copied into a memory map (see WALWriter), never passed to write(2).
                    self._stats["wal_bytes_mapped"] += value

    def _compactor(self) -> None:
        while True:
            with self._bg_wakeup:
                self._bg_wakeup.wait(0.5)
            while not self._closed:
                if self._compact_requests:
                    done, errors = self._compact_requests.popleft()
                    try:
                        self._full_compaction()
                    except BaseException as exc:
                        errors.append(exc)
                        self._record_bg_error("compaction", exc)
                    done.set()
                    continue
                if self._bg_error is not None:
                    break
                try:
                    picked = self._pick_compaction()
                    if picked is None:
                        break
                    self._run_compaction(*picked)
                except BaseException as exc:
                    self._record_bg_error("compaction", exc)
                    break
            if self._closed:
                for done, errors in self._compact_requests:
                    errors.append(StoreClosedError("store closed"))
                    done.set()
                return

    def _level_target(self, level: int) -> int:
        return self.options.level_base_bytes * self.options.level_size_ratio ** (level - 1)

    def _pick_compaction(self):
        """(ksid, input level, inputs, next-level inputs, output level) or None."""
        opts = self.options
        best = None
        version = self._version
        for ksid, lv in version.keyspaces.items():
            scores = [(len(lv.levels[0]) / opts.l0_compaction_trigger, 0)]
            for level in range(1, NUM_LEVELS - 1):
                scores.append((lv.level_bytes(level) / self._level_target(level), level))
            score, level = max(scores)
            if score >= 1 and (best is None or score > best[0]):
                best = (score, ksid, level)
        if best is None:
            return None
        _, ksid, level = best
        lv = version.levels(ksid)
        if level == 0:
            inputs = list(lv.levels[0])
        else:
            pointer = self._compact_pointer.get((ksid, level), b"")
            files = lv.levels[level]
            chosen = next((m for m in files if m.smallest > pointer), files[0])
            self._compact_pointer[(ksid, level)] = chosen.largest
            inputs = [chosen]
        smallest = min(m.smallest for m in inputs)
        largest = max(m.largest for m in inputs)
        return ksid, level, inputs, lv.overlapping(level + 1, smallest, largest), level + 1

    def _is_bottom(
        self, lv: KeyspaceLevels, output_level: int, smallest: bytes, largest: bytes
    ) -> bool:
        return not any(
            lv.overlapping(level, smallest, largest)
            for level in range(output_level + 1, NUM_LEVELS)
        )

    def _run_compaction(
        self,
        ksid: int,
        level: int,
        inputs: list[FileMeta],
        next_inputs: list[FileMeta],
        output_level: int,
    ) -> None:
        lv = self._version.levels(ksid)
        if level > 0 and not next_inputs and len(inputs) == 1:
            self._trivial_move(ksid, inputs[0], output_level)
            return
        if level == 0:
            runs = [[m.number] for m in inputs]
        else:
            runs = [[m.number for m in inputs]]
        if next_inputs:
            runs.append([m.number for m in next_inputs])
        every = inputs + next_inputs
        smallest = min(m.smallest for m in every)
        largest = max(m.largest for m in every)
        drop = self._is_bottom(lv, output_level, smallest, largest)
        self._compact_files(ksid, runs, every, output_level, drop)

    def _compact_files(
        self,
        ksid: int,
        runs: list[list[int]],
        inputs: list[FileMeta],
        output_level: int,
        drop_tombstones: bool,
    ) -> None:
        total = sum(m.file_size for m in inputs)
        with self._mutex:
            numbers = self._allocate_numbers(
                2 * (total // self.options.target_file_size_bytes) + 4, persist=True
            )
        try:
            result = self._run_job(
                "compaction",
                self.path,
                ksid,
                runs,
                output_level,
                numbers,
                self._live_snapshots(),
                drop_tombstones,
                self._job_options,
            )
        except BaseException:
            if ksid not in self._ksids.values():
                return  # dropped during the job, which then found its inputs unlinked
            raise
        self._install_compaction(ksid, inputs, result)

    def _install_compaction(self, ksid: int, inputs: list[FileMeta], result: JobResult) -> None:
        with self._install_lock():
            if ksid not in self._ksids.values():
                for _, meta in result.outputs:
                    self._unlink(self._sst_path(meta.number))
                return
            self.fs.fsync_dir(self.path)
            readers = {
                m.number: SSTableReader(self._sst_path(m.number), m.number, self.block_cache)
                for _, m in result.outputs
            }
            removed = [(ksid, m.number) for m in inputs]
            self._catalog.apply(
                CatalogEdit(
                    add_files=result.outputs,
                    remove_files=removed,
                    meta={"next_file_number": self._next_file_number},
                    stat_deltas=self._take_stats(
                        compaction_bytes_written=result.bytes_written,
                        compaction_bytes_read=result.bytes_read,
                        compactions=1,
                    ),
                )
            )
            self._set_version(self._version.apply(result.outputs, removed, readers))
        with self._mutex:
            self._cond.notify_all()
        for meta in inputs:
            self.block_cache.evict_file(meta.number)
            self._unlink(self._sst_path(meta.number))

    def _trivial_move(self, ksid: int, meta: FileMeta, output_level: int) -> None:
        moved = FileMeta(**{**meta.__dict__, "level": output_level})
        with self._install_lock():
            self._catalog.apply(
                CatalogEdit(add_files=[(ksid, moved)], remove_files=[(ksid, meta.number)])
            )
            reader = self._version.readers[meta.number]
            self._version = self._version.apply(
                [(ksid, moved)], [(ksid, meta.number)], {meta.number: reader}
            )

    def _full_compaction(self) -> None:
        for ksid in list(self._ksids.values()):
            lv = self._version.levels(ksid)
            inputs = lv.all_files()
            if not inputs:
                continue
            total = sum(m.file_size for m in inputs)
            level = 1
            while level < NUM_LEVELS - 1 and self._level_target(level) < total:
                level += 1
            runs = [[m.number] for m in lv.levels[0]]
            runs += [[m.number for m in files] for files in lv.levels[1:] if files]
            self._compact_files(ksid, runs, inputs, level, True)

    def _syncer(self) -> None:
        interval = self.options.group_commit_ms / 1000
        while not self._closed:
            time.sleep(interval)
            wal = self._wal
            if wal.synced_offset < wal.offset:
                try:
                    wal.sync()
                except OSError as exc:
                    if not self._closed and wal is self._wal:
                        self._record_bg_error("WAL sync", exc)
                except ValueError:
                    pass

    # ------------------------------------------------------- explicit control

    def flush(self) -> None:
        """Write every memtable to L0 and wait until installed. Raises BackgroundError
        if a flush fails."""
        with self._mutex:
            self._check_writable()
            while self._writers:
                self._cond.wait(0.05)
            if not self._active.is_empty:
                while len(self._immutables) >= self.options.max_immutable_memtables + 1:
                    self._cond.wait(0.05)
                self._rotate()
            pending = list(self._immutables)
            while any(g in self._immutables for g in pending):
                self._check_writable()
                self._cond.wait(0.05)

    def compact(self) -> None:
        """Flush, then merge every keyspace into one level, dropping everything no
        snapshot can see (a full compaction). Waits until done."""
        self.flush()
        done = threading.Event()
        errors: list[BaseException] = []
        self._compact_requests.append((done, errors))
        self._wake_background()
        done.wait()
        if errors:
            raise BackgroundError(f"full compaction failed: {errors[0]!r}") from errors[0]

    def resume(self) -> None:
        """Clear a recorded background error and let writes and background work go on."""
        with self._mutex:
            self._bg_error = None
            self._write_blocked = self._closed
            self._update_fast_path()
            self._cond.notify_all()
        self._wake_background()

    def wait_for_compactions(self, timeout_s: float = 60.0) -> None:
        """Block until no compaction is needed (tests and benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._bg_error is not None:
                raise BackgroundError(f"background failure: {self._bg_error!r}")
            if not self._immutables and self._pick_compaction_quiet() is None:
                return
            self._wake_background()
            time.sleep(0.02)
        raise TimeoutError("compactions still pending")

    def _pick_compaction_quiet(self):
        saved = dict(self._compact_pointer)
        try:
            return self._pick_compaction()
        finally:
            self._compact_pointer = saved

    def checkpoint(self, target: str) -> None:
        """Write a consistent copy of the store into the new directory `target`: hard
        links of every SSTable plus a catalog describing them (with the user entries of
        catalog_put). Memtables are flushed first; the checkpoint holds every batch
        committed before this call."""
        target = os.path.abspath(target)
        if os.path.exists(target):
            raise FileExistsError(f"checkpoint target {target} already exists")
        self.flush()
        os.makedirs(target)
        with self._install_lock():
            version = self._version
            files = version.all_files()
            for _, meta in files:
                self.fs.link(
                    self._sst_path(meta.number), os.path.join(target, make_sst_name(meta.number))
                )
            catalog = Catalog(os.path.join(target, CATALOG_DIR))
            try:
                catalog.apply(
                    CatalogEdit(
                        add_keyspaces=dict(self._ksids),
                        add_files=files,
                        user_puts=dict(self._catalog.user_items()),
                        meta={
                            "next_file_number": self._next_file_number,
                            "next_keyspace_id": self._next_keyspace_id,
                            "last_seqno": max((m.max_seqno for _, m in files), default=0),
                            "last_commit_ts_us": self._last_ts,
                        },
                    )
                )
            finally:
                catalog.close()
        self.fs.fsync_dir(target)

    # ------------------------------------------------------------------ stats

    def stats(self, *, exact_live_bytes: bool = False) -> dict:
        """Counters and shape: user/WAL/flush/compaction bytes written, write and space
        amplification, files and bytes per level, stall time, block cache hit rate.

        write_amplification = (WAL + flush + compaction bytes written) / user key+value
        bytes written, the total I/O per user byte (wal_bytes_mapped is the part of the
        WAL bytes copied into a memory map rather than written with write(2));
        write_amplification_sst leaves the WAL out (RocksDB's definition).
        space_amplification = SSTable bytes / live key+value bytes, estimated from the
        deepest level unless `exact_live_bytes` (which scans every keyspace)."""
        with self._mutex:
            self._fold_foreground_stats()
            totals = Counter(self._stats_persisted)
            totals.update(self._stats)
        version = self._version
        levels = []
        file_bytes = 0
        for level in range(NUM_LEVELS):
            metas = [m for lv in version.keyspaces.values() for m in lv.levels[level]]
            size = sum(m.file_size for m in metas)
            file_bytes += size
            levels.append({"level": level, "files": len(metas), "bytes": size})
        if exact_live_bytes:
            live = sum(
                len(k) + len(v) for name in self.list_keyspaces() for k, v in self.scan(name)
            )
        else:
            live = 0
            for lv in version.keyspaces.values():
                deepest = max((lvl for lvl in range(NUM_LEVELS) if lv.levels[lvl]), default=None)
                if deepest is not None:
                    live += sum(m.raw_key_bytes + m.raw_value_bytes for m in lv.levels[deepest])
        user = totals["user_bytes_written"]
        sst_written = totals["flush_bytes_written"] + totals["compaction_bytes_written"]
        written = totals["wal_bytes_written"] + sst_written
        cache = self.block_cache
        lookups = cache.hits + cache.misses
        memtable_bytes = sum(g.size_bytes for g in self._mems)
        return {
            "user_bytes_written": user,
            "wal_bytes_written": totals["wal_bytes_written"],
            "wal_bytes_mapped": totals["wal_bytes_mapped"],
            "flush_bytes_written": totals["flush_bytes_written"],
            "compaction_bytes_written": totals["compaction_bytes_written"],
            "compaction_bytes_read": totals["compaction_bytes_read"],
            "write_amplification": written / user if user else 0.0,
            "write_amplification_sst": sst_written / user if user else 0.0,
            "file_bytes": file_bytes,
            "live_bytes": live,
            "live_bytes_exact": exact_live_bytes,
            "space_amplification": file_bytes / live if live else 0.0,
            "levels": levels,
            "memtable_bytes": memtable_bytes,
            "immutable_memtables": len(self._immutables),
            "flushes": totals["flushes"],
            "compactions": totals["compactions"],
            "stalls": totals["stalls"],
            "stall_us": totals["stall_us"],
            "batches_written": totals["batches_written"],
            "write_groups": totals["write_groups"],
            "block_cache_hits": cache.hits,
            "block_cache_misses": cache.misses,
            "block_cache_hit_rate": cache.hits / lookups if lookups else 0.0,
            "block_cache_bytes": cache.size_bytes,
            "last_seqno": self._visible_seq,
            "background_error": repr(self._bg_error) if self._bg_error else None,
        }

    def verify(self) -> list[StorageError]:
        """Read every block of every SSTable and check its checksum."""
        problems: list[StorageError] = []
        for reader in list(self._version.readers.values()):
            problems.extend(reader.verify())
        return problems

    # ------------------------------------------------------------------ close

    def close(self) -> None:
        """Stop background work (waiting for running jobs), sync the WAL, release the
        LOCK. Unflushed memtables are recovered from the WAL on the next open."""
        with self._mutex:
            if self._closed:
                return
            while self._writers:
                self._cond.wait(0.05)
            self._closed = True
            self._write_blocked = True
            self._update_fast_path()
            self._cond.notify_all()
        self._wake_background()
        for thread in self._threads:
            thread.join()
        self._wal.finish()
        try:
            self._wal.sync()
        except OSError:
            log.exception("final WAL sync failed")
        self._wal.close()
        try:
            # Counters since the last install, so reopen and shale-inspect see them.
            self._catalog.apply(CatalogEdit(stat_deltas=self._take_stats()))
        except lmdb.Error:
            log.exception("persisting statistics at close failed")
        for worker in self._workers.values():
            worker.close()
        for reader in self._version.readers.values():
            reader.close()
        self._catalog.close()
        os.close(self._lock_fd)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
