"""Machine description and the markdown rendering of a `bench kv` results document.

A benchmark number is meaningless without the machine it came from, so every report carries
the CPU model, core count, memory, kernel, Python and the versions of every engine package,
and the filesystem the stores lived on (fsync cost is mostly a property of that).

`render_markdown` turns the document `bench.kv.run_kv` returns into a table with one row per
workload and one column per engine (ops/s), two rows for write and space amplification, and
the notes that say how each engine was configured. `render_harness_markdown` does the same
for a `python -m bench` document (bench/harness.py): throughput, latency percentiles, what
each engine measures, the charts and every skip, error and note. Pure functions; safe from
any thread.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from typing import Any

__all__ = ["describe_machine", "render_harness_markdown", "render_markdown"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _filesystem(path: str) -> str:
    """Filesystem type and mount point holding `path`, from /proc/mounts."""
    path = os.path.realpath(path)
    best = ("", "unknown")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount, fstype = fields[1], fields[2]
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) > len(best[0]):
                    best = (mount, fstype)
    except OSError:
        pass
    return f"{best[1]} at {best[0] or '?'}"


def _git_commit() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def describe_machine(data_dir: str) -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python and the filesystem under `data_dir`."""
    ram = _ram_bytes()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable,
        "ram_bytes": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "filesystem": _filesystem(data_dir),
        "shaledb_commit": _git_commit(),
    }


