"""PNG charts of a `python -m bench` results document (matplotlib, optional).

- throughput.png: ops/s per workload, one bar per engine (log scale when the engines are
  more than 30x apart, which DynamoDB APIs over HTTP and in-process stores are);
- latency.png: for each workload with per-operation latencies (ycsb), p50..p99.9 of all
  its operations, one line per engine, log scale.

Each engine keeps one colour in every chart. matplotlib is in the `bench` extra, never
imported by engine/; without it `make_charts` returns no files and a note that says so.
Uses the Agg backend (no display needed). Not thread-safe (pyplot's global state).
"""

from __future__ import annotations

import os
from typing import Any

from bench.measure import PERCENTILES

__all__ = ["make_charts"]

COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
MISSING = "charts skipped: matplotlib is not installed (pip install -e '.[bench]')"


def _rows(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, engine -> result) per chart row: the ycsb load first, then each workload."""
    rows = []
    if doc.get("load"):
        rows.append(("ycsb load", doc["load"]))
    rows += [(w, r) for w, r in doc["results"].items() if r]
    return rows


def make_charts(doc: dict[str, Any], out_dir: str) -> tuple[list[str], str | None]:
    """Write the charts into `out_dir`; return (paths written, note or None)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], MISSING
    engines = list(doc["meta"]["engines"])
    colour = {e: COLOURS[i % len(COLOURS)] for i, e in enumerate(engines)}
    meta = doc["meta"]
    subtitle = f"N = {meta['records']:,} records" + (
        f", {meta['ops']:,} ops per ycsb workload" if doc.get("load") else ""
    )
    machine = meta.get("machine") or {}
    if machine:
        subtitle += f"; {machine.get('cpu_model', '?')}, {machine.get('cpu_cores', '?')} cores"
    paths = []
    rows = _rows(doc)
    if rows and engines:
        paths.append(_throughput(plt, rows, engines, colour, subtitle, out_dir))
    latency_rows = [
        (w, r) for w, r in doc["results"].items() if any("latency_us" in x for x in r.values())
    ]
    if latency_rows:
        paths.append(_latency(plt, latency_rows, engines, colour, subtitle, out_dir))
    return paths, None


def _throughput(plt, rows, engines, colour, subtitle, out_dir) -> str:
    fig, ax = plt.subplots(figsize=(max(6.5, 1.1 * len(rows) + 3.5), 4.2), dpi=100)
    width = 0.8 / len(engines)
    values = [r[e]["ops_per_s"] for _, r in rows for e in engines if e in r]
    for i, engine in enumerate(engines):
        offset = (i - (len(engines) - 1) / 2) * width
        xs = [j + offset for j, (_, r) in enumerate(rows) if engine in r]
        ys = [r[engine]["ops_per_s"] for _, r in rows if engine in r]
        ax.bar(xs, ys, width, label=engine, color=colour[engine])
    if values and max(values) / max(min(values), 1e-9) > 30:
        ax.set_yscale("log")
    ax.set_xticks(range(len(rows)), [label for label, _ in rows], rotation=20, ha="right")
    ax.set_ylabel("operations / s (higher is better)")
    ax.set_title(f"Throughput per engine\n{subtitle}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    path = os.path.join(out_dir, "throughput.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def _latency(plt, rows, engines, colour, subtitle, out_dir) -> str:
    cols = min(3, len(rows))
    nrows = (len(rows) + cols - 1) // cols
    fig, axes = plt.subplots(
        nrows, cols, figsize=(3.6 * cols + 0.6, 2.9 * nrows + 0.9), dpi=100, squeeze=False
    )
    names = list(PERCENTILES)
    for ax, (workload, results) in zip(axes.flat, rows):
        for engine in engines:
            lat = results.get(engine, {}).get("latency_us", {}).get("all")
            if not lat or not lat.get("count"):
                continue
            ax.plot(
                names,
                [lat[f"{p}_us"] for p in names],
                marker="o",
                label=engine,
                color=colour[engine],
            )
        ax.set_yscale("log")
        ax.set_title(workload, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("latency, µs (lower is better)", fontsize=8)
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncols=min(len(labels), 5), fontsize=8)
    fig.suptitle(f"Latency percentiles, all operations of each workload\n{subtitle}", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path = os.path.join(out_dir, "latency.png")
    fig.savefig(path)
    plt.close(fig)
    return path
