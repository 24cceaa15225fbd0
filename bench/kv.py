"""`bench kv`: db_bench-style workloads run side by side over several key-value engines.

The harness builds every key and value up front from one seed, outside the timed regions, so
each engine sees byte-identical input and the timer covers only the engine's loop. Keys are the
16-byte zero-padded decimal of the key number; values are 100 bytes cut from a 1 MiB buffer of
db_bench-style half-compressible pieces (50 random bytes, then the same 50 bytes again).

For each engine, in this order, each fill on a fresh directory:
    fillseq, fillbatch, fillsync, then fillrandom -> overwrite -> compact -> amplification
    -> readrandom -> readseq -> seekrandom on the same store,
and once for the machine, `rawsync`: one thread appending 116-byte records to a plain file
with os.write + os.fdatasync, the floor that every durable put pays.

Amplification is measured on the store built by fillrandom and overwrite, after `compact()`:
- write amplification = bytes the process passed to write(2)-family calls while filling,
  overwriting and compacting (/proc/self/io `wchar`; RocksDB and LevelDB background threads
  are in the process and counted), plus the WAL bytes an engine reports it copied into a
  memory map instead (shale's `wal_bytes_mapped` with durability off: wchar does not see
  them) / user key+value bytes put. The page-cache figure (`write_bytes`, which counts a
  mapped page again each time it is dirtied after writeback) is kept in the JSON details;
- space amplification = allocated bytes of the store's directory (du) / key+value bytes of
  the live entries.
shale also reports its own figures from `store.stats()`; they are kept under "reported".

Engines that cannot be imported are skipped with a note; an engine that raises in one
workload has the error recorded and the workloads that depend on it skipped, and the run
goes on. Progress goes to stderr; nothing here prints to stdout.

Not thread-safe; `fillsync` starts and joins its own writer threads.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.engines import ENGINES, KVEngine
from bench.measure import (
    IOMeter,
    Timing,
    du_bytes,
    latency_summary,
    run_rawsync,
    run_threads,
    timed,
)

__all__ = [
    "ENGINE_WORKLOADS",
    "KEY_SIZE_BYTES",
    "VALUE_SIZE_BYTES",
    "WORKLOADS",
    "KVConfig",
    "make_key",
    "run_kv",
]

KEY_SIZE_BYTES = 16
VALUE_SIZE_BYTES = 100
RECORD_BYTES = KEY_SIZE_BYTES + VALUE_SIZE_BYTES
BATCH_SIZE = 1000
SYNC_WRITES_MAX = 20_000
SYNC_THREADS = 8
SEEK_NEXTS = 10
VALUE_POOL_BYTES = 1 << 20

# Workload name -> one-line description, in report order.
WORKLOADS: dict[str, str] = {
    "fillseq": "N puts in key order into an empty store",
    "fillrandom": "N puts in a random permutation of the keys into an empty store",
    "overwrite": "N puts of uniformly random existing keys (after fillrandom)",
    "fillbatch": "N puts in random order, 1,000 puts per atomic batch",
    "fillsync": f"min(N, {SYNC_WRITES_MAX:,}) durable puts from {SYNC_THREADS} threads, "
    "each acknowledged after fsync; acknowledged writes/s",
    "rawsync": "baseline: one thread, os.write + os.fdatasync per 116-byte record, "
    "as many records as fillsync; engine 'raw'",
    "readrandom": "N gets of uniformly random existing keys, after full compaction",
    "readseq": "one full forward scan; entries/s",
    "seekrandom": f"N/10 seeks to random keys, each reading {SEEK_NEXTS} entries; seeks/s",
}
ENGINE_WORKLOADS = tuple(w for w in WORKLOADS if w != "rawsync")
RANDOM_STORE_WORKLOADS = ("fillrandom", "overwrite", "readrandom", "readseq", "seekrandom")
RAW_ENGINE = "raw"
# The figures of an engine's own stats() worth keeping beside the harness's measurements.
REPORTED_STATS = (
    "user_bytes_written",
    "wal_bytes_written",
    "wal_bytes_mapped",
    "flush_bytes_written",
    "compaction_bytes_written",
    "write_amplification",
    "space_amplification",
)
STALL_STATS = ("flushes", "compactions", "stalls", "stall_us")

NOTES = (
    "ops/s, higher is better; fills time the engine loop only (no close or final flush); "
    "inputs are built before timing and the garbage collector is paused while timing",
    "readrandom/readseq/seekrandom run on the fillrandom+overwrite store after compaction; "
    "data fits in the page cache, as in db_bench's default runs",
    "write amplification: write(2) bytes of the process (plus WAL bytes an engine reports it "
    "copied into a memory map) during fillrandom+overwrite+compaction / user key+value bytes "
    "put (2 x N x 116 with overwrite); space amplification: du of the store directory after "
    "compaction / N x 116 live key+value bytes",
)


def make_key(number: int) -> bytes:
    """The 16-byte key for key number `number`: zero-padded decimal."""
    return b"%016d" % number


def make_value_pool(seed: int) -> bytes:
    """db_bench's RandomGenerator buffer: 100-byte pieces of 50 random bytes repeated twice."""
    rng = random.Random(seed)
    half = VALUE_SIZE_BYTES // 2
    pieces = VALUE_POOL_BYTES // VALUE_SIZE_BYTES
    out = bytearray()
    for _ in range(pieces):
        raw = rng.randbytes(half)
        out += raw + raw
    return bytes(out)


