"""YCSB workloads A-F, with every operation's latency recorded, over any engine adapter.

YCSB's records: 10 fields of 100 bytes (1 KB a record), keyed by record number k. How a
record lives in an engine is the adapter's business (bench/ycsb_engines.py): a DynamoDB
item `{pk: "user<k // 100>", sk: k, field0..field9}` in table `usertable` for the DynamoDB
APIs (so a short range scan is a Query of one partition from a start key, the way a
DynamoDB application scans), or the key `user<k, 10 digits>` and the 10 fields
concatenated for key-value stores.

    ycsb-a 50% read / 50% update, zipfian     ycsb-d 95% read latest / 5% insert
    ycsb-b 95% read / 5% update, zipfian      ycsb-e 95% scan of 1..100 / 5% insert, zipfian
    ycsb-c 100% read, zipfian                 ycsb-f 50% read / 50% read-modify-write, zipfian

An update writes one field (a key-value store reads the record and writes it back, as
YCSB's RocksDB binding does); read-modify-write reads the record then updates one field.
The load phase inserts the N records in batches (BatchWriteItem of 25, or the store's
batch); the workloads then run one after another on the loaded store, so inserts of D
and E extend it, as in YCSB's recommended sequence. The operation stream is a pure
function of the seed and the workload: every engine gets the same operations.

Throughput is operations / time spent inside the engine's calls (the harness's own work
between calls, choosing the next key and building values, is not counted); latencies are
per operation kind (read, update, insert, scan, rmw) and for all together.

Kept runnable as `python -m bench.ycsb`, which is `python -m bench` with the YCSB
workloads selected.
"""

from __future__ import annotations

import bisect
import random
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bench.measure import Latencies
from bench.progress import ProgressBar

__all__ = [
    "FIELDS",
    "FIELD_BYTES",
    "PER_PARTITION",
    "TABLE",
    "WORKLOADS",
    "Workload",
    "Zipfian",
    "load",
    "make_fields",
    "run_workload",
]

FIELDS = 10
FIELD_BYTES = 100
PER_PARTITION = 100
TABLE = "usertable"
LOAD_BATCH = 25
MAX_SCAN = 100
PROGRESS_EVERY = 256


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    read: float = 0.0
    update: float = 0.0
    insert: float = 0.0
    scan: float = 0.0
    rmw: float = 0.0
    distribution: str = "zipfian"  # zipfian | latest


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("ycsb-a", "YCSB A: 50% read / 50% update, zipfian", read=0.5, update=0.5),
        Workload("ycsb-b", "YCSB B: 95% read / 5% update, zipfian", read=0.95, update=0.05),
        Workload("ycsb-c", "YCSB C: 100% read, zipfian", read=1.0),
        Workload(
            "ycsb-d",
            "YCSB D: 95% read of recent records / 5% insert",
            read=0.95,
            insert=0.05,
            distribution="latest",
        ),
        Workload(
            "ycsb-e",
            f"YCSB E: 95% scan of 1..{MAX_SCAN} records / 5% insert, zipfian",
            scan=0.95,
            insert=0.05,
        ),
        Workload("ycsb-f", "YCSB F: 50% read / 50% read-modify-write, zipfian", read=0.5, rmw=0.5),
    )
}


class Zipfian:
    """YCSB's scrambled zipfian (theta 0.99) over [0, n), by inverse CDF: popular records
    are spread over the key space rather than bunched at its start."""

    def __init__(self, n: int, rng: random.Random, theta: float = 0.99) -> None:
        self.n = n
        self.rng = rng
        weights = [1.0 / (i + 1) ** theta for i in range(n)]
        total = sum(weights)
        acc = 0.0
        self.cdf = []
        for w in weights:
            acc += w / total
            self.cdf.append(acc)

    def next(self) -> int:
        rank = min(bisect.bisect_left(self.cdf, self.rng.random()), self.n - 1)
        return zlib.crc32(rank.to_bytes(8, "little")) % self.n


