"""Micro-benchmarks of the k-way merge, bloom filter and block search (pytest-benchmark).

Run with `pytest bench/micro --benchmark-enable`. Each merge benchmark merges
4 runs of 250k entries with 16-byte keys (interleaved, so every output switches
runs) in READ mode, refilling 4096-entry chunks as an SSTable reader would, and
records entries/s in the benchmark's extra_info.
"""

from __future__ import annotations

import random
import time

import pytest
from engine._native import ffi, lib

from engine.codec import (
    KIND_VALUE,
    MERGE_DONE,
    MERGE_NEED_REFILL,
    MERGE_READ,
    Merger,
    PyMerger,
    bloom_build,
    bloom_may_contain,
    lower_bound,
    make_run_buffer,
)

NRUNS = 4
PER_RUN = 250_000
CHUNK = 4096
TOTAL = NRUNS * PER_RUN


def make_runs(nruns: int = NRUNS, per_run: int = PER_RUN) -> list[tuple[bytes, int, int, int]]:
    """Runs whose keys interleave: key j (16 bytes) lives in run j % nruns."""
    runs = []
    for r in range(nruns):
        entries = [
            (b"%016d" % j, (j + 1) << 8 | KIND_VALUE) for j in range(r, nruns * per_run, nruns)
        ]
        runs.append(make_run_buffer(entries))
    return runs


@pytest.fixture(scope="module")
def runs() -> list[tuple[bytes, int, int, int]]:
    return make_runs()


def merge_all(cls: type, runs: list, out_cap: int = 1024) -> int:
    """Merge every run through the Python wrapper; return the number of outputs."""
    merger = cls(len(runs), reverse=False, mode=MERGE_READ, snapshots=[1 << 55], out_cap=out_cap)
    filled = [0] * len(runs)
    emitted = 0
    while True:
        status, out_runs, _, refill = merger.step()
        emitted += len(out_runs)
        if status == MERGE_DONE:
            return emitted
        if status == MERGE_NEED_REFILL:
            lo = filled[refill]
            hi = min(lo + CHUNK, PER_RUN)
            filled[refill] = hi
            merger.set_run(refill, *runs[refill], lo, hi, lo, hi == PER_RUN)


@pytest.mark.parametrize("cls", [Merger, PyMerger], ids=["native", "twin"])
def test_merge_4x250k(benchmark, runs: list, cls: type) -> None:
    rounds = 5 if cls is Merger else 1
    start = time.perf_counter()
    result = benchmark.pedantic(merge_all, args=(cls, runs), rounds=rounds, iterations=1)
    assert result == TOTAL
    benchmark.extra_info["entries_per_s"] = round(TOTAL / benchmark.stats.stats.min)
    del start


def test_merge_4x250k_native_core(benchmark, runs: list) -> None:
    """The C loop alone: one shale_merge_step over whole runs, outputs not unpacked."""
    cruns = ffi.new("shale_run[]", NRUNS)
    keep = []
    for r, (buf, keys_at, offs_at, trailers_at) in enumerate(runs):
        cd = ffi.from_buffer("uint8_t[]", buf)
        keep.append(cd)
        cruns[r].keys, cruns[r].offs, cruns[r].trailers = (
            cd + keys_at,
            cd + offs_at,
            cd + trailers_at,
        )
        cruns[r].hi, cruns[r].finished = PER_RUN, 1
    snaps = ffi.new("uint64_t[]", [1 << 55])
    out_run = ffi.new("uint32_t[]", TOTAL)
    out_idx = ffi.new("int64_t[]", TOTAL)
    out_n, refill = ffi.new("uint32_t *"), ffi.new("uint32_t *")

    def once() -> int:
        for r in range(NRUNS):
            cruns[r].next = 0
        lib.shale_merge_step(
            cruns, NRUNS, 0, MERGE_READ, snaps, 1, 0, out_run, out_idx, TOTAL, out_n, refill
        )
        return out_n[0]

    assert benchmark.pedantic(once, rounds=10, iterations=1) == TOTAL
    benchmark.extra_info["entries_per_s"] = round(TOTAL / benchmark.stats.stats.min)


@pytest.fixture(scope="module")
def bloom() -> tuple[bytes, list[bytes]]:
    keys = [b"user#%011d" % i for i in range(100_000)]
    buf, keys_at, offs_at, _ = make_run_buffer([(k, 0) for k in keys])
    return bloom_build(buf, keys_at, offs_at, len(keys), 10), keys


def test_bloom_may_contain(benchmark, bloom: tuple) -> None:
    filt, keys = bloom
    probe = random.Random(1).sample(keys, 1000)

    def run() -> None:
        for key in probe:
            bloom_may_contain(filt, key)

    benchmark(run)
    benchmark.extra_info["ns_per_call"] = round(benchmark.stats.stats.min / len(probe) * 1e9)


def test_lower_bound_in_4k_block(benchmark) -> None:
    keys = sorted(b"%016d" % random.Random(2).randrange(10**15) for _ in range(256))
    buf, keys_at, offs_at, _ = make_run_buffer([(k, 0) for k in keys])
    probe = [b"%016d" % random.Random(3).randrange(10**15) for _ in range(1000)]

    def run() -> None:
        for key in probe:
            lower_bound(buf, keys_at, offs_at, 0, len(keys), key)

    benchmark(run)
    benchmark.extra_info["ns_per_call"] = round(benchmark.stats.stats.min / len(probe) * 1e9)
