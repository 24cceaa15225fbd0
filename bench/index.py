"""Secondary index costs: PutItem with 0, 1, 5 and 20 GSIs, Query on a GSI against Query on
the table, and the backfill rate of a GSI created over a loaded table.

Items are about 200 bytes: ``pk`` (S), ``sk`` (N), ``g0..g19`` (S, 6 bytes each; GSI i is
keyed on ``gi``) and a 60-byte payload. Embedded ShaleDB, durability off, one thread; each
measurement runs on a fresh table. The issue's targets: each additional GSI adds at most
30% of an unindexed PutItem's cost; a backfill of 1M items ends within 2 minutes.

    python -m bench.index --records 20000 --backfill-records 1000000 \
        --json bench-results/index.json --markdown bench-results/index.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time

import engine
from bench.ops import table_params
from bench.report import save_outputs

TABLE = "bench"
PER_PARTITION = 100


def _progress(label: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{label:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def create(client, gsis: int, projection: str) -> None:
    params = table_params(TABLE, *((f"g{i}", "S") for i in range(gsis)))
    if gsis:
        params["GlobalSecondaryIndexes"] = [
            {
                "IndexName": f"gsi{i}",
                "KeySchema": [
                    {"AttributeName": f"g{i}", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": projection},
            }
            for i in range(gsis)
        ]
    client.create_table(**params)


def item(n: int) -> dict:
    it = {
        "pk": {"S": f"user{n // PER_PARTITION}"},
        "sk": {"N": str(n)},
        "payload": {"S": "x" * 60},
    }
    for i in range(20):
        it[f"g{i}"] = {"S": f"v{(n * (i + 7)) % 997:05d}"[:6]}
    return it


def put_rate(records: int, gsis: int, projection: str) -> float:
    """PutItem/s into a fresh table with ``gsis`` GSIs."""
    with tempfile.TemporaryDirectory() as d:
        client = engine.connect(d, durability="off")
        try:
            create(client, gsis, projection)
            items = [item(n) for n in range(records)]
            put = client.put_item
            started = time.perf_counter()
            for n, it in enumerate(items):
                put(TableName=TABLE, Item=it)
                if n % 1000 == 0:
                    _progress(f"put, {gsis} GSIs {projection}", n, records)
            elapsed = time.perf_counter() - started
            _progress(f"put, {gsis} GSIs {projection}", records, records)
        finally:
            client.close()
    return records / elapsed


def query_rates(records: int, rounds: int) -> dict[str, float]:
    """Query/s returning 100 items: from the table's partition and from a GSI partition."""
    with tempfile.TemporaryDirectory() as d:
        client = engine.connect(d, durability="off")
        try:
            create(client, 0, "ALL")
            client.update_table(
                TableName=TABLE,
                AttributeDefinitions=[{"AttributeName": "grp", "AttributeType": "S"}],
                GlobalSecondaryIndexUpdates=[
                    {
                        "Create": {
                            "IndexName": "by_grp",
                            "KeySchema": [
                                {"AttributeName": "grp", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    }
                ],
            )
            for n in range(records):
                # grp spreads each base partition over many GSI partitions of 100 items
                it = dict(item(n), grp={"S": f"grp{(n * 7919) % records // PER_PARTITION}"})
                client.put_item(TableName=TABLE, Item=it)
            client.service.ctx.indexes.wait_backfills(600)
            parts = records // PER_PARTITION
            out = {}
            for label, index, attr in (("table", None, "pk"), ("gsi", "by_grp", "grp")):
                prefix = "user" if index is None else "grp"
                params = {"TableName": TABLE, "KeyConditionExpression": f"{attr} = :v"}
                if index is not None:
                    params["IndexName"] = index
                started = time.perf_counter()
                for r in range(rounds):
                    v = {":v": {"S": f"{prefix}{(r * 31) % parts}"}}
                    got = client.query(**params, ExpressionAttributeValues=v)
                    assert got["Count"] == PER_PARTITION, got["Count"]
                out[label] = rounds / (time.perf_counter() - started)
            return out
        finally:
            client.close()


def backfill_rate(records: int) -> dict[str, float]:
    """Items/s a GSI created over ``records`` loaded items is backfilled at."""
    with tempfile.TemporaryDirectory() as d:
        client = engine.connect(d, durability="off")
        try:
            create(client, 0, "ALL")
            batch = []
            for n in range(records):
                batch.append({"PutRequest": {"Item": item(n)}})
                if len(batch) == 25:
                    client.batch_write_item(RequestItems={TABLE: batch})
                    batch = []
                if n % 10000 == 0:
                    _progress("load", n, records)
            if batch:
                client.batch_write_item(RequestItems={TABLE: batch})
            _progress("load", records, records)
            indexes = client.service.ctx.indexes
            before = indexes.backfilled_items
            started = time.perf_counter()
            client.update_table(
                TableName=TABLE,
                AttributeDefinitions=[{"AttributeName": "g0", "AttributeType": "S"}],
                GlobalSecondaryIndexUpdates=[
                    {
                        "Create": {
                            "IndexName": "late",
                            "KeySchema": [{"AttributeName": "g0", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    }
                ],
            )
            while True:
                desc = client.describe_table(TableName=TABLE)["Table"]
                if desc["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE":
                    break
                _progress("backfill", indexes.backfilled_items - before, records)
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            _progress("backfill", records, records)
            count = desc["GlobalSecondaryIndexes"][0]["ItemCount"]
            assert count == records, count
            return {"items": records, "seconds": elapsed, "items_per_s": records / elapsed}
        finally:
            client.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.index",
        description="Secondary index costs on embedded ShaleDB: PutItem with 0/1/5/20 GSIs, "
        "Query on a GSI vs the table, GSI backfill rate.",
    )
    ap.add_argument("--records", type=int, default=20000, help="items per PutItem run")
    ap.add_argument("--query-rounds", type=int, default=2000, help="Queries per measurement")
    ap.add_argument(
        "--backfill-records", type=int, default=100000, help="items loaded before the backfill"
    )
    ap.add_argument("--projection", default="ALL", choices=["ALL", "KEYS_ONLY"])
    ap.add_argument("--repeat", type=int, default=3, help="PutItem runs per GSI count (median)")
    ap.add_argument("--json", help="write results as JSON here")
    ap.add_argument("--markdown", help="write a markdown table here")
    args = ap.parse_args(argv)

    counts = (0, 1, 5, 20)
    runs: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(args.repeat):  # rounds of every count, so drift in the machine hits all
        for n in counts:
            runs[n].append(put_rate(args.records, n, args.projection))
    # the median run of each count: one noisy run moves nothing
    puts = {n: sorted(rates)[len(rates) // 2] for n, rates in runs.items()}
    base_cost = 1 / puts[0]
    per_gsi = {
        n: ((1 / puts[n]) - base_cost) / n / base_cost for n in (1, 5, 20)
    }  # extra cost of each GSI, as a fraction of an unindexed put
    queries = query_rates(
        max(2 * PER_PARTITION, args.records // PER_PARTITION * PER_PARTITION), args.query_rounds
    )
    backfill = backfill_rate(args.backfill_records)
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "records": args.records,
        "projection": args.projection,
        "put_items_per_s": puts,
        "put_runs_per_s": runs,
        "cost_per_gsi_fraction": per_gsi,
        "query_100_items_per_s": queries,
        "backfill": backfill,
    }
    lines = [
        f"PutItem/s, {args.records} items of ~200 B, projection {args.projection}, "
        f"durability off, one thread, median of {args.repeat} runs:",
        "",
        "| GSIs | PutItem/s | extra cost per GSI (of an unindexed put) |",
        "|---|---|---|",
    ]
    for n, rate in puts.items():
        extra = "-" if n == 0 else f"{per_gsi[n]:.0%}"
        lines.append(f"| {n} | {rate:,.0f} | {extra} |")
    lines += [
        "",
        "| Query returning 100 items | ops/s |",
        "|---|---|",
        f"| table partition | {queries['table']:,.0f} |",
        f"| GSI partition | {queries['gsi']:,.0f} |",
        "",
        f"Backfill of {backfill['items']:,} items: {backfill['seconds']:.1f} s "
        f"({backfill['items_per_s']:,.0f} items/s).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    save_outputs(result, text, json_path=args.json, markdown_path=args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