def make_values(pool: bytes, start_piece: int, count: int) -> list[bytes]:
    """`count` values cycling through the pool from piece `start_piece`."""
    pieces = len(pool) // VALUE_SIZE_BYTES
    size = VALUE_SIZE_BYTES
    return [
        pool[(p % pieces) * size : (p % pieces) * size + size]
        for p in range(start_piece, start_piece + count)
    ]


@dataclass
class KVConfig:
    """What to run. `engines` and `workloads` are names from ENGINES and WORKLOADS."""

    records: int
    engines: list[str]
    workloads: list[str]
    seed: int = 301
    base_dir: str | None = None
    progress: Callable[[str], None] = field(
        default=lambda line: print(line, file=sys.stderr, flush=True)
    )

    @property
    def sync_writes(self) -> int:
        return min(self.records, SYNC_WRITES_MAX)


class _Inputs:
    """Every key sequence and value list the workloads use, built once from the seed."""

    def __init__(self, records: int, seed: int, sync_writes: int) -> None:
        rng = random.Random(seed)
        n = records
        self.keys_seq = [make_key(i) for i in range(n)]
        order = list(range(n))
        rng.shuffle(order)
        self.keys_random = [self.keys_seq[i] for i in order]
        self.keys_overwrite = [self.keys_seq[rng.randrange(n)] for _ in range(n)]
        self.keys_read = [self.keys_seq[rng.randrange(n)] for _ in range(n)]
        self.keys_seek = [self.keys_seq[rng.randrange(n)] for _ in range(max(1, n // 10))]
        self.keys_sync = self.keys_random[:sync_writes]
        pool = make_value_pool(seed)
        self.values_fill = make_values(pool, 0, n)
        self.values_overwrite = make_values(pool, n, n)


def _stall_stats(engine: KVEngine) -> dict[str, Any]:
    """The engine's own flush/compaction/stall counters after a fill, where it keeps them."""
    stats = engine.engine_stats()
    return {f"engine_{k}": stats[k] for k in STALL_STATS if k in stats}


class _EngineRun:
    """One engine through every selected workload; fills `results` and `errors`."""

    def __init__(self, cls: type[KVEngine], cfg: KVConfig, inputs: _Inputs, root: str) -> None:
        self.cls = cls
        self.cfg = cfg
        self.inputs = inputs
        self.root = root
        self.results: dict[str, Timing] = {}
        self.errors: dict[str, str] = {}
        self.amplification: dict[str, Any] = {}
        self._dirs = 0

    def _fresh(self, durable: bool) -> tuple[KVEngine, str]:
        self._dirs += 1
        path = os.path.join(self.root, f"{self._dirs:02d}")
        os.makedirs(path)
        engine = self.cls()
        engine.open(path, durable=durable)
        return engine, path

    def _record(self, workload: str, timing: Timing) -> None:
        self.results[workload] = timing
        d = timing.as_dict()
        self.cfg.progress(
            f"[{self.cls.name}] {workload}: {timing.ops:,} ops in {timing.seconds:.2f} s"
            f" = {d['ops_per_s']:,.0f} ops/s ({d['mb_per_s']:.1f} MB/s)"
        )

    def _attempt(self, workload: str, fn: Callable[[], None]) -> bool:
        try:
            fn()
            return True
        except Exception as exc:
            self.errors[workload] = f"{type(exc).__name__}: {exc}"
            self.cfg.progress(f"[{self.cls.name}] {workload}: FAILED {self.errors[workload]}")
            return False

    def _one_fill(self, workload: str, loop: Callable[[KVEngine], None], ops: int) -> None:
        engine, path = self._fresh(durable=False)
        try:
            seconds, _ = timed(lambda: loop(engine))
            extra = _stall_stats(engine)
        finally:
            engine.close()
            shutil.rmtree(path, ignore_errors=True)
        self._record(workload, Timing(ops, seconds, ops * RECORD_BYTES, extra))

    def run(self) -> None:
        inp = self.inputs
        n = self.cfg.records
        selected = set(self.cfg.workloads)
        fills: dict[str, Callable[[KVEngine], None]] = {
            "fillseq": lambda e: e.fill(inp.keys_seq, inp.values_fill),
            "fillbatch": lambda e: e.fill_batches(inp.keys_random, inp.values_fill, BATCH_SIZE),
        }
        for workload, loop in fills.items():
            if workload in selected:
                self._attempt(workload, lambda w=workload, f=loop: self._one_fill(w, f, n))
        if "fillsync" in selected:
            self._attempt("fillsync", self._fillsync)
        if selected.intersection(RANDOM_STORE_WORKLOADS):
            self._random_store(selected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "results": {w: t.as_dict() for w, t in self.results.items()},
            "errors": dict(self.errors),
            "amplification": dict(self.amplification),
        }

    def _fillsync(self) -> None:
        inp = self.inputs
        engine, path = self._fresh(durable=True)
        count = len(inp.keys_sync)
        try:
            seconds, latencies = run_threads(
                engine.make_sync_writer, inp.keys_sync, inp.values_fill[:count], SYNC_THREADS
            )
        finally:
            engine.close()
            shutil.rmtree(path, ignore_errors=True)
        extra = {"threads": SYNC_THREADS, **latency_summary(latencies)}
        self._record("fillsync", Timing(count, seconds, count * RECORD_BYTES, extra))

    def _random_store(self, selected: set[str]) -> None:
        inp = self.inputs
        n = self.cfg.records
        name = self.cls.name
        meter = IOMeter()
        engine, path = self._fresh(durable=False)
        try:

            def fill() -> None:
                seconds, _ = meter.measure(
                    lambda: timed(lambda: engine.fill(inp.keys_random, inp.values_fill))
                )
                if "fillrandom" in selected:
                    extra = _stall_stats(engine)
                    self._record("fillrandom", Timing(n, seconds, n * RECORD_BYTES, extra))

            if not self._attempt("fillrandom", fill):
                return
            user_bytes = n * RECORD_BYTES
            if "overwrite" in selected:

                def overwrite() -> None:
                    seconds, _ = meter.measure(
                        lambda: timed(lambda: engine.fill(inp.keys_overwrite, inp.values_overwrite))
                    )
                    self._record("overwrite", Timing(n, seconds, n * RECORD_BYTES))

                if not self._attempt("overwrite", overwrite):
                    return
                user_bytes += n * RECORD_BYTES

            def compact() -> None:
                seconds, _ = meter.measure(lambda: timed(engine.compact))
                self.cfg.progress(f"[{name}] compaction: {seconds:.2f} s")
                self._measure_amplification(engine, path, meter, user_bytes, seconds)

            if not self._attempt("compaction", compact):
                return
            if "readrandom" in selected:
                self._attempt("readrandom", lambda: self._reads(engine, "readrandom"))
            if "readseq" in selected:
                self._attempt("readseq", lambda: self._reads(engine, "readseq"))
            if "seekrandom" in selected:
                self._attempt("seekrandom", lambda: self._reads(engine, "seekrandom"))
        finally:
            try:
                engine.close()
            finally:
                shutil.rmtree(path, ignore_errors=True)

    def _measure_amplification(
        self, engine: KVEngine, path: str, meter: IOMeter, user_bytes: int, compact_s: float
    ) -> None:
        live_bytes = self.cfg.records * RECORD_BYTES
        disk_bytes = du_bytes(path)
        amp: dict[str, Any] = {
            "user_bytes_written": user_bytes,
            "live_bytes": live_bytes,
            "disk_bytes": disk_bytes,
            "compaction_seconds": round(compact_s, 6),
            "space_amplification": disk_bytes / live_bytes,
            "write_amplification": None,
        }
        reported = engine.engine_stats()
        if meter.is_available:
            wchar = meter.totals.get("wchar", 0)
            write_bytes = meter.totals.get("write_bytes", 0)
            # The store is fresh for this sequence, so the engine's lifetime counter is the
            # measured region's.
            mapped = reported.get("wal_bytes_mapped", 0)
            amp.update(
                engine_bytes_written=wchar + mapped,
                write_syscall_bytes=wchar,
                mapped_bytes_written=mapped,
                page_cache_bytes_written=write_bytes,
                write_amplification=(wchar + mapped) / user_bytes,
                page_cache_write_amplification=write_bytes / user_bytes,
            )
        if reported:
            amp["reported"] = {k: reported[k] for k in REPORTED_STATS if k in reported}
        self.amplification = amp
        wa = amp["write_amplification"]
        self.cfg.progress(
            f"[{self.cls.name}] amplification: write "
            + (f"{wa:.2f}x" if wa is not None else "n/a")
            + f", space {amp['space_amplification']:.2f}x ({disk_bytes:,} bytes on disk)"
            + (f", engine reports {amp['reported']}" if "reported" in amp else "")
        )

    def _reads(self, engine: KVEngine, workload: str) -> None:
        inp = self.inputs
        if workload == "readrandom":
            seconds, (found, nbytes) = timed(lambda: engine.read_random(inp.keys_read))
            ops = len(inp.keys_read)
            extra = {"found": found}
            if found != ops:
                raise AssertionError(f"readrandom found {found} of {ops} keys")
        elif workload == "readseq":
            seconds, (ops, nbytes) = timed(engine.read_seq)
            extra = {}
            if ops != self.cfg.records:
                raise AssertionError(f"readseq saw {ops} entries, expected {self.cfg.records}")
        else:
            seconds, (entries, nbytes) = timed(
                lambda: engine.seek_random(inp.keys_seek, SEEK_NEXTS)
            )
            ops = len(inp.keys_seek)
            extra = {"entries": entries}
        self._record(workload, Timing(ops, seconds, nbytes, extra))


def run_kv(cfg: KVConfig) -> dict[str, Any]:
    """Run the configured engines and workloads; return the results document.

    The document maps engine -> workload -> ops/s, plus per engine "write_amplification" and
    "space_amplification" (None where not measurable) and "mb_per_s" (workload -> MB/s of
    key+value bytes); the baseline is engine "raw" with workload "rawsync". "meta" holds the
    configuration, notes, skipped engines, errors and per-run details; the caller adds the
    machine description. Raises ValueError for unknown engine or workload names.
    """
    unknown = [e for e in cfg.engines if e not in ENGINES]
    unknown += [w for w in cfg.workloads if w not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown engine or workload: {', '.join(unknown)}")
    started = time.time()
    skipped: dict[str, str] = {}
    runnable: list[type[KVEngine]] = []
    for name in cfg.engines:
        why = ENGINES[name].probe()
        if why is None:
            runnable.append(ENGINES[name])
        else:
            skipped[name] = why
            cfg.progress(f"[{name}] skipped: {why}")
    cfg.progress(f"building inputs for {cfg.records:,} records (seed {cfg.seed})")
    inputs = _Inputs(cfg.records, cfg.seed, cfg.sync_writes)
    base = tempfile.mkdtemp(prefix="shale-bench-kv-", dir=cfg.base_dir)
    doc: dict[str, Any] = {}
    details: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    try:
        if "rawsync" in cfg.workloads:
            raw = run_rawsync(base, inputs.keys_sync, inputs.values_fill)
            d = raw.as_dict()
            cfg.progress(
                f"[{RAW_ENGINE}] rawsync: {raw.ops:,} records in {raw.seconds:.2f} s"
                f" = {d['ops_per_s']:,.0f} writes/s"
            )
            doc[RAW_ENGINE] = {"rawsync": d["ops_per_s"], "mb_per_s": {"rawsync": d["mb_per_s"]}}
            details[RAW_ENGINE] = {"results": {"rawsync": d}}
        for cls in runnable:
            root = os.path.join(base, cls.name)
            os.makedirs(root)
            run = _EngineRun(cls, cfg, inputs, root)
            try:
                run.run()
            finally:
                shutil.rmtree(root, ignore_errors=True)
            out = run.as_dict()
            details[cls.name] = out
            if run.errors:
                errors[cls.name] = out["errors"]
            entry: dict[str, Any] = {w: r["ops_per_s"] for w, r in out["results"].items()}
            entry["write_amplification"] = run.amplification.get("write_amplification")
            entry["space_amplification"] = run.amplification.get("space_amplification")
            entry["mb_per_s"] = {w: r["mb_per_s"] for w, r in out["results"].items()}
            doc[cls.name] = entry
    finally:
        shutil.rmtree(base, ignore_errors=True)
    doc["meta"] = {
        "command": "kv",
        "records": cfg.records,
        "seed": cfg.seed,
        "key_size_bytes": KEY_SIZE_BYTES,
        "value_size_bytes": VALUE_SIZE_BYTES,
        "batch_size": BATCH_SIZE,
        "sync_writes": cfg.sync_writes,
        "sync_threads": SYNC_THREADS,
        "seek_nexts": SEEK_NEXTS,
        "engines": [c.name for c in runnable],
        "workloads": [w for w in WORKLOADS if w in cfg.workloads],
        "workload_descriptions": {w: WORKLOADS[w] for w in WORKLOADS if w in cfg.workloads},
        "versions": {k: v for c in runnable for k, v in c.versions().items()},
        "engine_notes": {c.name: list(c.NOTES) for c in runnable},
        "notes": list(NOTES),
        "skipped": skipped,
        "errors": errors,
        "details": details,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 3),
        "base_dir": os.path.dirname(base),
    }
    return doc
