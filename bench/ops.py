"""Single-operation rates of the DynamoDB API (issue 4's table): PutItem, GetItem, UpdateItem
with a condition, Query returning 100 items, BatchWriteItem of 25.

Items are YCSB's (10 attributes ``field0..field9`` of 100 bytes, 1 KB) keyed by ``pk`` (S,
``user<k // 100>``) and ``sk`` (N, k), so a partition holds 100 items and the Query returns
a whole one. Engines: ``shale`` (embedded, durability off, one thread), ``shale-sync``
(durability sync, 8 threads sharing one client) and ``moto`` (moto's in-process mock through
boto3, fewer operations; skipped with a note when moto is not installed).

    python -m bench.ops --ops 10000 --json bench-results/ops.json --markdown bench-results/ops.md
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import engine
from bench.report import save_outputs

TABLE = "usertable"
FIELDS = 10
FIELD_BYTES = 100
PER_PARTITION = 100
OPERATIONS = (
    "PutItem",
    "GetItem",
    "UpdateItem+condition",
    "Query(100 items)",
    "BatchWriteItem(25)",
)


def key(k: int) -> dict:
    return {"pk": {"S": f"user{k // PER_PARTITION}"}, "sk": {"N": str(k)}}


def item(k: int, rng: random.Random) -> dict:
    out = key(k)
    for i in range(FIELDS):
        out[f"field{i}"] = {"S": rng.randbytes(FIELD_BYTES // 2).hex()}
    return out


def table_params(name: str, *extra_attributes: tuple[str, str]) -> dict:
    """CreateTable parameters of an on-demand table keyed pk (S) / sk (N), with the
    (name, type) definitions of further key attributes (an index's)."""
    attributes = [("pk", "S"), ("sk", "N"), *extra_attributes]
    return dict(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes],
        BillingMode="PAY_PER_REQUEST",
    )


def create(client) -> None:
    client.create_table(**table_params(TABLE))


def timed(fn: Callable[[int], object], n: int, threads: int = 1) -> float:
    """Calls of ``fn(i)`` per second, ``i`` in [0, n) split over ``threads`` threads."""
    per = n // threads

    def worker(w: int) -> None:
        for i in range(w * per, (w + 1) * per):
            fn(i)

    if threads == 1:
        started = time.perf_counter()
        worker(0)
        return per / (time.perf_counter() - started)
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    started = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return per * threads / (time.perf_counter() - started)


def single_ops(client, n: int, threads: int = 1) -> dict[str, float]:
    """Each operation's rate on ``client`` (a table created by :func:`create`)."""
    rng = random.Random(7)
    n = max(n, PER_PARTITION, threads)
    items = [item(i, rng) for i in range(n)]
    out = {"PutItem": timed(lambda i: client.put_item(TableName=TABLE, Item=items[i]), n, threads)}
    out["GetItem"] = timed(lambda i: client.get_item(TableName=TABLE, Key=key(i)), n, threads)
    out["UpdateItem+condition"] = timed(
        lambda i: client.update_item(
            TableName=TABLE,
            Key=key(i),
            UpdateExpression="SET field1 = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":v": {"S": "c" * FIELD_BYTES}},
        ),
        n,
        threads,
    )
    partitions = n // PER_PARTITION

    def query(i: int) -> None:
        r = client.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"user{i % partitions}"}},
        )
        assert r["Count"] == PER_PARTITION, r["Count"]

    out["Query(100 items)"] = timed(query, max(threads, n // 20), threads)
    batches = max(threads, n // 25)
    extra = [item(n + i, rng) for i in range(batches * 25)]
    out["BatchWriteItem(25)"] = timed(
        lambda b: client.batch_write_item(
            RequestItems={
                TABLE: [{"PutRequest": {"Item": it}} for it in extra[b * 25 : (b + 1) * 25]]
            }
        ),
        batches,
        threads,
    )
    return out


def moto_client():
    """(boto3 client on moto's in-process mock, the mock) or (None, None) without moto."""
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None, None
    mock = mock_aws()
    mock.start()
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, mock


def run(engines: list[str], ops: int, moto_ops: int) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name in engines:
        print(f"== {name}", file=sys.stderr)
        if name == "moto":
            client, mock = moto_client()
            if client is None:
                print("   moto is not installed: skipped", file=sys.stderr)
                continue
            try:
                create(client)
                results[name] = {"threads": 1, "rates": single_ops(client, moto_ops)}
            finally:
                mock.stop()
            continue
        threads = 8 if name == "shale-sync" else 1
        with tempfile.TemporaryDirectory(prefix="ops-") as d:
            client = engine.connect(d, durability="sync" if name == "shale-sync" else "off")
            try:
                create(client)
                results[name] = {"threads": threads, "rates": single_ops(client, ops, threads)}
            finally:
                client.close()
    return results


def render(results: dict[str, dict]) -> str:
    lines = ["| ops/s | " + " | ".join(OPERATIONS) + " |", "|---" * (1 + len(OPERATIONS)) + "|"]
    for name, r in results.items():
        label = name + (f", {r['threads']} threads" if r["threads"] > 1 else "")
        cells = " | ".join(f"{r['rates'][o]:,.0f}" for o in OPERATIONS)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.ops",
        description="Single-operation rates of the DynamoDB API: embedded ShaleDB (durability "
        "off, and sync with 8 threads) beside moto in-process through boto3.",
    )
    ap.add_argument("--ops", type=int, default=10_000, help="operations of each kind (shale)")
    ap.add_argument("--moto-ops", type=int, default=500, help="operations of each kind (moto)")
    ap.add_argument("--engines", default="shale,shale-sync,moto", help="comma-separated")
    ap.add_argument("--json", help="write the rates as JSON here")
    ap.add_argument("--markdown", help="write the table here")
    args = ap.parse_args(argv)
    results = run(args.engines.split(","), args.ops, args.moto_ops)
    text = render(results)
    print(text)
    save_outputs(results, text, json_path=args.json, markdown_path=args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
