"""`python -m bench` (bench/harness.py) end to end on tiny sizes: every workload on every
engine installed here, results as JSON, markdown and charts, skips with reasons.

No timing asserts: only that every combination that applies produced a positive figure
and sane latency percentiles, that what was skipped says why, and that the outputs agree.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.harness import ALL_ENGINES, ALL_WORKLOADS
from bench.measure import Latencies, percentiles
from bench.progress import ProgressBar
from bench.ycsb import WORKLOADS as YCSB_WORKLOADS

REPO = Path(__file__).resolve().parents[2]
RECORDS = 200
OPS = 150
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(*args: str, env: dict | None = None, code: str | None = None):
    base = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    base.update(env or {})
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "bench", *args]
    return subprocess.run(
        cmd, cwd=REPO, env=base, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    proc = _run(
        "--engines",
        "all",
        "--workload",
        "all",
        "--records",
        str(RECORDS),
        "--ops",
        str(OPS),
        "--out",
        str(out / "results"),
        "--dir",
        str(out / "stores"),
        "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    return {
        "doc": json.loads((out / "results" / "results.json").read_text()),
        "markdown": (out / "results" / "results.md").read_text(),
        "out": out / "results",
        "stores": out / "stores",
        "stdout": proc.stdout,
        "stderr": proc.stderr,
    }


def applies(engine: str, workload: str) -> bool:
    from bench.harness import family_engines

    return engine in family_engines(ALL_WORKLOADS[workload][0])


def test_every_workload_ran_on_every_engine_it_applies_to(full_run):
    doc = full_run["doc"]
    meta = doc["meta"]
    assert meta["errors"] == {}
    assert {"shale", "sqlite", "shale-storage"} <= set(meta["engines"])  # always here
    for workload in ALL_WORKLOADS:
        for engine in meta["engines"]:
            if not applies(engine, workload) or workload == "rawsync":
                continue
            result = doc["results"][workload][engine]
            assert result["ops_per_s"] > 0, (engine, workload)
    for engine in meta["engines"]:
        if applies(engine, "ycsb-a"):
            assert doc["load"][engine]["records"] == RECORDS


def test_ycsb_latencies_are_recorded_per_operation(full_run):
    doc = full_run["doc"]
    for workload in YCSB_WORKLOADS:
        for engine, result in doc["results"][workload].items():
            lat = result["latency_us"]
            assert lat["all"]["count"] == OPS, (engine, workload)
            values = [lat["all"][k] for k in ("p50_us", "p95_us", "p99_us", "max_us")]
            assert values == sorted(values) and values[0] > 0
            kinds = set(lat) - {"all"}
            shares = YCSB_WORKLOADS[workload]
            expected = {
                k for k in ("read", "update", "insert", "scan", "rmw") if getattr(shares, k)
            }
            assert kinds <= expected, (engine, workload, kinds)
            assert sum(lat[k]["count"] for k in kinds) == OPS
    for engine, result in doc["results"]["ycsb-c"].items():
        assert result["reads_found"] == OPS, engine  # every key read exists, on every engine


def test_skipped_and_not_applicable_engines_say_why(full_run):
    meta = full_run["doc"]["meta"]
    assert set(meta["engines"]) | set(meta["skipped"]) == set(ALL_ENGINES)
    assert all(why for why in meta["skipped"].values())
    assert "kv" in meta["not_applicable"]["moto"]
    md = full_run["markdown"]
    for engine in meta["skipped"]:
        assert f"- {engine}: skipped (" in md
    assert "- moto: no kv workloads (" in md


def test_markdown_json_and_charts_agree(full_run):
    doc, md = full_run["doc"], full_run["markdown"]
    assert full_run["stdout"].strip() == md.strip()
    header = next(line for line in md.splitlines() if line.startswith("| workload | "))
    assert [c.strip() for c in header.strip("|").split("|")][1:] == doc["meta"]["engines"]
    rows = {line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ")}
    assert set(ALL_WORKLOADS) | {"ycsb load"} <= rows
    assert "Machine: " in md and doc["meta"]["machine"]["cpu_cores"] >= 1
    assert doc["meta"]["command"].startswith("python -m bench --engines all")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "charts skipped: matplotlib is not installed" in md
    else:
        for name in ("throughput.png", "latency.png"):
            assert (full_run["out"] / name).read_bytes().startswith(PNG_MAGIC)
            assert f"![{name}]({name})" in md
    assert list(full_run["stores"].iterdir()) == []


def test_charts_are_skipped_with_a_note_without_matplotlib(tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from bench.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = _run(
        "--engines", "sqlite", "--workload", "ycsb-c", "--records", "20", "--out",
        str(tmp_path), code=code,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]
    assert "charts skipped: matplotlib is not installed" in (tmp_path / "results.md").read_text()


def test_an_engine_that_cannot_run_here_is_skipped_not_an_error(tmp_path):
    env = {"PATH": os.path.dirname(sys.executable)}  # no node on this PATH
    proc = _run(
        "--engines", "sqlite,dynalite", "--workload", "ycsb-b", "--records", "20", "--out",
        str(tmp_path), env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert meta["skipped"] == {"dynalite": "node not found on PATH"}
    assert meta["engines"] == ["sqlite"]


def test_unknown_workload_is_a_usage_error_and_no_workload_lists():
    proc = _run("--workload", "ycsb-z")
    assert proc.returncode == 2 and "ycsb-z" in proc.stderr
    listing = _run()
    assert listing.returncode == 0
    for name in [*ALL_WORKLOADS, *ALL_ENGINES]:
        assert f"  {name} " in listing.stdout


def test_progress_bar_draws_on_request_and_always_ends_with_a_summary():
    stream = io.StringIO()
    bar = ProgressBar(1000, "[x] run", enabled=True, stream=stream)
    bar.update(1000)
    bar.close()
    text = stream.getvalue()
    assert "\r[x] run [" in text and "100%" in text and "1,000/1,000 ops" in text
    assert text.endswith("ops/s" + " " * 20 + "\n")
    quiet = io.StringIO()
    bar = ProgressBar(10, "[x] run", enabled=False, stream=quiet)
    bar.update(10)
    bar.close()
    assert quiet.getvalue().startswith("[x] run: 10 ops in ") and "\r" not in quiet.getvalue()


def test_percentiles_are_nearest_rank_in_microseconds():
    got = percentiles([i / 1e6 for i in range(1, 101)])  # 1..100 us
    assert got["count"] == 100
    assert (got["p50_us"], got["p90_us"], got["p99_us"], got["max_us"]) == pytest.approx(
        (50, 90, 99, 100)
    )
    assert got["p99.9_us"] == pytest.approx(100) and got["mean_us"] == pytest.approx(50.5)
    assert percentiles([]) == {"count": 0}
    lat = Latencies()
    lat.add("read", 1e-6)
    lat.add("update", 3e-6)
    summary = lat.summary()
    assert summary["all"]["count"] == 2 and summary["read"]["max_us"] == pytest.approx(1)


def test_max_seconds_stops_a_workload_early_and_says_so(tmp_path):
    from bench.ycsb import load, run_workload
    from bench.ycsb_engines import YCSB_ENGINES

    engine = YCSB_ENGINES["sqlite"]()
    engine.open(str(tmp_path))
    try:
        load(engine, 50, 1, "[sqlite]")
        result, inserted = run_workload(
            engine, YCSB_WORKLOADS["ycsb-d"], 50, 50, 1000, 1, "[sqlite]", max_seconds=0.0
        )
        assert result["stopped_early"] and result["ops"] == 0 and inserted == 50
        result, inserted = run_workload(engine, YCSB_WORKLOADS["ycsb-d"], 50, 50, 200, 1, "[x]")
        assert not result["stopped_early"] and result["ops"] == 200 and inserted > 50
    finally:
        engine.close()


def test_readme_shows_charts_made_by_the_harness_with_their_command():
    import re
    import shlex

    from bench.__main__ import make_harness_parser

    readme = (REPO / "README.md").read_text()
    section = readme.split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    images = re.findall(r"!\[[^\]]*\]\((docs/bench/[^)]+\.png)\)", section)
    assert images
    for image in images:
        assert (REPO / image).read_bytes().startswith(PNG_MAGIC), image
    report = (REPO / "docs/bench/results.md").read_text()
    command = re.search(r"^Command: `(python -m bench [^`]+)`", report, re.M).group(1)
    assert command in section  # the README names the command that made its charts
    args = make_harness_parser().parse_args(shlex.split(command)[3:])
    assert args.out == "docs/bench" and args.workloads


def test_kv_loops_run_in_chunks_under_a_bar_with_the_same_results(tmp_path, monkeypatch, capsys):
    import bench.engines as engines

    monkeypatch.setattr(engines, "PROGRESS_MIN_OPS", 10)
    monkeypatch.setattr(engines, "PROGRESS_CHUNK", 7)
    keys = [b"%016d" % i for i in range(100)]
    values = [b"v%099d" % i for i in range(100)]
    outcomes = {}
    for forced in ("0", "1"):
        monkeypatch.setenv("SHALE_BENCH_PROGRESS", forced)
        engine = engines.ENGINES["sqlite"]()
        path = tmp_path / forced
        path.mkdir()
        engine.open(str(path), durable=False)
        try:
            engine.fill(keys[:50], values[:50])
            engine.fill_batches(keys[50:], values[50:], 5)
            outcomes[forced] = (
                engine.read_random(keys[::-1]),
                engine.seek_random(keys[::10], 3),
                engine.read_seq(),
            )
        finally:
            engine.close()
    assert outcomes["0"] == outcomes["1"]
    assert outcomes["1"][0] == (100, sum(len(k) + len(v) for k, v in zip(keys, values)))
    err = capsys.readouterr().err
    assert "[sqlite] fill [" in err and "[sqlite] read_random [" in err
