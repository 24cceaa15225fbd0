"""Measuring tools for the benchmarks: timers, I/O counters, disk usage, threaded writers.

`timed` runs a loop with the garbage collector paused and returns wall seconds; `IOMeter`
sums /proc/<pid>/io deltas of this process and its live children (bytes passed to write(2)
as `wchar`, page-cache bytes as `write_bytes`) over the regions it measures;
`du_bytes` is the allocated size of a directory; `run_threads` drives N writer threads from
a start barrier; `run_rawsync` is the os.write + os.fdatasync floor; `Latencies` keeps every
operation's latency per operation kind (8 bytes each, in an array) and `percentiles` reads
p50..p99.9 and max out of them. Nothing here knows about engines or workloads.

Thread-safety: `run_threads` starts and joins its own threads; everything else is meant for
one thread.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PERCENTILES",
    "IOMeter",
    "Latencies",
    "Timing",
    "du_bytes",
    "latency_summary",
    "percentiles",
    "read_proc_io",
    "run_rawsync",
    "run_threads",
    "timed",
]


def _proc_io(pid: str) -> dict[str, int] | None:
    try:
        with open(f"/proc/{pid}/io") as f:
            return {k: int(v) for k, v in (line.split(":") for line in f)}
    except OSError:
        return None


def _child_pids() -> list[str]:
    pids: list[str] = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.extend(f.read().split())
    except OSError:
        pass
    return pids


def read_proc_io() -> dict[str, int] | None:
    """I/O counters of this process plus its live child processes (engines that run
    background work in worker processes are charged for it too)."""
    totals = _proc_io("self")
    if totals is None:
        return None
    for pid in _child_pids():
        child = _proc_io(pid)
        for k, v in (child or {}).items():
            totals[k] = totals.get(k, 0) + v
    return totals


def du_bytes(path: str) -> int:
    """Allocated bytes of every file under `path` (what `du -s --bytes` would charge)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            total += st.st_blocks * 512
    return total


class IOMeter:
    """Sums /proc/self/io deltas over the regions it is asked to measure."""

    def __init__(self) -> None:
        self.is_available = read_proc_io() is not None
        self.totals: dict[str, int] = {}

    def measure(self, fn: Callable[[], Any]) -> Any:
        before = read_proc_io()
        result = fn()
        after = read_proc_io()
        if before is not None and after is not None:
            for k in after:
                self.totals[k] = self.totals.get(k, 0) + after[k] - before[k]
        return result


@dataclass
class Timing:
    ops: int
    seconds: float
    bytes: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        seconds = max(self.seconds, 1e-9)
        return {
            "ops": self.ops,
            "seconds": round(self.seconds, 6),
            "bytes": self.bytes,
            "ops_per_s": self.ops / seconds,
            "mb_per_s": self.bytes / seconds / 1e6,
            **self.extra,
        }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = fn()
        return time.perf_counter() - t0, result
    finally:
        gc.enable()


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    if not latencies_s:
        return {}
    ordered = sorted(latencies_s)
    return {
        "latency_p50_us": statistics.median(ordered) * 1e6,
        "latency_p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
    }


def run_threads(
    make_put: Callable[[], Callable[[bytes, bytes], None]],
    keys: Sequence[bytes],
    values: Sequence[bytes],
    threads: int,
) -> tuple[float, list[float]]:
    """Write keys/values from `threads` threads, each taking every threads-th pair.

    Each thread gets its writer from make_put() before the start barrier. Returns the wall
    time from the barrier to the last acknowledgement, and every put's latency.
    """
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    clock = time.perf_counter

    def worker(i: int) -> None:
        try:
            put = make_put()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
            return
        out = latencies[i]
        try:
            barrier.wait()
            for k, v in zip(keys[i::threads], values[i::threads]):
                t0 = clock()
                put(k, v)
                out.append(clock() - t0)
        except BaseException as exc:
            errors.append(exc)

    pool = [
        threading.Thread(target=worker, args=(i,), name=f"fillsync-{i}") for i in range(threads)
    ]
    for t in pool:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    t0 = clock()
    for t in pool:
        t.join()
    elapsed = clock() - t0
    if errors:
        raise errors[0]
    return elapsed, [x for per in latencies for x in per]


def run_rawsync(base_dir: str, keys: Sequence[bytes], values: Sequence[bytes]) -> Timing:
    """The fsync floor: append each key+value to a plain file, fdatasync after each."""
    path = os.path.join(base_dir, "rawsync.log")
    records = [k + v for k, v in zip(keys, values)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    latencies: list[float] = []
    clock = time.perf_counter
    write, fdatasync, note = os.write, os.fdatasync, latencies.append

    def loop() -> None:
        for rec in records:
            t0 = clock()
            write(fd, rec)
            fdatasync(fd)
            note(clock() - t0)

    try:
        seconds, _ = timed(loop)
    finally:
        os.close(fd)
        os.unlink(path)
    return Timing(len(records), seconds, sum(map(len, records)), latency_summary(latencies))


# Percentile name -> fraction, in report order.
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}


def percentiles(latencies_s: Sequence[float]) -> dict[str, float]:
    """count, mean, PERCENTILES and max of latencies in seconds, reported in microseconds
    (nearest-rank percentiles: the smallest value with at least that share at or below
    it). Empty input gives {"count": 0}."""
    n = len(latencies_s)
    if n == 0:
        return {"count": 0}
    ordered = sorted(latencies_s)
    out: dict[str, float] = {"count": n, "mean_us": sum(ordered) / n * 1e6}
    for name, q in PERCENTILES.items():
        rank = max(1, math.ceil(q * n))
        out[f"{name}_us"] = ordered[rank - 1] * 1e6
    out["max_us"] = ordered[-1] * 1e6
    return out


class Latencies:
    """Every operation's latency, by operation kind (`read`, `update`, ...).

    `add(kind, seconds)` appends to a compact array('d'); a million operations cost 8 MB.
    `summary()` gives `percentiles` per kind and for all kinds together (`all`).
    """

    def __init__(self) -> None:
        self.by_kind: dict[str, array] = {}

    def add(self, kind: str, seconds: float) -> None:
        samples = self.by_kind.get(kind)
        if samples is None:
            samples = self.by_kind[kind] = array("d")
        samples.append(seconds)

    def __len__(self) -> int:
        return sum(len(a) for a in self.by_kind.values())

    def summary(self) -> dict[str, dict[str, float]]:
        out = {kind: percentiles(samples) for kind, samples in sorted(self.by_kind.items())}
        everything = array("d")
        for samples in self.by_kind.values():
            everything.extend(samples)
        out["all"] = percentiles(everything)
        return out
