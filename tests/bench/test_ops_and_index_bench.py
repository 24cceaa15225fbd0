"""bench.ops and bench.index run end to end on tiny sizes (no timing assertions)."""

import json

from bench import index as index_bench
from bench import ops as ops_bench


def test_single_operation_rates_run_on_every_shale_engine(tmp_path):
    out = tmp_path / "ops.json"
    assert (
        ops_bench.main(["--ops", "200", "--engines", "shale,shale-sync", "--json", str(out)]) == 0
    )
    results = json.loads(out.read_text())
    assert set(results) == {"shale", "shale-sync"}
    assert results["shale-sync"]["threads"] == 8
    for r in results.values():
        assert set(r["rates"]) == set(ops_bench.OPERATIONS)
        assert all(rate > 0 for rate in r["rates"].values())


def test_index_benchmark_runs(tmp_path):
    out = tmp_path / "index.json"
    args = [
        "--records",
        "300",
        "--query-rounds",
        "20",
        "--backfill-records",
        "500",
        "--repeat",
        "1",
    ]
    assert index_bench.main([*args, "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert set(r["put_items_per_s"]) == {"0", "1", "5", "20"}
    assert r["backfill"]["items"] == 500
    assert r["query_100_items_per_s"]["gsi"] > 0
