"""Adapters that put each key-value engine behind one small interface for `bench kv`.

Every engine the harness compares (ShaleDB itself, LMDB, SQLite, RocksDB through rocksdict,
LevelDB through plyvel) is wrapped in a `KVEngine` subclass. The interface is deliberately
made of whole loops (`fill`, `fill_batches`, `read_random`, ...) rather than single
operations, so each adapter can call its engine's bound methods directly inside a tight loop:
the harness then measures the engine and its Python binding, not one extra layer of Python
calls per operation that would flatten the differences between fast engines.

Configuration follows the brief the results are read against, and `NOTES` says it in words
so the report can repeat it:
- fills are not durable (`sync=False`, SQLite `synchronous=NORMAL`, shale `durability="off"`);
  `fillsync` opens the engine in its durable mode and acknowledges a put only after fsync;
- every put outside `fillbatch` is its own atomic write (one LMDB write transaction, one
  SQLite autocommit statement), `fillbatch` writes 1,000 puts per atomic batch;
- `compact()` is the engine's full compaction where it has one (shale, RocksDB, LevelDB); for
  SQLite it checkpoints and truncates the WAL, for LMDB it only syncs.

Optional engines are imported in `probe()`, not at module import, so that a missing or
half-written package makes its engine "skipped with a note" instead of breaking the harness.

For YCSB (bench/ycsb.py), where every operation is timed on its own, `point_ops()` gives
the three single operations as bound functions: get, put and a short forward scan.

Progress: when bars are on (a terminal, or --progress) and a loop has at least
PROGRESS_MIN_OPS keys, `fill`, `fill_batches`, `read_random` and `seek_random` are run in
chunks of PROGRESS_CHUNK keys with a bar updated between chunks (a slice and a call per
16,384 operations: nothing next to the operations). Otherwise each is one call, as before.

Thread-safety: an adapter instance is driven by one thread, except that `make_sync_writer()`
may be called from several threads at once, each using the writer it got back.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from types import ModuleType
from typing import Any, ClassVar, NamedTuple

from bench.progress import ProgressBar, progress_enabled

__all__ = ["ENGINES", "KVEngine", "PointOps"]

PROGRESS_MIN_OPS = 100_000
PROGRESS_CHUNK = 16_384

Put = Callable[[bytes, bytes], None]


class PointOps(NamedTuple):
    """Single operations of an open engine: get(key) -> value or None, put(key, value),
    scan(start, count) -> up to `count` (key, value) pairs from `start` on."""

    get: Callable[[bytes], bytes | None]
    put: Put
    scan: Callable[[bytes, int], list[tuple[bytes, bytes]]]


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _chunked(method: Callable, what: str) -> Callable:
    """`method(self, keys, *rest)` run chunk by chunk under a progress bar (module essay);
    results that are (count, bytes) tuples are added up."""

    @functools.wraps(method)
    def loop(self: KVEngine, keys: Sequence[bytes], *rest: Any) -> Any:
        n = len(keys)
        if n < PROGRESS_MIN_OPS or not progress_enabled():
            return method(self, keys, *rest)
        bar = ProgressBar(n, f"[{self.name}] {what}", summary=False)
        step = PROGRESS_CHUNK
        if what == "fill_batches":
            step = max(rest[1], step - step % rest[1])  # whole batches only
        total: tuple[int, int] | None = None
        try:
            for start in range(0, n, step):
                stop = start + step
                if what in ("fill", "fill_batches"):
                    method(self, keys[start:stop], rest[0][start:stop], *rest[1:])
                else:
                    got = method(self, keys[start:stop], *rest)
                    total = got if total is None else (total[0] + got[0], total[1] + got[1])
                bar.update(min(stop, n))
        finally:
            bar.close()
        return total

    return loop


class KVEngine:
    """One engine under test, opened on one directory at a time.

    Lifecycle: `open(path, durable=...)`, any of the workload loops, `close()`. `path` is a
    directory the harness created empty (shale's `Store.open` would also create it).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for what in ("fill", "fill_batches", "read_random", "seek_random"):
            if what in cls.__dict__:
                setattr(cls, what, _chunked(cls.__dict__[what], what))

    name: ClassVar[str]
    module_name: ClassVar[str]
    NOTES: ClassVar[tuple[str, ...]] = ()
    has_full_compaction: ClassVar[bool] = False
    _module: ClassVar[ModuleType | None] = None

    @classmethod
    def probe(cls) -> str | None:
        """Import the engine's package; return None when usable, else why it is skipped."""
        try:
            cls._module = importlib.import_module(cls.module_name)
            return cls._check_module(cls._module)
        except Exception as exc:  # a half-written package may raise anything on import
            return f"{cls.module_name} not importable: {type(exc).__name__}: {exc}"

    @classmethod
    def _check_module(cls, module: ModuleType) -> str | None:
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        """Package and library versions, for the machine description."""
        return {}

    def open(self, path: str, *, durable: bool) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def fill(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
        """Put keys[i] -> values[i], each put its own atomic write."""
        raise NotImplementedError

    def fill_batches(self, keys: Sequence[bytes], values: Sequence[bytes], size: int) -> None:
        """Put the pairs in atomic batches of `size` puts."""
        raise NotImplementedError

    def make_sync_writer(self) -> Put:
        """Return a put function for the calling thread; the engine must be open durable."""
        raise NotImplementedError

    def compact(self) -> None:
        """Bring the store to its settled, fully compacted state (see module docstring)."""
        raise NotImplementedError

    def read_random(self, keys: Sequence[bytes]) -> tuple[int, int]:
        """Get every key; return (found, key+value bytes read)."""
        raise NotImplementedError

    def read_seq(self) -> tuple[int, int]:
        """Scan the whole store forward; return (entries, key+value bytes read)."""
        raise NotImplementedError

    def seek_random(self, keys: Sequence[bytes], count: int) -> tuple[int, int]:
        """Seek to each key and read up to `count` entries forward; return (entries, bytes)."""
        raise NotImplementedError

    def engine_stats(self) -> dict[str, Any]:
        """The engine's own accounting, where it keeps one (shale's `stats()`)."""
        return {}

    def point_ops(self) -> PointOps:
        """Single get, put and short scan, each its own atomic operation."""
        raise NotImplementedError


def _count_gets(get: Callable[[bytes], bytes | None], keys: Sequence[bytes]) -> tuple[int, int]:
    """Get every key with `get`; return (found, key+value bytes read)."""
    found = 0
    nbytes = 0
    for k in keys:
        v = get(k)
        if v is not None:
            found += 1
            nbytes += len(k) + len(v)
    return found, nbytes


def _count_pairs(pairs: Iterator[tuple[bytes, bytes]]) -> tuple[int, int]:
    entries = 0
    nbytes = 0
    for k, v in pairs:
        entries += 1
        nbytes += len(k) + len(v)
    return entries, nbytes


class ShaleEngine(KVEngine):
    name = "shale"
    module_name = "engine.storage"
    has_full_compaction = True
    KEYSPACE = "kv"
    NOTES = (
        'durability="off" for fills, "sync" for fillsync; default options (flush and '
        "compaction in a worker process, whose writes are counted with the harness's); "
        'keyspace "kv"; compaction = store.flush() then store.compact()',
    )

    @classmethod
    def _check_module(cls, module: ModuleType) -> str | None:
        if not hasattr(module, "Store") or not hasattr(module, "WriteBatch"):
            return "engine.storage has no Store/WriteBatch yet"
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        version = _dist_version("shaledb")
        return {"shaledb": "source tree" if version == "unknown" else version}

    def open(self, path: str, *, durable: bool) -> None:
        assert self._module is not None
        # Store.open creates its directory; give it a new one inside the harness's.
        self._store = self._module.Store.open(
            os.path.join(path, "store"),
            durability="sync" if durable else "off",
        )
        self._store.create_keyspace(self.KEYSPACE)

    def close(self) -> None:
        self._store.close()

    def fill(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
        put = self._store.put
        ks = self.KEYSPACE
        for k, v in zip(keys, values):
            put(ks, k, v)

    def fill_batches(self, keys: Sequence[bytes], values: Sequence[bytes], size: int) -> None:
        assert self._module is not None
        write_batch = self._module.WriteBatch
        write = self._store.write
        ks = self.KEYSPACE
        for start in range(0, len(keys), size):
            batch = write_batch()
            put = batch.put
            for k, v in zip(keys[start : start + size], values[start : start + size]):
                put(ks, k, v)
            write(batch)

    def make_sync_writer(self) -> Put:
        put = self._store.put
        ks = self.KEYSPACE
        return lambda k, v: put(ks, k, v)

    def compact(self) -> None:
        self._store.flush()
        self._store.compact()

    def read_random(self, keys: Sequence[bytes]) -> tuple[int, int]:
        return _count_gets(functools.partial(self._store.get, self.KEYSPACE), keys)

    def read_seq(self) -> tuple[int, int]:
        return _count_pairs(self._store.scan(self.KEYSPACE))

    def seek_random(self, keys: Sequence[bytes], count: int) -> tuple[int, int]:
        scan = self._store.scan
        ks = self.KEYSPACE
        entries = 0
        nbytes = 0
        for key in keys:
            it = scan(ks, start=key)
            for k, v in islice(it, count):
                entries += 1
                nbytes += len(k) + len(v)
            close = getattr(it, "close", None)
            if close is not None:
                close()
        return entries, nbytes

    def engine_stats(self) -> dict[str, Any]:
        return dict(self._store.stats())

    def point_ops(self) -> PointOps:
        ks = self.KEYSPACE
        store_scan = self._store.scan

        def scan(start: bytes, count: int) -> list[tuple[bytes, bytes]]:
            it = store_scan(ks, start=start)
            try:
                return list(islice(it, count))
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()

        return PointOps(
            functools.partial(self._store.get, ks), functools.partial(self._store.put, ks), scan
        )


class LMDBEngine(KVEngine):
    name = "lmdb"
    module_name = "lmdb"
    MAP_SIZE_BYTES = 1 << 38
    NOTES = (
        "one write transaction per put (fillbatch: per 1,000); writemap=False, "
        "sync=False for fills, sync=True for fillsync; map_size 256 GiB; "
        "reads in one long read transaction; no compaction (env.sync only)",
    )

    @classmethod
    def versions(cls) -> dict[str, str]:
        assert cls._module is not None
        lib = ".".join(str(p) for p in cls._module.version())
        return {"lmdb (py-lmdb)": cls._module.__version__, "LMDB": lib}

    def open(self, path: str, *, durable: bool) -> None:
        assert self._module is not None
        self._env = self._module.open(
            path,
            map_size=self.MAP_SIZE_BYTES,
            writemap=False,
            sync=durable,
            metasync=durable,
            max_dbs=0,
        )

    def close(self) -> None:
        self._env.close()

    def fill(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
        begin = self._env.begin
        for k, v in zip(keys, values):
            with begin(write=True) as txn:
                txn.put(k, v)

    def fill_batches(self, keys: Sequence[bytes], values: Sequence[bytes], size: int) -> None:
        begin = self._env.begin
        for start in range(0, len(keys), size):
            with begin(write=True) as txn:
                put = txn.put
                for k, v in zip(keys[start : start + size], values[start : start + size]):
                    put(k, v)

    def make_sync_writer(self) -> Put:
        begin = self._env.begin

        def put(k: bytes, v: bytes) -> None:
            with begin(write=True) as txn:
                txn.put(k, v)

        return put

    def compact(self) -> None:
        self._env.sync(True)

    def read_random(self, keys: Sequence[bytes]) -> tuple[int, int]:
        with self._env.begin(buffers=False) as txn:
            return _count_gets(txn.get, keys)

    def read_seq(self) -> tuple[int, int]:
        with self._env.begin() as txn:
            return _count_pairs(txn.cursor().iternext())

    def seek_random(self, keys: Sequence[bytes], count: int) -> tuple[int, int]:
        entries = 0
        nbytes = 0
        with self._env.begin() as txn:
            cursor = txn.cursor()
            set_range = cursor.set_range
            for key in keys:
                if not set_range(key):
                    continue
                for k, v in islice(cursor.iternext(), count):
                    entries += 1
                    nbytes += len(k) + len(v)
        return entries, nbytes

    def point_ops(self) -> PointOps:
        begin = self._env.begin

        def get(k: bytes) -> bytes | None:
            with begin() as txn:
                return txn.get(k)

        def put(k: bytes, v: bytes) -> None:
            with begin(write=True) as txn:
                txn.put(k, v)

        def scan(start: bytes, count: int) -> list[tuple[bytes, bytes]]:
            with begin() as txn:
                cursor = txn.cursor()
                if not cursor.set_range(start):
                    return []
                return list(islice(cursor.iternext(), count))

        return PointOps(get, put, scan)


class SQLiteEngine(KVEngine):
    name = "sqlite"
    module_name = "sqlite3"
    FILE_NAME = "kv.sqlite"
    UPSERT = "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"
    NOTES = (
        "one table (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID, journal_mode=WAL; "
        "one autocommit transaction per put (fillbatch: BEGIN/COMMIT per 1,000); "
        "synchronous=NORMAL for fills, FULL for fillsync (one connection per thread, "
        "busy_timeout 60 s); 'compaction' = wal_checkpoint(TRUNCATE)",
    )

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"SQLite": sqlite3.sqlite_version}

    def open(self, path: str, *, durable: bool) -> None:
        self._file = os.path.join(path, self.FILE_NAME)
        self._synchronous = "FULL" if durable else "NORMAL"
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._conn = self._connect()
        self._conn.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._file, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=60000")
        with self._lock:
            self._conns.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
        self._conns.clear()

    def fill(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
        execute = self._conn.cursor().execute
        sql = self.UPSERT
        for k, v in zip(keys, values):
            execute(sql, (k, v))

    def fill_batches(self, keys: Sequence[bytes], values: Sequence[bytes], size: int) -> None:
        cur = self._conn.cursor()
        for start in range(0, len(keys), size):
            cur.execute("BEGIN")
            cur.executemany(
                self.UPSERT, zip(keys[start : start + size], values[start : start + size])
            )
            cur.execute("COMMIT")

    def make_sync_writer(self) -> Put:
        execute = self._connect().cursor().execute
        sql = self.UPSERT
        return lambda k, v: execute(sql, (k, v)) and None

    def compact(self) -> None:
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def read_random(self, keys: Sequence[bytes]) -> tuple[int, int]:
        execute = self._conn.cursor().execute
        sql = "SELECT v FROM kv WHERE k = ?"
        found = 0
        nbytes = 0
        for k in keys:
            row = execute(sql, (k,)).fetchone()
            if row is not None:
                found += 1
                nbytes += len(k) + len(row[0])
        return found, nbytes

    def read_seq(self) -> tuple[int, int]:
        return _count_pairs(self._conn.execute("SELECT k, v FROM kv ORDER BY k"))

    def seek_random(self, keys: Sequence[bytes], count: int) -> tuple[int, int]:
        execute = self._conn.cursor().execute
        sql = "SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?"
        entries = 0
        nbytes = 0
        for key in keys:
            for k, v in execute(sql, (key, count)):
                entries += 1
                nbytes += len(k) + len(v)
        return entries, nbytes

    def point_ops(self) -> PointOps:
        execute = self._conn.cursor().execute
        upsert = self.UPSERT

        def get(k: bytes) -> bytes | None:
            row = execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
            return row[0] if row is not None else None

        def put(k: bytes, v: bytes) -> None:
            execute(upsert, (k, v))

        def scan(start: bytes, count: int) -> list[tuple[bytes, bytes]]:
            sql = "SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?"
            return execute(sql, (start, count)).fetchall()

        return PointOps(get, put, scan)


class RocksDictEngine(KVEngine):
    name = "rocksdict"
    module_name = "rocksdict"
    has_full_compaction = True
    NOTES = (
        "Rdict with default RocksDB options plus raw_mode=True (bytes stored as-is, "
        "no rocksdict type prefix); WriteOptions.sync=True for fillsync; "
        "compaction = compact_range(None, None)",
    )

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"rocksdict": _dist_version("rocksdict")}

    def open(self, path: str, *, durable: bool) -> None:
        m = self._module
        assert m is not None
        self._db = m.Rdict(path, m.Options(raw_mode=True))
        if durable:
            opts = m.WriteOptions()
            opts.sync = True
            self._db.set_write_options(opts)

    def close(self) -> None:
        self._db.close()

    def fill(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
        put = self._db.put
        for k, v in zip(keys, values):
            put(k, v)

    def fill_batches(self, keys: Sequence[bytes], values: Sequence[bytes], size: int) -> None:
        assert self._module is not None
        write_batch = self._module.WriteBatch
        write = self._db.write
        for start in range(0, len(keys), size):
            batch = write_batch(raw_mode=True)
            put = batch.put
            for k, v in zip(keys[start : start + size], values[start : start + size]):
                put(k, v)
            write(batch)

    def make_sync_writer(self) -> Put:
        return self._db.put

    def compact(self) -> None:
        self._db.compact_range(None, None)

    def read_random(self, keys: Sequence[bytes]) -> tuple[int, int]:
        return _count_gets(self._db.get, keys)

    def read_seq(self) -> tuple[int, int]:
        return _count_pairs(self._db.items())

    def seek_random(self, keys: Sequence[bytes], count: int) -> tuple[int, int]:
        it = self._db.iter()
        seek, valid, key, value, advance = it.seek, it.valid, it.key, it.value, it.next
        entries = 0
        nbytes = 0
        for target in keys:
            seek(target)
            for _ in range(count):
                if not valid():
                    break
                entries += 1
                nbytes += len(key()) + len(value())
                advance()
        del it
        return entries, nbytes

    def point_ops(self) -> PointOps:
        db = self._db

        def scan(start: bytes, count: int) -> list[tuple[bytes, bytes]]:
            it = db.iter()
            it.seek(start)
            out = []
            while len(out) < count and it.valid():
                out.append((it.key(), it.value()))
                it.next()
            return out

        return PointOps(db.get, db.put, scan)


class PlyvelEngine(KVEngine):
    name = "plyvel"
    module_name = "plyvel"
    has_full_compaction = True
    NOTES = (
        "LevelDB default options (create_if_missing); sync=False fills, sync=True for "
        "fillsync; compaction = compact_range()",
    )

    @classmethod
    def versions(cls) -> dict[str, str]:
        assert cls._module is not None
        return {
            "plyvel": cls._module.__version__,
            "LevelDB": getattr(cls._module, "__leveldb_version__", "unknown"),
        }

    def open(self, path: str, *, durable: bool) -> None:
        assert self._module is not None
        self._db = self._module.DB(path, create_if_missing=True)
        self._sync = durable

    def close(self) -> None:
        self._db.close()

    def fill(self, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
        put = self._db.put
        for k, v in zip(keys, values):
            put(k, v)

    def fill_batches(self, keys: Sequence[bytes], values: Sequence[bytes], size: int) -> None:
        for start in range(0, len(keys), size):
            batch = self._db.write_batch()
            put = batch.put
            for k, v in zip(keys[start : start + size], values[start : start + size]):
                put(k, v)
            batch.write()

    def make_sync_writer(self) -> Put:
        put = self._db.put
        return lambda k, v: put(k, v, sync=True)

    def compact(self) -> None:
        self._db.compact_range()

    def read_random(self, keys: Sequence[bytes]) -> tuple[int, int]:
        return _count_gets(self._db.get, keys)

    def read_seq(self) -> tuple[int, int]:
        return _count_pairs(self._db.iterator())

    def seek_random(self, keys: Sequence[bytes], count: int) -> tuple[int, int]:
        it = self._db.iterator()
        seek = it.seek
        entries = 0
        nbytes = 0
        for key in keys:
            seek(key)
            for k, v in islice(it, count):
                entries += 1
                nbytes += len(k) + len(v)
        it.close()
        return entries, nbytes

    def point_ops(self) -> PointOps:
        db = self._db

        def scan(start: bytes, count: int) -> list[tuple[bytes, bytes]]:
            it = db.iterator(start=start)
            try:
                return list(islice(it, count))
            finally:
                it.close()

        return PointOps(db.get, db.put, scan)


ENGINES: dict[str, type[KVEngine]] = {
    cls.name: cls for cls in (ShaleEngine, LMDBEngine, SQLiteEngine, RocksDictEngine, PlyvelEngine)
}
