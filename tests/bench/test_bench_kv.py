"""`python -m bench kv` end to end on a tiny size, for every engine installed here.

No timing asserts: only that every workload produced a positive figure for every engine that
ran, that the JSON and markdown agree in shape, and that the inputs are what the brief says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.engines import ENGINES
from bench.kv import (
    ENGINE_WORKLOADS,
    KEY_SIZE_BYTES,
    VALUE_SIZE_BYTES,
    WORKLOADS,
    make_key,
    make_value_pool,
    make_values,
)

REPO = Path(__file__).resolve().parents[2]
RECORDS = 2000


def _run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def kv_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("kv")
    stores = out / "stores"
    proc = _run_bench(
        "kv",
        "--records",
        str(RECORDS),
        "--json",
        str(out / "kv.json"),
        "--markdown",
        str(out / "kv.md"),
        "--dir",
        str(stores),
    )
    assert proc.returncode == 0, proc.stderr
    return {
        "doc": json.loads((out / "kv.json").read_text()),
        "markdown": (out / "kv.md").read_text(),
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "stores": stores,
    }


def test_every_engine_that_ran_has_a_positive_figure_for_every_workload(kv_run: dict) -> None:
    doc = kv_run["doc"]
    ran = doc["meta"]["engines"]
    assert "sqlite" in ran  # stdlib: always available
    assert doc["meta"]["errors"] == {}
    for engine in ran:
        for workload in ENGINE_WORKLOADS:
            assert doc[engine][workload] > 0, (engine, workload)
            assert doc[engine]["mb_per_s"][workload] > 0, (engine, workload)
        assert doc[engine]["space_amplification"] > 0
        if doc[engine]["write_amplification"] is not None:
            assert doc[engine]["write_amplification"] > 0
    assert doc["raw"]["rawsync"] > 0


def test_engines_not_run_are_listed_as_skipped_with_a_reason(kv_run: dict) -> None:
    meta = kv_run["doc"]["meta"]
    assert set(meta["engines"]) | set(meta["skipped"]) == set(ENGINES)
    assert all(reason for reason in meta["skipped"].values())
    for engine in meta["skipped"]:
        assert engine not in kv_run["doc"]
        assert f"- {engine}: skipped" in kv_run["markdown"]


def test_reads_see_every_key_after_fill_overwrite_and_compaction(kv_run: dict) -> None:
    details = kv_run["doc"]["meta"]["details"]
    for engine in kv_run["doc"]["meta"]["engines"]:
        results = details[engine]["results"]
        assert results["readrandom"]["found"] == RECORDS
        assert results["readseq"]["ops"] == RECORDS
        assert results["seekrandom"]["ops"] == RECORDS // 10
        assert results["fillsync"]["ops"] == RECORDS  # min(N, 20000)
        amp = details[engine]["amplification"]
        assert amp["user_bytes_written"] == 2 * RECORDS * (KEY_SIZE_BYTES + VALUE_SIZE_BYTES)


def test_markdown_table_has_a_row_per_workload_and_a_column_per_engine(kv_run: dict) -> None:
    md = kv_run["markdown"]
    assert kv_run["stdout"].strip() == md.strip()
    header = next(line for line in md.splitlines() if line.startswith("| workload |"))
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    assert columns == [*kv_run["doc"]["meta"]["engines"], "raw"]
    rows = {line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ")}
    assert set(WORKLOADS) <= rows
    assert {"write amplification", "space amplification"} <= rows
    assert "Machine: " in md


def test_machine_description_and_versions_are_recorded(kv_run: dict) -> None:
    meta = kv_run["doc"]["meta"]
    machine = meta["machine"]
    assert machine["cpu_cores"] >= 1
    assert machine["python"].split()[-1] == ".".join(map(str, sys.version_info[:3]))
    assert "SQLite" in meta["versions"]


def test_progress_goes_to_stderr_and_stores_are_removed(kv_run: dict) -> None:
    assert "[sqlite] fillseq:" in kv_run["stderr"]
    assert list(kv_run["stores"].iterdir()) == []


def test_no_arguments_lists_commands_workloads_and_engines() -> None:
    proc = _run_bench()
    assert proc.returncode == 0, proc.stderr
    for name in ["kv", *WORKLOADS, *ENGINES]:
        assert f"  {name} " in proc.stdout


def test_unknown_engine_is_a_usage_error() -> None:
    proc = _run_bench("kv", "--records", "10", "--engines", "sqlite,nosuchdb")
    assert proc.returncode == 2
    assert "nosuchdb" in proc.stderr


def test_keys_are_16_byte_zero_padded_decimal() -> None:
    assert make_key(0) == b"0000000000000000"
    assert make_key(1234567) == b"0000000001234567"
    assert len(make_key(10**15)) == KEY_SIZE_BYTES


def test_values_are_half_compressible_and_deterministic() -> None:
    pool = make_value_pool(7)
    values = make_values(pool, 0, 50)
    assert values == make_values(make_value_pool(7), 0, 50)
    assert values != make_values(make_value_pool(8), 0, 50)
    half = VALUE_SIZE_BYTES // 2
    for v in values:
        assert len(v) == VALUE_SIZE_BYTES
        assert v[:half] == v[half:]
    assert len(set(values)) == len(values)
