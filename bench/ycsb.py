"""YCSB workloads A-F on DynamoDB items, embedded ShaleDB side by side with moto.

Items are YCSB's: 10 attributes ``field0..field9`` of 100 bytes (1 KB an item) in table
``usertable`` keyed by ``pk`` (S, the partition: ``user<k // 100>``) and ``sk`` (N, the
record number k), so workload E's short range scan is a Query of one partition from a
start key with Limit 1..100, the way a DynamoDB application scans short ranges.

    A 50% read / 50% update, zipfian        D 95% read latest / 5% insert
    B 95% read / 5% update, zipfian         E 95% short range Query / 5% insert, zipfian
    C 100% read, zipfian                    F 50% read / 50% read-modify-write, zipfian

Single-operation rates: PutItem, GetItem, UpdateItem with a condition, Query returning 100
items, BatchWriteItem of 25 items. Engines: "shale" (engine.connect, durability off),
"shale-sync" (durability sync, 8 threads; single-operation rates only) and "moto"
(moto's in-process mock through boto3; skipped if moto is not installed).

    python -m bench.ycsb --records 20000 --ops 20000 --json bench-results/ycsb.json \
        --markdown bench-results/ycsb.md
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable

FIELDS = 10
FIELD_BYTES = 100
PER_PARTITION = 100
WORKLOADS = "ABCDEF"
TABLE = "usertable"


def key(k: int) -> dict:
    return {"pk": {"S": f"user{k // PER_PARTITION}"}, "sk": {"N": str(k)}}


def item(k: int, rng: random.Random) -> dict:
    out = key(k)
    for i in range(FIELDS):
        out[f"field{i}"] = {"S": rng.randbytes(FIELD_BYTES // 2).hex()}
    return out


class Zipfian:
    """YCSB's scrambled zipfian (theta 0.99) over [0, n), by inverse CDF."""

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


def create(client) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def load(client, records: int, rng: random.Random) -> float:
    t0 = time.perf_counter()
    for start in range(0, records, 25):
        batch = [
            {"PutRequest": {"Item": item(k, rng)}} for k in range(start, min(records, start + 25))
        ]
        client.batch_write_item(RequestItems={TABLE: batch})
    return records / (time.perf_counter() - t0)


def run_workload(client, name: str, records: int, ops: int, seed: int) -> tuple[float, int]:
    rng = random.Random(seed)
    zipf = Zipfian(records, rng)
    inserted = records
    update_value = {":v": {"S": "u" * FIELD_BYTES}}
    t0 = time.perf_counter()
    for _ in range(ops):
        r = rng.random()
        if name == "D":
            if r < 0.05:
                client.put_item(TableName=TABLE, Item=item(inserted, rng))
                inserted += 1
            else:
                k = max(0, inserted - 1 - int(rng.expovariate(1 / 20)))
                client.get_item(TableName=TABLE, Key=key(k))
            continue
        if name == "E":
            if r < 0.05:
                client.put_item(TableName=TABLE, Item=item(inserted, rng))
                inserted += 1
            else:
                k = zipf.next()
                client.query(
                    TableName=TABLE,
                    KeyConditionExpression="pk = :p AND sk >= :s",
                    ExpressionAttributeValues={
                        ":p": {"S": f"user{k // PER_PARTITION}"},
                        ":s": {"N": str(k)},
                    },
                    Limit=rng.randint(1, 100),
                )
            continue
        k = zipf.next()
        read_share = {"A": 0.5, "B": 0.95, "C": 1.0, "F": 0.5}[name]
        if r < read_share:
            client.get_item(TableName=TABLE, Key=key(k))
        elif name == "F":
            client.get_item(TableName=TABLE, Key=key(k))
            client.update_item(
                TableName=TABLE,
                Key=key(k),
                UpdateExpression="SET field0 = :v",
                ExpressionAttributeValues=update_value,
            )
        else:
            client.update_item(
                TableName=TABLE,
                Key=key(k),
                UpdateExpression="SET field0 = :v",
                ExpressionAttributeValues=update_value,
            )
    return ops / (time.perf_counter() - t0), inserted


def _timed(fn: Callable[[int], None], n: int, threads: int = 1) -> float:
    if threads == 1:
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        return n / (time.perf_counter() - t0)
    per = n // threads

    def worker(w: int) -> None:
        for i in range(w * per, (w + 1) * per):
            fn(i)

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return per * threads / (time.perf_counter() - t0)