def _fmt_ops(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _fmt_amp(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def render_markdown(doc: dict[str, Any]) -> str:
    """The report: heading, machine, table (workloads x engines, ops/s) and notes."""
    meta = doc["meta"]
    engines = list(meta["engines"])
    columns = engines + (["raw"] if "raw" in doc else [])
    machine = meta.get("machine", {})
    lines = [
        f"## bench kv: N = {meta['records']:,} records, {meta['key_size_bytes']}-byte keys, "
        f"{meta['value_size_bytes']}-byte values",
        "",
    ]
    if machine:
        ram = machine.get("ram_bytes")
        ram_s = f"{ram / 2**30:.1f} GiB RAM" if ram else "RAM unknown"
        lines.append(
            f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores, {ram_s}, "
            f"{machine['os']}, {machine['python']}, stores on {machine['filesystem']}"
            + (f", shaledb commit {commit}" if (commit := machine.get("shaledb_commit")) else "")
        )
        lines.append("")
    if meta.get("versions"):
        lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
        lines.append("")
    lines.append("| workload | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    for workload in meta["workloads"]:
        cells = []
        for engine in columns:
            cells.append(_fmt_ops(doc.get(engine, {}).get(workload)))
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    if engines:
        for key, label in (
            ("write_amplification", "write amplification"),
            ("space_amplification", "space amplification"),
        ):
            cells = [_fmt_amp(doc[e].get(key)) for e in engines]
            if "raw" in doc:
                cells.append("-")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Units: ops/s. fillsync: acknowledged writes/s, {meta['sync_writes']:,} writes from "
        f"{meta['sync_threads']} threads; rawsync: the same count of 116-byte os.write + "
        f"os.fdatasync from one thread; readseq: entries/s; seekrandom: seeks/s "
        f"({meta['seek_nexts']} entries each). MB/s, latencies and byte counts are in the JSON."
    )
    lines.append("")
    notes = [f"- {n}" for n in meta.get("notes", [])]
    for engine, engine_notes in meta.get("engine_notes", {}).items():
        notes += [f"- {engine}: {n}" for n in engine_notes]
    for engine, amp in meta.get("details", {}).items():
        reported = amp.get("amplification", {}).get("reported")
        if reported:
            shown = ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in reported.items()
            )
            notes.append(f"- {engine} reports itself: {shown}")
    for engine, why in meta.get("skipped", {}).items():
        notes.append(f"- {engine}: skipped ({why})")
    for engine, errs in meta.get("errors", {}).items():
        for workload, err in errs.items():
            notes.append(f"- {engine}: {workload} failed: {err}")
    if notes:
        lines.append("Notes:")
        lines += notes
        lines.append("")
    return "\n".join(lines)


def _machine_line(machine: dict[str, Any]) -> str:
    ram = machine.get("ram_bytes")
    ram_s = f"{ram / 2**30:.1f} GiB RAM" if ram else "RAM unknown"
    line = (
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores"
        f" ({machine.get('cpu_cores_usable', '?')} usable), {ram_s}, {machine['os']},"
        f" {machine['python']}, stores on {machine['filesystem']}"
    )
    if machine.get("shaledb_commit"):
        line += f", shaledb commit {machine['shaledb_commit']}"
    return line


def _fmt_us(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def render_harness_markdown(doc: dict[str, Any]) -> str:
    """The report of a `python -m bench` run (bench/harness.py's document)."""
    meta = doc["meta"]
    engines = list(meta["engines"])
    results = doc["results"]
    ycsb = bool(doc.get("load"))
    lines = [
        f"## python -m bench: N = {meta['records']:,} records"
        + (f", {meta['ops']:,} operations per ycsb workload" if ycsb else ""),
        "",
    ]
    if meta.get("command"):
        lines += [f"Command: `{meta['command']}`", ""]
    if meta.get("machine"):
        lines += [_machine_line(meta["machine"]), ""]
    if meta.get("versions"):
        lines += ["Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()), ""]
    rows = ([("ycsb load", doc["load"])] if ycsb else []) + [
        (w, results.get(w, {})) for w in meta["workloads"]
    ]
    if engines:
        lines.append("### Throughput (operations/s, higher is better)")
        lines.append("")
        lines.append("| workload | " + " | ".join(engines) + " |")
        lines.append("|---|" + "---:|" * len(engines))
        for label, by_engine in rows:
            cells = [_fmt_ops(by_engine.get(e, {}).get("ops_per_s")) for e in engines]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    latency_rows = [
        (w, e, r[e]["latency_us"]["all"])
        for w in meta["workloads"]
        for r in [results.get(w, {})]
        for e in engines
        if e in r and "latency_us" in r[e] and r[e]["latency_us"].get("all", {}).get("count")
    ]
    if latency_rows:
        lines.append("### Latency of all operations (µs, lower is better)")
        lines.append("")
        lines.append("| workload | engine | ops | mean | p50 | p95 | p99 | p99.9 | max |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for w, e, lat in latency_rows:
            cells = [f"{lat['count']:,}"] + [
                _fmt_us(lat.get(f"{k}_us")) for k in ("mean", "p50", "p95", "p99", "p99.9", "max")
            ]
            lines.append(f"| {w} | {e} | " + " | ".join(cells) + " |")
        lines.append("")
        early = [
            f"{e} {w} ({r[e]['ops']:,} ops)"
            for w in meta["workloads"]
            for r in [results.get(w, {})]
            for e in engines
            if r.get(e, {}).get("stopped_early")
        ]
        if early:
            lines.append(
                f"Stopped at --max-seconds {meta.get('max_seconds')}: " + ", ".join(early) + "."
            )
            lines.append("")
        lines.append("Per operation kind (read, update, insert, scan, rmw) in the JSON.")
        lines.append("")
    charts = meta.get("charts") or {}
    if charts:
        lines += [f"![{name}]({name})" for name in charts] + [""]
    if meta.get("chart_note"):
        lines += [meta["chart_note"], ""]
    if meta.get("engine_levels"):
        lines.append("### What each engine is")
        lines.append("")
        for engine, levels in meta["engine_levels"].items():
            text = "; ".join(f"{family}: {level}" for family, level in levels.items())
            lines.append(f"- {engine}: {text}")
        lines.append("")
    notes = [f"- {n}" for n in meta.get("notes", [])]
    for engine, engine_notes in meta.get("engine_notes", {}).items():
        notes += [f"- {engine}: {n}" for n in dict.fromkeys(engine_notes)]
    kv = doc.get("kv")
    if kv:
        for engine in kv["meta"]["engines"]:
            wa = kv.get(engine, {}).get("write_amplification")
            sa = kv.get(engine, {}).get("space_amplification")
            notes.append(
                f"- {engine} (kv): write amplification {_fmt_amp(wa)},"
                f" space amplification {_fmt_amp(sa)}"
            )
    for engine, why in meta.get("skipped", {}).items():
        notes.append(f"- {engine}: skipped ({why})")
    for engine, by_family in meta.get("not_applicable", {}).items():
        for family, why in by_family.items():
            notes.append(f"- {engine}: no {family} workloads ({why})")
    for engine, errs in meta.get("errors", {}).items():
        for workload, err in errs.items():
            notes.append(f"- {engine}: {workload} failed: {err}")
    if notes:
        lines.append("Notes:")
        lines += notes
        lines.append("")
    return "\n".join(lines)


def save_outputs(
    data: Any, markdown: str, *, json_path: str | None = None, markdown_path: str | None = None
) -> None:
    """Write ``data`` as JSON to ``json_path`` and ``markdown`` to ``markdown_path``, where
    given (parent folders are created): what every bench command's --json and --markdown
    do."""
    outputs = (
        (json_path, json.dumps(data, indent=2, default=str) + "\n"),
        (markdown_path, markdown),
    )
    for path, text in outputs:
        if path:
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