def make_fields(rng: random.Random) -> list[str]:
    """One record's 10 fields: 100 printable bytes each (hex of 50 random bytes)."""
    return [rng.randbytes(FIELD_BYTES // 2).hex() for _ in range(FIELDS)]


class Engine(Protocol):
    """What bench/ycsb_engines.py adapters provide."""

    def insert_batch(self, ks: Sequence[int], fields: Sequence[list[str]]) -> None: ...
    def insert(self, k: int, fields: list[str]) -> None: ...
    def read(self, k: int) -> bool: ...
    def update(self, k: int, field: int, value: str) -> None: ...
    def scan(self, k: int, count: int) -> int: ...


def load(engine: Engine, records: int, seed: int, label: str) -> dict[str, Any]:
    """Insert records 0..records-1 in batches; return the timing and insert latencies
    (one sample per batch, divided by its size: the batch is the atomic unit)."""
    rng = random.Random(seed)
    bar = ProgressBar(records, f"{label} load", unit="records")
    busy = 0.0
    clock = time.perf_counter
    batch_latencies = Latencies()
    for start in range(0, records, LOAD_BATCH):
        ks = list(range(start, min(records, start + LOAD_BATCH)))
        fields = [make_fields(rng) for _ in ks]
        t0 = clock()
        engine.insert_batch(ks, fields)
        spent = clock() - t0
        busy += spent
        batch_latencies.add("batch", spent)
        bar.update(ks[-1] + 1)
    bar.close()
    return {
        "records": records,
        "seconds": round(busy, 6),
        "ops_per_s": records / max(busy, 1e-9),
        "latency_us": batch_latencies.summary(),
    }


def run_workload(
    engine: Engine,
    workload: Workload,
    records: int,
    inserted: int,
    ops: int,
    seed: int,
    label: str,
    max_seconds: float | None = None,
) -> tuple[dict[str, Any], int]:
    """Run `ops` operations of `workload` on a store holding records 0..inserted-1 (the
    zipfian draws from the first `records`); return (result, records now in the store).
    With `max_seconds`, stop early once that much wall time has passed (a slow engine
    then reports the operations it did, and `stopped_early`)."""
    rng = random.Random(f"{seed}:{workload.name}")
    zipf = Zipfian(records, rng) if workload.distribution == "zipfian" else None
    latencies = Latencies()
    add = latencies.add
    clock = time.perf_counter
    bar = ProgressBar(ops, f"{label} {workload.name}")
    cuts = _cuts(workload)
    update_value = "u" * FIELD_BYTES
    found = 0
    scanned = 0
    deadline = None if max_seconds is None else clock() + max_seconds
    done = ops
    for i in range(ops):
        if deadline is not None and i % 16 == 0 and clock() > deadline:
            done = i
            break
        r = rng.random()
        kind = next(name for name, cut in cuts if r < cut)
        if kind == "insert":
            fields = make_fields(rng)
            t0 = clock()
            engine.insert(inserted, fields)
            add("insert", clock() - t0)
            inserted += 1
        else:
            if zipf is not None:
                k = zipf.next()
            else:  # latest: recently inserted records are the most read
                k = max(0, inserted - 1 - int(rng.expovariate(1 / 20)))
            if kind == "read":
                t0 = clock()
                hit = engine.read(k)
                add("read", clock() - t0)
                found += hit
            elif kind == "update":
                field = rng.randrange(FIELDS)
                t0 = clock()
                engine.update(k, field, update_value)
                add("update", clock() - t0)
            elif kind == "scan":
                count = rng.randint(1, MAX_SCAN)
                t0 = clock()
                scanned += engine.scan(k, count)
                add("scan", clock() - t0)
            else:  # rmw
                field = rng.randrange(FIELDS)
                t0 = clock()
                found += engine.read(k)
                engine.update(k, field, update_value)
                add("rmw", clock() - t0)
        if i % PROGRESS_EVERY == 0:
            bar.update(i)
    bar.update(done)
    summary = latencies.summary()
    busy = summary["all"].get("mean_us", 0.0) * done / 1e6
    early = f", stopped at --max-seconds after {done:,} of {ops:,}" if done < ops else ""
    bar.close(f"(engine time {busy:.2f} s{early})")
    result = {
        "ops": done,
        "stopped_early": done < ops,
        "seconds": round(busy, 6),
        "ops_per_s": done / max(busy, 1e-9),
        "reads_found": found,
        "scanned_records": scanned,
        "latency_us": summary,
    }
    return result, inserted


def _cuts(workload: Workload) -> list[tuple[str, float]]:
    out = []
    acc = 0.0
    for kind in ("read", "update", "insert", "scan", "rmw"):
        share = getattr(workload, kind)
        if share:
            acc += share
            out.append((kind, acc))
    out[-1] = (out[-1][0], 1.1)  # rounding never leaves a draw without an operation
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.ycsb [options]`: `python -m bench --workload ycsb-a,...,ycsb-f`."""
    from bench.__main__ import main as bench_main

    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--workload" or a.startswith("--workload=") for a in args):
        args += ["--workload", ",".join(WORKLOADS)]
    return bench_main(args)


if __name__ == "__main__":
    sys.exit(main())
