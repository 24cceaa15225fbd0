"""`python -m bench`: any workloads on any engines, side by side, in one run.

Two families of workloads share the command line:
- kv (bench/kv.py, db_bench's): fillseq, fillrandom, overwrite, fillbatch, fillsync, rawsync,
  readrandom, readseq, seekrandom, on key-value engines (shale = engine.storage, lmdb,
  sqlite, rocksdict, plyvel). Their loops are timed whole, so only throughput (and fillsync's
  latencies) come out of them;
- ycsb (bench/ycsb.py): ycsb-a..ycsb-f with every operation's latency, on the DynamoDB APIs
  (shale embedded, shale-server, moto, dynalite) and on the key-value engines
  (shale-storage, lmdb, sqlite, rocksdict, plyvel).

An engine that is not installed here is skipped with a note that says why; a combination
that does not apply (moto has no key-value workloads) is noted too; an engine that fails
in a workload has the error recorded and the run goes on. The results document (JSON) has
`results[workload][engine]` with ops, seconds, ops/s and latency percentiles, the kv
harness's own document under `kv`, and `meta` (machine, versions, engine levels and notes,
what was skipped and why). `write_outputs` writes it as results.json, results.md and PNG
charts (bench/charts.py; skipped with a note when matplotlib is missing).

Not thread-safe: one run at a time. Progress goes to stderr, nothing else prints.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.charts import make_charts
from bench.engines import ENGINES as KV_ENGINES
from bench.kv import WORKLOADS as KV_WORKLOADS
from bench.kv import KVConfig, run_kv
from bench.report import describe_machine, render_harness_markdown, save_outputs
from bench.ycsb import WORKLOADS as YCSB_WORKLOADS
from bench.ycsb import load, run_workload
from bench.ycsb_engines import YCSB_ENGINES

__all__ = ["ALL_ENGINES", "ALL_WORKLOADS", "HarnessConfig", "run", "write_outputs"]

# Workload name -> (family, description), in report order.
ALL_WORKLOADS: dict[str, tuple[str, str]] = {
    **{name: ("kv", text) for name, text in KV_WORKLOADS.items()},
    **{name: ("ycsb", w.description) for name, w in YCSB_WORKLOADS.items()},
}
# Report order: ShaleDB's three faces, the key-value peers, then the DynamoDB stand-ins.
_ORDER = ("shale", "shale-storage", "shale-server", "lmdb", "sqlite", "rocksdict", "plyvel")
ALL_ENGINES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [*(e for e in _ORDER if e in KV_ENGINES or e in YCSB_ENGINES), *KV_ENGINES, *YCSB_ENGINES]
    )
)
KV_LEVELS = {"shale": "ShaleDB's storage engine (engine.storage), bytes to bytes"}

NOTES = (
    "ycsb: throughput = operations / time inside the engine's calls; latencies per operation "
    "(read, update, insert, scan, rmw and all), microseconds; the load phase inserts the "
    "records in batches of 25 and is reported as `load`",
    "kv: db_bench-style loops timed whole (see bench/kv.py); ops/s only, fillsync also "
    "records p50/p99 latency",
    "one process, one thread per engine (fillsync: 8 threads); engines run one after another "
    "on fresh directories under the temporary directory",
)


@dataclass
class HarnessConfig:
    engines: list[str]
    workloads: list[str]
    records: int
    ops: int
    seed: int = 301
    base_dir: str | None = None
    max_seconds: float | None = None  # per ycsb workload and engine
    say: Callable[[str], None] = field(
        default=lambda line: print(line, file=sys.stderr, flush=True)
    )


def family_engines(family: str) -> dict[str, Any]:
    return dict(KV_ENGINES) if family == "kv" else dict(YCSB_ENGINES)


def probe_all() -> dict[str, dict[str, str | None]]:
    """engine -> family -> None (usable here), a reason it is skipped, or "n/a"."""
    out: dict[str, dict[str, str | None]] = {}
    for name in ALL_ENGINES:
        out[name] = {}
        for family in ("kv", "ycsb"):
            cls = family_engines(family).get(name)
            out[name][family] = "n/a" if cls is None else cls.probe()
    return out


def _not_applicable(name: str, family: str) -> str:
    if family == "kv":
        if name in ("moto", "dynalite", "shale-server"):
            return "a DynamoDB API, not a key-value store: runs the ycsb workloads only"
        if name == "shale-storage":
            return "kv workloads run ShaleDB's storage engine as `shale`"
    return f"no {family} adapter"


def run(cfg: HarnessConfig) -> dict[str, Any]:
    """Run the selected workloads on the selected engines; return the results document."""
    started = time.time()
    families = {ALL_WORKLOADS[w][0] for w in cfg.workloads}
    results: dict[str, dict[str, Any]] = {w: {} for w in cfg.workloads}
    meta: dict[str, Any] = {
        "records": cfg.records,
        "ops": cfg.ops,
        "seed": cfg.seed,
        "max_seconds": cfg.max_seconds,
        "engines_requested": list(cfg.engines),
        "workloads": list(cfg.workloads),
        "workload_descriptions": {w: ALL_WORKLOADS[w][1] for w in cfg.workloads},
        "engines": [],
        "engine_levels": {},
        "engine_notes": {},
        "versions": {},
        "skipped": {},
        "not_applicable": {},
        "errors": {},
        "notes": list(NOTES),
    }
    doc: dict[str, Any] = {"results": results, "meta": meta}
    for family in ("kv", "ycsb"):
        if family not in families:
            continue
        runnable = []
        for name in cfg.engines:
            cls = family_engines(family).get(name)
            if cls is None:
                meta["not_applicable"].setdefault(name, {})[family] = _not_applicable(name, family)
                continue
            why = cls.probe()
            if why is not None:
                meta["skipped"][name] = why
                cfg.say(f"[{name}] skipped: {why}")
                continue
            runnable.append(name)
            meta["versions"].update(cls.versions())
            level = cls.LEVEL if family == "ycsb" else KV_LEVELS.get(name, "key-value store")
            meta["engine_levels"].setdefault(name, {})[family] = level
            meta["engine_notes"].setdefault(name, []).extend(cls.NOTES)
        for name in runnable:
            if name not in meta["engines"]:
                meta["engines"].append(name)
        workloads = [w for w in cfg.workloads if ALL_WORKLOADS[w][0] == family]
        if family == "kv" and runnable:
            _run_kv(cfg, runnable, workloads, doc)
        elif family == "ycsb":
            for name in runnable:
                _run_ycsb(cfg, name, workloads, doc)
    meta["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    meta["elapsed_s"] = round(time.time() - started, 3)
    meta["machine"] = describe_machine(cfg.base_dir or tempfile.gettempdir())
    return doc


def _run_kv(cfg: HarnessConfig, engines: list[str], workloads: list[str], doc: dict) -> None:
    kv_cfg = KVConfig(
        records=cfg.records,
        engines=engines,
        workloads=[w for w in KV_WORKLOADS if w in workloads],
        seed=cfg.seed,
        base_dir=cfg.base_dir,
        progress=cfg.say,
    )
    kv_doc = run_kv(kv_cfg)
    doc["kv"] = kv_doc
    details = kv_doc["meta"]["details"]
    for engine, out in details.items():
        for workload, result in out.get("results", {}).items():
            if workload in doc["results"]:
                doc["results"][workload][engine] = result
        for workload, error in out.get("errors", {}).items():
            doc["meta"]["errors"].setdefault(engine, {})[workload] = error


def _run_ycsb(cfg: HarnessConfig, name: str, workloads: list[str], doc: dict) -> None:
    engine = YCSB_ENGINES[name]()
    path = tempfile.mkdtemp(prefix=f"shale-bench-{name}-", dir=cfg.base_dir)
    errors = doc["meta"]["errors"]
    label = f"[{name}]"
    try:
        try:
            engine.open(path)
        except Exception as exc:
            errors.setdefault(name, {})["open"] = f"{type(exc).__name__}: {exc}"
            cfg.say(f"{label} FAILED to open: {errors[name]['open']}")
            return
        try:
            doc.setdefault("load", {})[name] = load(engine, cfg.records, cfg.seed, label)
        except Exception as exc:
            errors.setdefault(name, {})["load"] = f"{type(exc).__name__}: {exc}"
            cfg.say(f"{label} load FAILED: {errors[name]['load']}")
            return
        inserted = cfg.records
        for workload in workloads:
            try:
                result, inserted = run_workload(
                    engine,
                    YCSB_WORKLOADS[workload],
                    cfg.records,
                    inserted,
                    cfg.ops,
                    cfg.seed,
                    label,
                    cfg.max_seconds,
                )
            except Exception as exc:
                errors.setdefault(name, {})[workload] = f"{type(exc).__name__}: {exc}"
                cfg.say(f"{label} {workload} FAILED: {errors[name][workload]}")
                continue
            doc["results"][workload][name] = result
    finally:
        try:
            engine.close()
        except Exception as exc:
            cfg.say(f"{label} close failed: {type(exc).__name__}: {exc}")
        shutil.rmtree(path, ignore_errors=True)


def write_outputs(doc: dict[str, Any], out_dir: str) -> dict[str, str]:
    """results.json, results.md and the charts in `out_dir`; return what was written
    (name -> path) and record chart notes in the document."""
    os.makedirs(out_dir, exist_ok=True)
    charts, note = make_charts(doc, out_dir)
    doc["meta"]["charts"] = {os.path.basename(p): p for p in charts}
    if note:
        doc["meta"]["chart_note"] = note
    written = {os.path.basename(p): p for p in charts}
    md_path = os.path.join(out_dir, "results.md")
    json_path = os.path.join(out_dir, "results.json")
    save_outputs(doc, render_harness_markdown(doc), json_path=json_path, markdown_path=md_path)
    written["results.md"] = md_path
    written["results.json"] = json_path
    return written