def single_ops(client, n: int, threads: int = 1) -> dict[str, float]:
    rng = random.Random(7)
    base = 10_000_000
    items = [item(base + i, rng) for i in range(n)]
    out = {}
    out["PutItem"] = _timed(lambda i: client.put_item(TableName=TABLE, Item=items[i]), n, threads)
    out["GetItem"] = _timed(
        lambda i: client.get_item(TableName=TABLE, Key=key(base + i)), n, threads
    )
    out["UpdateItem+condition"] = _timed(
        lambda i: client.update_item(
            TableName=TABLE,
            Key=key(base + i),
            UpdateExpression="SET field1 = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":v": {"S": "c" * FIELD_BYTES}},
        ),
        n,
        threads,
    )
    partitions = max(1, n // PER_PARTITION)
    queries = max(10, n // 50)

    def query(i: int) -> None:
        r = client.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={
                ":p": {"S": f"user{(base // PER_PARTITION) + i % partitions}"}
            },
        )
        assert r["Count"] == PER_PARTITION, r["Count"]

    out["Query(100 items)"] = _timed(query, queries, threads)
    batches = max(4, n // 25)
    extra = [item(base * 2 + i, rng) for i in range(batches * 25)]
    out["BatchWriteItem(25)"] = _timed(
        lambda b: client.batch_write_item(
            RequestItems={
                TABLE: [{"PutRequest": {"Item": it}} for it in extra[b * 25 : (b + 1) * 25]]
            }
        ),
        batches,
        threads,
    )
    return out


def shale_client(durability: str):
    import engine

    return engine.connect(tempfile.mkdtemp(prefix="ycsb-"), durability=durability)


def moto_client():
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None, None
    mock = mock_aws()
    mock.start()
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return client, mock


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--ops", type=int, default=20_000)
    ap.add_argument("--moto-records", type=int, default=2_000)
    ap.add_argument("--moto-ops", type=int, default=1_000)
    ap.add_argument("--single-ops", type=int, default=10_000)
    ap.add_argument("--engines", default="shale,shale-sync,moto")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args(argv)
    results: dict[str, dict] = {}
    for engine_name in args.engines.split(","):
        print(f"== {engine_name}", file=sys.stderr)
        mock = None
        if engine_name == "moto":
            client, mock = moto_client()
            if client is None:
                print("moto not installed: skipped", file=sys.stderr)
                continue
            records, ops, single = args.moto_records, args.moto_ops, max(200, args.moto_ops // 2)
        else:
            client = shale_client("sync" if engine_name == "shale-sync" else "off")
            records, ops, single = args.records, args.ops, args.single_ops
        res: dict = {"records": records, "ops": ops}
        try:
            create(client)
            if engine_name != "shale-sync":
                res["load"] = load(client, records, random.Random(1))
                for w in WORKLOADS:
                    rate, _ = run_workload(client, w, records, ops, seed=ord(w))
                    res[w] = rate
                    print(f"  {w}: {rate:,.0f} ops/s", file=sys.stderr)
                res["single"] = single_ops(client, single)
            else:
                res["single"] = single_ops(client, single, threads=8)
                res["threads"] = 8
            print(f"  single: {res['single']}", file=sys.stderr)
        finally:
            if mock is not None:
                mock.stop()
            elif hasattr(client, "close"):
                client.close()
        results[engine_name] = res
    md = render(results)
    print(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    return 0


def render(results: dict) -> str:
    lines = ["## YCSB (ops/s)", "", "| engine | records | load | " + " | ".join(WORKLOADS) + " |"]
    lines.append("|---" * (3 + len(WORKLOADS)) + "|")
    for name, r in results.items():
        if "A" not in r:
            continue
        cells = [f"{r[w]:,.0f}" for w in WORKLOADS]
        lines.append(
            f"| {name} | {r['records']:,} | {r['load']:,.0f} | " + " | ".join(cells) + " |"
        )
    ops = ["PutItem", "GetItem", "UpdateItem+condition", "Query(100 items)", "BatchWriteItem(25)"]
    lines += ["", "## Single operations (ops/s)", "", "| engine | " + " | ".join(ops) + " |"]
    lines.append("|---" * (1 + len(ops)) + "|")
    for name, r in results.items():
        label = name + (f" ({r['threads']} threads)" if "threads" in r else "")
        lines.append(f"| {label} | " + " | ".join(f"{r['single'][o]:,.0f}" for o in ops) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
